// `@remit/core/api`: the decision API's wire format alone (zod schemas and their types), for
// servers and clients that do not need the engine.
export {
  actionInputSchema,
  customerInputSchema,
  type DecisionRequest,
  type DecisionWire,
  decisionRequestSchema,
  decisionSchema,
  /** Bounded, well-formed names and ISO times with an offset in 1970–9999: the wire's own checks. */
  label,
  PREVIEW_LIMITS,
  type Preview,
  previewSchema,
  type Reason,
  type ReasonSort,
  reasonSchema,
  text,
  time,
  type Verdict,
  verdictSchema,
} from '../decision/schema.ts'
export * from './wire.ts'
