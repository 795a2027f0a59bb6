import { createHash, createHmac, timingSafeEqual } from 'node:crypto'

// HubSpot request signatures, as "Validating requests from HubSpot" and "v2 request validation"
// (developers.hubspot.com) document them. v2 carries no timestamp: a captured v2 request verifies
// whenever it is replayed — the decision's idempotency key (the callback id) makes a replay answer
// the first decision instead of deciding again.

const MAX_AGE_MS = 5 * 60 * 1000

export interface SignedRequest {
  method: string
  /** The full URL HubSpot called, e.g. https://remit.example.com/hubspot/action?x=1 */
  url: string
  rawBody: string
  headers: Record<string, string | string[] | undefined>
}

export type SignatureCheck = { ok: true; version: 'v3' | 'v2' } | { ok: false; reason: string }

const header = (h: SignedRequest['headers'], name: string) => {
  const v = h[name] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1]
  return Array.isArray(v) ? v[0] : v
}

/** HubSpot decodes these in the URI before signing (v3). */
const DECODE: Record<string, string> = {
  '%3A': ':',
  '%2F': '/',
  '%3F': '?',
  '%40': '@',
  '%21': '!',
  '%24': '$',
  '%27': "'",
  '%28': '(',
  '%29': ')',
  '%2A': '*',
  '%2C': ',',
  '%3B': ';',
}
function decodeUri(url: string): string {
  return url.replace(/%[0-9A-F]{2}/gi, (m) => DECODE[m.toUpperCase()] ?? m)
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * v3: base64 HMAC-SHA256, keyed with the app's client secret, of method + decoded URI + body +
 * timestamp; timestamps older than five minutes are refused. v2 (sent by some workflow action
 * requests): hex SHA-256 of client secret + method + URI + body.
 */
export function verifyHubSpotSignature(
  req: SignedRequest,
  clientSecret: string,
  now = Date.now(),
): SignatureCheck {
  const v3 = header(req.headers, 'x-hubspot-signature-v3')
  if (v3) {
    const timestamp = header(req.headers, 'x-hubspot-request-timestamp')
    const at = Number(timestamp)
    if (!timestamp || !Number.isFinite(at))
      return { ok: false, reason: 'missing X-HubSpot-Request-Timestamp' }
    if (now - at > MAX_AGE_MS) return { ok: false, reason: 'timestamp older than 5 minutes' }
    // HubSpot refuses only old timestamps; one from the future would let a captured request be
    // replayed until then, so it is refused past the same window.
    if (at - now > MAX_AGE_MS) return { ok: false, reason: 'timestamp more than 5 minutes ahead' }
    const expected = createHmac('sha256', clientSecret)
      .update(`${req.method.toUpperCase()}${decodeUri(req.url)}${req.rawBody}${timestamp}`)
      .digest('base64')
    return same(expected, v3)
      ? { ok: true, version: 'v3' }
      : { ok: false, reason: 'X-HubSpot-Signature-v3 does not match' }
  }
  const v2 = header(req.headers, 'x-hubspot-signature')
  const version = header(req.headers, 'x-hubspot-signature-version')
  if (v2 && (version ?? 'v2').toLowerCase() === 'v2') {
    const expected = createHash('sha256')
      .update(`${clientSecret}${req.method.toUpperCase()}${req.url}${req.rawBody}`)
      .digest('hex')
    return same(expected, v2)
      ? { ok: true, version: 'v2' }
      : { ok: false, reason: 'X-HubSpot-Signature (v2) does not match' }
  }
  return { ok: false, reason: 'unsigned: no X-HubSpot-Signature-v3 or v2 header' }
}

/** Signs like HubSpot (for tests and local tools). */
export function signV3(req: Omit<SignedRequest, 'headers'>, clientSecret: string, timestamp = Date.now()) {
  return {
    'x-hubspot-signature-v3': createHmac('sha256', clientSecret)
      .update(`${req.method.toUpperCase()}${decodeUri(req.url)}${req.rawBody}${timestamp}`)
      .digest('base64'),
    'x-hubspot-request-timestamp': String(timestamp),
  }
}

export function signV2(req: Omit<SignedRequest, 'headers'>, clientSecret: string) {
  return {
    'x-hubspot-signature': createHash('sha256')
      .update(`${clientSecret}${req.method.toUpperCase()}${req.url}${req.rawBody}`)
      .digest('hex'),
    'x-hubspot-signature-version': 'v2',
  }
}
