import { generateKeyPairSync, sign } from 'node:crypto'

// SendGrid's side of a signed Event Webhook delivery, for tests and benchmarks: SendGrid signs
// `timestamp + raw body` with ECDSA P-256 / SHA-256 and sends the base64 DER signature and the
// timestamp in X-Twilio-Email-Event-Webhook-Signature / -Timestamp ("Getting started with the Event
// Webhook security features"). Each signer has its own key pair; the receiver is given its public key.
export function eventSigner() {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return {
    /** The verification key as SendGrid's Mail Settings show it (base64 DER). */
    publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    /** The headers SendGrid sends with `body`, signed at `timestamp` (seconds; default now). */
    signed: (body: string, timestamp = String(Math.floor(Date.now() / 1000))) => ({
      'x-twilio-email-event-webhook-signature': sign(
        'sha256',
        Buffer.from(timestamp + body),
        privateKey,
      ).toString('base64'),
      'x-twilio-email-event-webhook-timestamp': timestamp,
    }),
  }
}
