export {
  type ClientOptions,
  createClient,
  type DecideResult,
  RemitClient,
  RemitError,
  RemitUnreachableError,
} from './client.ts'
export type {
  DecisionRecordWire,
  DecisionRequest,
  DecisionWire,
  Preview,
  Reason,
  RecheckWire,
  ReviewWire,
  TimelineWire,
  TouchRequest,
  TouchWire,
  Verdict,
} from './wire.ts'
