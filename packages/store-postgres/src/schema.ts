/** Migrations, in order. Each runs once, in a transaction, under an advisory lock. */
export const MIGRATIONS: string[] = [
  `
CREATE TABLE remit_decisions (
  id text PRIMARY KEY, at timestamptz NOT NULL, account_id text NOT NULL, agent text NOT NULL, team text NOT NULL,
  verdict text NOT NULL, idempotency_key text, touch_id text, body jsonb NOT NULL);
CREATE UNIQUE INDEX remit_decisions_idempotency ON remit_decisions (agent, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX remit_decisions_account ON remit_decisions (account_id, at);
CREATE INDEX remit_decisions_at ON remit_decisions (at);
CREATE TABLE remit_touches (
  id text PRIMARY KEY, account_id text NOT NULL, contact_id text, agent text, team text, tool text,
  kind text NOT NULL, channel text, outbound boolean NOT NULL, at timestamptz NOT NULL, status text NOT NULL,
  decision_id text, source text NOT NULL, note text);
CREATE INDEX remit_touches_account ON remit_touches (account_id, at);
CREATE TABLE remit_commitments (
  id text PRIMARY KEY, account_id text NOT NULL, contact_id text, kind text NOT NULL, value jsonb NOT NULL,
  team text NOT NULL, agent text NOT NULL, at timestamptz NOT NULL, expires_at timestamptz, decision_id text NOT NULL,
  withdrawn boolean NOT NULL DEFAULT false);
CREATE INDEX remit_commitments_account ON remit_commitments (account_id);
CREATE INDEX remit_commitments_decision ON remit_commitments (decision_id);
CREATE TABLE remit_reviews (
  id text PRIMARY KEY, decision_id text NOT NULL, account_id text NOT NULL, team text NOT NULL,
  status text NOT NULL, created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, body jsonb NOT NULL);
CREATE INDEX remit_reviews_queue ON remit_reviews (status, team, expires_at);
CREATE INDEX remit_reviews_account ON remit_reviews (account_id);
`,
  // Idempotency keys bound to the request they were sent with (NULL for decisions made before).
  'ALTER TABLE remit_decisions ADD COLUMN request_hash text',
  // The outbox: the body holds the whole message; the columns are what claims and lists select on.
  `
CREATE TABLE remit_outbox (
  id text PRIMARY KEY, channel text NOT NULL, status text NOT NULL, next_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL, attempts int NOT NULL, body jsonb NOT NULL);
CREATE INDEX remit_outbox_due ON remit_outbox (channel, status, next_at);
`,
  // Touches name what they record at their source (once each); adapters keep small state.
  `
ALTER TABLE remit_touches ADD COLUMN external_id text;
CREATE UNIQUE INDEX remit_touches_external ON remit_touches (external_id) WHERE external_id IS NOT NULL;
CREATE TABLE remit_state (key text PRIMARY KEY, value text NOT NULL, updated_at timestamptz NOT NULL);
`,
  // Suppressions: read with the account's ledger, never aged out; recorded once per external id.
  `
CREATE TABLE remit_suppressions (
  id text PRIMARY KEY, account_id text NOT NULL, at timestamptz NOT NULL, external_id text, body jsonb NOT NULL);
CREATE INDEX remit_suppressions_account ON remit_suppressions (account_id, at);
CREATE UNIQUE INDEX remit_suppressions_external ON remit_suppressions (external_id) WHERE external_id IS NOT NULL;
`,
  // Touches keep the address they went to (NULL for those made before); identities link a contact id
  // and an address in one account, read with the ledger by either side (the primary key by id, the
  // index by address).
  `
ALTER TABLE remit_touches ADD COLUMN email text;
CREATE TABLE remit_identities (
  account_id text NOT NULL, contact_id text NOT NULL, email text NOT NULL, at timestamptz NOT NULL,
  PRIMARY KEY (account_id, contact_id, email));
CREATE INDEX remit_identities_email ON remit_identities (account_id, email);
`,
  // Suppressions may be lifted: from then on the ledger does not read them, and they stay on record
  // (NULL: in force).
  'ALTER TABLE remit_suppressions ADD COLUMN lifted_at timestamptz',
  // Touches keep the attributes of the action that reserved them (NULL: none, or made before).
  'ALTER TABLE remit_touches ADD COLUMN attributes jsonb',
  // Touches partitioned by month of `at` (./partitions.ts makes the months; a DEFAULT partition
  // takes any time no month holds), so a ledger that grows is pruned by dropping months. A unique
  // index on a partitioned table must hold the partition key, so "an external id is recorded once"
  // moves to a table of its own, and the primary key becomes (id, at).
  `
CREATE TABLE remit_touch_external (external_id text PRIMARY KEY, touch_id text NOT NULL, at timestamptz NOT NULL);
INSERT INTO remit_touch_external (external_id, touch_id, at)
  SELECT external_id, id, at FROM remit_touches WHERE external_id IS NOT NULL;
ALTER TABLE remit_touches RENAME TO remit_touches_unpartitioned;
ALTER INDEX remit_touches_pkey RENAME TO remit_touches_unpartitioned_pkey;
ALTER INDEX remit_touches_account RENAME TO remit_touches_unpartitioned_account;
ALTER INDEX remit_touches_external RENAME TO remit_touches_unpartitioned_external;
CREATE TABLE remit_touches (
  id text NOT NULL, account_id text NOT NULL, contact_id text, agent text, team text, tool text,
  kind text NOT NULL, channel text, outbound boolean NOT NULL, at timestamptz NOT NULL, status text NOT NULL,
  decision_id text, source text NOT NULL, note text, external_id text, email text, attributes jsonb,
  PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE INDEX remit_touches_account ON remit_touches (account_id, at);
CREATE TABLE remit_touches_default PARTITION OF remit_touches DEFAULT;
DO $$
DECLARE m timestamptz;
BEGIN
  FOR m IN SELECT DISTINCT date_trunc('month', at, 'UTC') FROM remit_touches_unpartitioned
      WHERE at >= '1900-01-01' AND at < '9999-01-01' LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF remit_touches FOR VALUES FROM (%L) TO (%L)',
      'remit_touches_p' || to_char(m AT TIME ZONE 'UTC', 'YYYYMM'), m, m + interval '1 month');
  END LOOP;
END $$;
INSERT INTO remit_touches (id, account_id, contact_id, agent, team, tool, kind, channel, outbound, at, status,
    decision_id, source, note, external_id, email, attributes)
  SELECT id, account_id, contact_id, agent, team, tool, kind, channel, outbound, at, status,
    decision_id, source, note, external_id, email, attributes FROM remit_touches_unpartitioned;
DROP TABLE remit_touches_unpartitioned;
`,
  // What a candidate policy in shadow would have answered otherwise, written with the decision.
  `
CREATE TABLE IF NOT EXISTS remit_candidate_diffs (
  decision_id text PRIMARY KEY, at timestamptz NOT NULL, candidate_version text NOT NULL, body jsonb NOT NULL);
CREATE INDEX IF NOT EXISTS remit_candidate_diffs_at ON remit_candidate_diffs (candidate_version, at);
`,
]
