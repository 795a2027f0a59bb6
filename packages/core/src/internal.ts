/**
 * `@remit/core/internal` — @internal. What Remit's own server, stores and adapters share with the
 * engine: the wire converters, request resolution, the rules every store applies alike. Not for
 * users' code: it may change in any release.
 *
 * @internal
 */
export {
  commitmentToWire,
  decisionRecordToWire,
  reviewToWire,
  suppressionToWire,
  timelineToWire,
  touchToWire,
} from './api/convert.ts'
export { parseCandidateDiff } from './candidate/diff.ts'
export { type CandidateReport, candidateReport } from './candidate/report.ts'
export {
  candidateDiffs,
  clearCandidate,
  missingSignOffs,
  POLICY_STATE_KEY,
  type PolicyHistoryEntry,
  type PolicyState,
  PolicySync,
  promote,
  readPolicyState,
  rollback,
  type SignOff,
  setCandidate,
  signOff,
  teamsToSignOff,
} from './candidate/state.ts'
export { decisionToWire } from './decision/decision.ts'
export { inputErrorFromZod, requestOf, resolveCaller, resolveRequest } from './decision/request.ts'
export { MAX_IDENTITIES, personOf, samePerson } from './ledger/identity.ts'
export { deliveredAlready, outboxMessage, parseOutbox, retried, settle } from './outbox/outbox.ts'
export { PolicySource } from './policy/source.ts'
export { closest } from './policy/suggest.ts'
export { newSuppression } from './remit.ts'
export {
  candidateDiffFilterSql,
  decisionFilterSql,
  type FilterSql,
  outboxFilterSql,
  reviewFilterSql,
  type SqlDialect,
  suppressionFilterSql,
} from './store/filters.ts'
export { nodeSqlite } from './store/node-sqlite.ts'
export { commitmentFromRow, type Row, type RowReader, touchFromRow } from './store/rows.ts'
export { checkTransition, replayOf, timelineLimit } from './store/rules.ts'
