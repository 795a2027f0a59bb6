import type * as core from '@remit/core/api'
import type * as client from '../src/wire.ts'

// Compile-time only (the package's typecheck covers test/): the client's plain wire types are exactly
// what the server's zod schemas infer. A field added, dropped or retyped on one side fails `tsc`.

// Identity, not mutual assignability (which forgets an optional field one side lacks): two types are
// the same when no type can tell them apart. Objects are flattened first (zod infers intersections).
type Flat<T> = T extends (infer U)[] ? Flat<U>[] : T extends object ? { [K in keyof T]: Flat<T[K]> } : T
type Same<A, B> =
  (<T>() => T extends Flat<A> ? 1 : 2) extends <T>() => T extends Flat<B> ? 1 : 2 ? true : false
const same = <A, B>(ok: Same<A, B>) => ok

same<client.Verdict, core.Verdict>(true)
same<client.Reason, core.Reason>(true)
same<client.Preview, core.Preview>(true)
same<client.DecisionRequest, core.DecisionRequest>(true)
same<client.DecisionWire, core.DecisionWire>(true)
same<client.OutcomeRequest, core.OutcomeRequest>(true)
same<client.TouchRequest, core.TouchRequest>(true)
same<client.SuppressionRequest, core.SuppressionRequest>(true)
same<client.SuppressionWire, core.SuppressionWire>(true)
same<client.SuppressionLiftRequest, core.SuppressionLiftRequest>(true)
same<client.TouchWire, core.TouchWire>(true)
same<client.CommitmentWire, core.CommitmentWire>(true)
same<client.ReviewWire, core.ReviewWire>(true)
same<client.RecheckWire, core.RecheckWire>(true)
same<client.DecisionRecordWire, core.DecisionRecordWire>(true)
same<client.TimelineWire, core.TimelineWire>(true)
same<client.ReviewQuery, core.ReviewQuery>(true)
