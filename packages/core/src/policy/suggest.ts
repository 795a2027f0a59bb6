// "Did you mean …?": the nearest of the names a policy or a request knows, for every error that
// names an unknown one (policy loading, requests). One place, so every hint reads alike.

/**
 * The candidate nearest to `name` (edit distance, any case), if any is near enough to be a typo: a
 * name is never "near" one it shares no letter with (`tz` is not a typo of `id`).
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.min(Math.max(2, Math.floor(name.length / 3)) + 1, name.length)
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}

/** `did you mean "x"?` for the nearest known name, or undefined when none is near. */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  return suggestion(closest(name, known))
}

/** The hint naming what the author likely meant, for callers that find it their own way. */
export function suggestion(meant: string | undefined): string | undefined {
  return meant ? `did you mean "${meant}"?` : undefined
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number
      row[j] = Math.min(tmp + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length] as number
}
