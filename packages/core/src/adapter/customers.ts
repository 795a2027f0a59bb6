/** A customer as an adapter found it in a vendor's records: the ids Remit keys on, and the facts. */
export interface VendorCustomer {
  accountId: string
  contactId?: string
  email?: string
  facts: Record<string, unknown>
}

export interface CustomerCacheOptions {
  /** How long a lookup answers for its record (default 30 s: a burst of enrollments costs one). */
  ttlMs?: number
  /** Most records kept; past it the oldest is dropped (default 10,000), so memory stays bounded. */
  max?: number
  now?: () => number
}

/**
 * Lookups of vendor records (by type and id), shared while fresh: concurrent and repeated asks for one record within
 * `ttlMs` cost one `load`. A failed load is forgotten at once (the next ask tries again). The first
 * inserted entry is the oldest, so a Map in insertion order is the eviction queue.
 */
export function customerCache<K extends string, T = VendorCustomer>(
  load: (type: K, id: string) => Promise<T>,
  o: CustomerCacheOptions = {},
): (type: K, id: string) => Promise<T> {
  const ttlMs = o.ttlMs ?? 30_000
  const max = Math.max(1, o.max ?? 10_000)
  const now = o.now ?? Date.now
  const entries = new Map<string, { until: number; value: Promise<T> }>()
  return (type, id) => {
    const key = `${type}:${id}`
    const hit = entries.get(key)
    if (hit && hit.until > now()) return hit.value
    entries.delete(key)
    while (entries.size >= max) entries.delete(entries.keys().next().value as string)
    const value = load(type, id)
    entries.set(key, { until: now() + ttlMs, value })
    value.catch(() => {
      if (entries.get(key)?.value === value) entries.delete(key)
    })
    return value
  }
}
