-- The reports' summary of the cases (ioc/reports/indicators.py): one row per case with what the
-- GB/T 30428 indicators need of it (ioc.domain.case_indicators.IndicatorFacts), times in epoch
-- milliseconds (NULL: none), so that a period's indicators are one aggregate query over it instead
-- of a read of every case and timeline.
--
-- Kept up to date lazily: statement triggers on `cases` and `case_timeline` mark the changed cases
-- in `case_facts_dirty` (same transaction as the recorder's rows, so nothing is missed); a reader
-- (`ioc.reports.indicators.refresh_facts`) recomputes the marked cases with the domain's own
-- `indicator_facts` and bumps `case_facts_state.revision`, the key of the computed-indicator caches.

CREATE TABLE case_facts (
  case_id text PRIMARY KEY,
  district text NOT NULL DEFAULT '',
  department text NOT NULL DEFAULT '',
  class_code text NOT NULL DEFAULT '',
  source text NOT NULL DEFAULT '',
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  closed_at bigint,
  due_at bigint,
  is_open boolean NOT NULL,
  first_dispatch bigint,          -- first arrival at `dispatched` (registered, 立案)
  first_deferral bigint,          -- first approved deferral
  first_check_fail bigint,        -- first failed check (返工)
  handled_at bigint[] NOT NULL DEFAULT '{}',
  handled_first bigint,
  handled_last bigint,
  -- completed stage stays: (stage, entered, left); their lefts' range, and per-stage totals of
  -- the cases whose stays are all in the six stages below (stays_regular)
  stay_stage text[] NOT NULL DEFAULT '{}',
  stay_in bigint[] NOT NULL DEFAULT '{}',
  stay_out bigint[] NOT NULL DEFAULT '{}',
  stays_first bigint,
  stays_last bigint,
  stays_regular boolean NOT NULL DEFAULT true,
  ms_reported bigint NOT NULL DEFAULT 0, n_reported integer NOT NULL DEFAULT 0,
  ms_accepted bigint NOT NULL DEFAULT 0, n_accepted integer NOT NULL DEFAULT 0,
  ms_verified bigint NOT NULL DEFAULT 0, n_verified integer NOT NULL DEFAULT 0,
  ms_dispatched bigint NOT NULL DEFAULT 0, n_dispatched integer NOT NULL DEFAULT 0,
  ms_handled bigint NOT NULL DEFAULT 0, n_handled integer NOT NULL DEFAULT 0,
  ms_checked bigint NOT NULL DEFAULT 0, n_checked integer NOT NULL DEFAULT 0,
  version integer NOT NULL DEFAULT 0
);
CREATE INDEX case_facts_created ON case_facts (created_at);
CREATE INDEX case_facts_closed ON case_facts (closed_at);

CREATE TABLE case_facts_dirty (case_id text PRIMARY KEY);

CREATE TABLE case_facts_state (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  revision bigint NOT NULL DEFAULT 0,
  refreshed_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO case_facts_state (one) VALUES (true);

CREATE FUNCTION ioc_case_facts_mark_cases() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_facts_dirty (case_id) SELECT DISTINCT id FROM changed ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE FUNCTION ioc_case_facts_mark_timeline() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO case_facts_dirty (case_id) SELECT DISTINCT case_id FROM changed ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;

CREATE TRIGGER case_facts_cases_insert AFTER INSERT ON cases REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION ioc_case_facts_mark_cases();
CREATE TRIGGER case_facts_cases_update AFTER UPDATE ON cases REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION ioc_case_facts_mark_cases();
CREATE TRIGGER case_facts_timeline_insert AFTER INSERT ON case_timeline REFERENCING NEW TABLE AS changed
  FOR EACH STATEMENT EXECUTE FUNCTION ioc_case_facts_mark_timeline();
