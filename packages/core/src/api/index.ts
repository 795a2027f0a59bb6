// `@remit/core/api`: the decision API's wire format alone (zod schemas and their types), for
// servers and clients that do not need the engine.
export {
  actionInputSchema,
  customerInputSchema,
  type DecisionRequest,
  type DecisionWire,
  decisionRequestSchema,
  decisionSchema,
  type Reason,
  type ReasonSort,
  reasonSchema,
  type Verdict,
  verdictSchema,
} from '../decision/schema.ts'
export * from './wire.ts'
