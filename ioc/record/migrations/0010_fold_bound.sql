-- The raw fold with an upper bound, so the recorder can sum the hourly aggregates of the raw
-- readings it wrote itself in memory (one part per hour, device and attribute at each fold, no
-- SQL over the raw rows) and leave to this function only the raw readings its memory does not
-- hold: those a recorder that stopped (or was killed) wrote, and those of a fold that failed.
--
-- `bound` (NULL: no bound) is the highest `seq` this fold may sum: the recorder's memory holds the
-- readings after it, so the function must not count them. The mark (`recorder_fold.raw_seq`)
-- moves to the highest `seq` summed; the recorder then moves it over what its memory held, in
-- the same transaction. (Below: raw readings partitions without insert-triggered vacuums.)

DROP FUNCTION IF EXISTS ioc_fold_hourly_raw(jsonb);

CREATE FUNCTION ioc_fold_hourly_raw(numeric_attributes jsonb, bound bigint DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  since bigint;
  upto bigint;
  parts bigint;
BEGIN
  SELECT raw_seq INTO since FROM recorder_fold FOR UPDATE;
  SELECT max(seq) INTO upto FROM readings WHERE seq > since AND (bound IS NULL OR seq <= bound);
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

-- Raw readings partitions are written once and dropped whole by retention: no insert-triggered
-- autovacuum. At 20,000 readings/s it scanned each day's partition again every time it grew by a
-- fifth (2.8 M rows at a time in the recorder bench), taking the cores from the recorder for
-- seconds. Their dead rows are none; freezing comes, if ever, from the anti-wraparound vacuum
-- PostgreSQL forces whatever the setting (after autovacuum_freeze_max_age transactions, about
-- two months of the recorder's); ANALYZE still runs as usual.
CREATE OR REPLACE FUNCTION ioc_ensure_partition(parent text, at timestamptz, period text DEFAULT 'month')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  start_at timestamptz := date_trunc(period, at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  end_at timestamptz := start_at + ('1 ' || period)::interval;
  child text := parent || '_p' || to_char(start_at AT TIME ZONE 'UTC', CASE period WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END);
  options text := CASE WHEN parent IN ('device_hourly', 'rollup_minute') THEN ' WITH (fillfactor = 50)'
                       WHEN parent = 'readings' THEN ' WITH (autovacuum_vacuum_insert_threshold = -1)'
                       ELSE '' END;
BEGIN
  IF to_regclass(child) IS NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext(child));
    IF to_regclass(child) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', child, parent, start_at, end_at)
              || options;
    END IF;
  END IF;
  RETURN child;
END $$;

DO $$
DECLARE part regclass;
BEGIN
  FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'readings'::regclass LOOP
    EXECUTE format('ALTER TABLE %s SET (autovacuum_vacuum_insert_threshold = -1)', part);
  END LOOP;
END $$;
