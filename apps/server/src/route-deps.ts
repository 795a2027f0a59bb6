import type { Remit } from '@remit/core'
import type { KeyRing } from './keys.ts'
import type { Metrics } from './metrics.ts'
import type { PolicyService } from './policy-service.ts'

// What every route's handler is given: apart from routes.ts so that route files it gathers
// (candidate-routes.ts) can name it without importing routes.ts back.

export interface RouteDeps {
  remit: Remit
  /** The server's clock: it, not the caller, says when a live decision is made. */
  clock: () => Date
  /** How far an agent's `at` may be from the server's clock, ms. */
  clockSkewMs: number
  policy: PolicyService
  keys: KeyRing
  metrics: Metrics
  /** Creates a key and stores its hash (admin key management). */
  createKey?: (entry: {
    name: string
    agent?: string
    tool?: string
    reviewer?: string
    admin?: true
  }) => Promise<string>
}
