import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

/** Prometheus metrics of one server (its own registry, so several servers can live in one process). */
export function createMetrics(pendingReviews: () => Promise<number>) {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'remit_process_' })
  return {
    registry,
    decisions: new Counter({
      name: 'remit_decisions_total',
      help: 'Decisions made, by verdict and team',
      labelNames: ['verdict', 'team'] as const,
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: 'remit_decision_seconds',
      help: 'Time to decide and reserve, as the API saw it',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'remit_http_requests_total',
      help: 'HTTP requests, by route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    policyReloads: new Counter({
      name: 'remit_policy_reloads_total',
      help: 'Policy reloads, by result (a refused reload keeps the policy in service)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    policyInfo: new Gauge({
      name: 'remit_policy_info',
      help: 'The policy in service (value 1), by version',
      labelNames: ['version'] as const,
      registers: [registry],
    }),
    decisionLogErrors: new Counter({
      name: 'remit_decision_log_errors_total',
      help: 'Lines the decision log failed to take (the decisions were answered all the same)',
      registers: [registry],
    }),
    pending: new Gauge({
      name: 'remit_reviews_pending',
      help: 'Flags waiting for a human',
      registers: [registry],
      async collect() {
        this.set(await pendingReviews())
      },
    }),
  }
}
export type Metrics = ReturnType<typeof createMetrics>
