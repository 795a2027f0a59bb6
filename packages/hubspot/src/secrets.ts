import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

// Refresh tokens are kept in Remit's store encrypted at rest: AES-256-GCM under a key that lives only
// in the environment (REMIT_SECRET_KEY), never in the store. Each value is bound to the key it is
// stored under (additional authenticated data), so a sealed token copied to another portal's slot
// does not open.

/** The secret key is missing or is not 32 bytes in base64. */
export class SecretKeyError extends Error {
  readonly code = 'SECRET_KEY_INVALID'
  constructor(message: string) {
    super(`${message}; make one with: openssl rand -base64 32`)
    this.name = 'SecretKeyError'
  }
}

/** A 32-byte key from its base64 text (e.g. `process.env.REMIT_SECRET_KEY`). */
export function secretKey(base64: string | undefined): Buffer {
  if (!base64) throw new SecretKeyError('REMIT_SECRET_KEY is not set')
  const key = Buffer.from(base64.trim(), 'base64')
  if (key.length !== 32)
    throw new SecretKeyError(`REMIT_SECRET_KEY must be 32 bytes in base64, got ${key.length}`)
  return key
}

/** `v1.<iv>.<tag>.<ciphertext>`, each base64url. */
export function seal(key: Buffer, plaintext: string, boundTo: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(boundTo))
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return ['v1', iv, cipher.getAuthTag(), data]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.')
}

/** The plaintext, or an error when the value was sealed under another key or for another slot. */
export function unseal(key: Buffer, sealed: string, boundTo: string): string {
  const [version, iv, tag, data] = sealed.split('.')
  if (version !== 'v1' || !iv || !tag || data === undefined) throw new Error('not a sealed value')
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(boundTo))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  try {
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8')
  } catch {
    throw new Error('the sealed value does not open with this REMIT_SECRET_KEY (was the key changed?)')
  }
}
