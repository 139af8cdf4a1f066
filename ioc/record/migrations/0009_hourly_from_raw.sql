-- The per-device hourly aggregates derived from the raw readings instead of written twice.
--
-- At 20,000 readings a second and 50,000 devices, a batch sees each device about once, so the
-- hourly parts of migration 0008 were one row per reading and attribute: as many rows again as
-- the raw readings, half of the recorder's cost. A reading the record keeps raw now gets no
-- part in its batch: the fold reads the raw readings recorded since the last fold (by `seq`, the
-- order they were written in), sums them per hour, device and attribute into parts (one per
-- device and attribute per fold, not per batch), then folds the parts as before, all in one
-- transaction with the new high-water mark. Readings not kept raw (IOC_RECORD_RAW_HOURS=0, or
-- older than the raw window when written) still get their parts in their batch.
--
-- Exactly once: only the recorder writes raw readings, one transaction after the other on one
-- connection, so every reading with a `seq` at or below the highest committed one is committed;
-- the mark moves in the fold's transaction. Raw readings recorded before this migration have no
-- `seq`: their parts were written with them.

CREATE SEQUENCE IF NOT EXISTS readings_seq;
ALTER TABLE readings ADD COLUMN seq bigint;
ALTER TABLE readings ALTER COLUMN seq SET DEFAULT nextval('readings_seq');
CREATE INDEX readings_by_seq ON readings (seq);

CREATE TABLE recorder_fold (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  raw_seq bigint NOT NULL   -- the raw readings up to this `seq` are in the hourly aggregates
);
INSERT INTO recorder_fold (one, raw_seq) VALUES (true, 0);

-- Sum the raw readings written since the last fold into hourly parts; returns the parts written.
-- `numeric_attributes` is kind -> attribute -> true when the attribute is a number (summed, with
-- its min, max and last) / false when its values are counted (the last kept as text); an
-- attribute no kind declares is judged by its value, as the recorder judges it.
CREATE OR REPLACE FUNCTION ioc_fold_hourly_raw(numeric_attributes jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  since bigint;
  upto bigint;
  parts bigint;
BEGIN
  SELECT raw_seq INTO since FROM recorder_fold FOR UPDATE;
  SELECT max(seq) INTO upto FROM readings WHERE seq > since;
  IF upto IS NULL THEN
    RETURN 0;
  END IF;
  INSERT INTO device_hourly_parts (hour, device_id, attribute, n, sum, min, max, last, last_text, last_at)
  SELECT hour, device_id, attribute, count(*), sum(num), min(num), max(num),
         (array_agg(num ORDER BY at DESC, seq DESC, idx DESC) FILTER (WHERE num IS NOT NULL))[1],
         (array_agg(txt ORDER BY at DESC, seq DESC, idx DESC) FILTER (WHERE txt IS NOT NULL))[1],
         max(at)
  FROM (
    SELECT hour, device_id, attribute, at, seq, idx,
           CASE WHEN is_number AND jsonb_typeof(value) = 'number' THEN value::double precision END AS num,
           CASE WHEN NOT is_number THEN value #>> '{}' END AS txt
    FROM (
      SELECT date_trunc('hour', r.at, 'UTC') AS hour, r.device_id, e.key AS attribute, r.at, r.seq, r.idx, e.value,
             COALESCE((numeric_attributes -> r.kind -> e.key)::boolean, jsonb_typeof(e.value) = 'number') AS is_number
      FROM readings r, jsonb_each(r.values) e
      WHERE r.seq > since AND r.seq <= upto
    ) judged
  ) valued
  GROUP BY hour, device_id, attribute;
  GET DIAGNOSTICS parts = ROW_COUNT;
  UPDATE recorder_fold SET raw_seq = upto;
  RETURN parts;
END $$;
