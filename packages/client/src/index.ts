export type {
  DecisionRecordWire,
  DecisionRequest,
  DecisionWire,
  Preview,
  Reason,
  ReviewWire,
  TimelineWire,
  TouchRequest,
  TouchWire,
  Verdict,
} from '@remit/core/api'
export {
  type ClientOptions,
  createClient,
  type DecideResult,
  RemitClient,
  RemitError,
  RemitUnreachableError,
} from './client.ts'
