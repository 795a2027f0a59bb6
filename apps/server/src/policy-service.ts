import { type FSWatcher, watch } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { checkPolicy, type PolicyIssue, type Remit } from '@remit/core'
import type { PolicySync } from '@remit/core/internal'
import type { FastifyBaseLogger } from 'fastify'
import type { Metrics } from './metrics.ts'

export type ReloadResult =
  | { ok: true; version: string; changed: boolean }
  | { ok: false; issues: PolicyIssue[] }

/**
 * The policy in service: reloaded when its file changes or an admin asks. A policy that does not
 * load never replaces the one in service; the refusal is logged and kept for the admin to see.
 */
export class PolicyService {
  loadedAt = new Date()
  lastRefusal: { at: Date; issues: PolicyIssue[] } | undefined
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly remit: Remit
  private readonly path: string
  private readonly log: FastifyBaseLogger
  private readonly metrics: Metrics
  /** The store's policies (a promoted live version, the candidate), shared by every instance on it. */
  readonly sync: PolicySync | undefined

  constructor(remit: Remit, path: string, log: FastifyBaseLogger, metrics: Metrics, sync?: PolicySync) {
    this.remit = remit
    this.sync = sync
    this.path = path
    this.log = log
    this.metrics = metrics
    metrics.policyInfo.set({ version: remit.policy.version }, 1)
  }

  async reload(): Promise<ReloadResult> {
    if (this.sync?.promoted)
      return this.refuse([
        {
          severity: 'error',
          code: 'POLICY_PROMOTED',
          message: `a promoted policy (${this.remit.policy.version}) is in service on every instance: the file is not reloaded`,
          path: [],
          hint: 'change it through a candidate: remit candidate set next.yaml, then remit promote',
        },
      ])
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      const issues: PolicyIssue[] = [
        { severity: 'error', code: 'POLICY_UNREADABLE', message: (error as Error).message, path: [] },
      ]
      return this.refuse(issues)
    }
    const result = checkPolicy(text, { file: this.path })
    if (!result.policy) return this.refuse(result.issues)
    const previous = this.remit.policy.version
    const changed = result.policy.version !== previous
    if (changed) {
      this.remit.setPolicy(result.policy)
      this.metrics.policyInfo.reset()
      this.metrics.policyInfo.set({ version: result.policy.version }, 1)
      this.loadedAt = new Date()
      this.log.info(
        { version: result.policy.version, previous, warnings: result.issues.length },
        'policy reloaded',
      )
    }
    this.lastRefusal = undefined
    this.metrics.policyReloads.inc({ result: 'ok' })
    return { ok: true, version: result.policy.version, changed }
  }

  private refuse(issues: PolicyIssue[]): ReloadResult {
    this.lastRefusal = { at: new Date(), issues }
    this.metrics.policyReloads.inc({ result: 'refused' })
    this.log.error(
      { version: this.remit.policy.version, issues: issues.filter((i) => i.severity === 'error') },
      'policy reload refused: the policy in service stays',
    )
    return { ok: false, issues }
  }

  /** Watches the file's directory (editors replace files rather than write them in place). */
  watch(debounceMs = 200): void {
    const name = basename(this.path)
    this.watcher = watch(dirname(this.path), (_event, file) => {
      if (file !== name) return
      clearTimeout(this.timer)
      this.timer = setTimeout(() => void this.reload(), debounceMs)
    })
    this.watcher.on('error', (error) =>
      this.log.warn({ err: error }, 'policy file watch failed; reload by admin call'),
    )
    this.watcher.unref()
  }

  close(): void {
    clearTimeout(this.timer)
    this.watcher?.close()
  }
}
