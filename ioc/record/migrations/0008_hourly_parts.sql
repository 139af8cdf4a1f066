-- The per-device hourly aggregates kept up at 20,000 msg/s: instead of an upsert of every
-- device's hourly row in every batch (at 50,000 devices each batch touches tens of thousands of
-- rows; the additive UPDATE was the recorder's slowest step), the recorder appends each batch's
-- contributions to `device_hourly_parts` (COPY, no key, no index: as cheap as the raw readings),
-- in the batch's transaction with its stream offset, and folds them into `device_hourly` about
-- once a minute and whenever it is idle (`ioc_fold_hourly_parts`: the parts are deleted and
-- merged in one statement, so a fold happens entirely or not at all). Readers of the hourly
-- aggregates read `device_hourly` together with the parts not folded yet.

CREATE TABLE device_hourly_parts (
  hour timestamptz NOT NULL,
  device_id text NOT NULL,
  attribute text NOT NULL,
  n bigint NOT NULL,
  sum double precision,
  min double precision,
  max double precision,
  last double precision,
  last_text text,
  last_at timestamptz NOT NULL
);

-- The folded aggregates and the parts not folded yet, merged per (hour, device, attribute).
CREATE VIEW device_hourly_all AS
SELECT hour, device_id, attribute, sum(n)::bigint AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max,
       (array_agg(last ORDER BY last_at DESC))[1] AS last,
       (array_agg(last_text ORDER BY last_at DESC))[1] AS last_text,
       max(last_at) AS last_at
FROM (SELECT hour, device_id, attribute, n, sum, min, max, last, last_text, last_at FROM device_hourly
      UNION ALL
      SELECT hour, device_id, attribute, n, sum, min, max, last, last_text, last_at FROM device_hourly_parts) both_parts
GROUP BY hour, device_id, attribute;

-- Move every part into device_hourly (merged as the recorder's per-batch upsert merged them);
-- returns the hourly rows written. Makes the month partitions the parts need (a part of an hour
-- whose partition retention dropped meanwhile comes back, and goes with the next retention).
CREATE OR REPLACE FUNCTION ioc_fold_hourly_parts() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  folded bigint;
  month timestamptz;
BEGIN
  FOR month IN SELECT DISTINCT date_trunc('month', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM device_hourly_parts LOOP
    PERFORM ioc_ensure_partition('device_hourly', month, 'month');
  END LOOP;
  WITH moved AS (
    DELETE FROM device_hourly_parts RETURNING *
  ), merged AS (
    SELECT hour, device_id, attribute, sum(n)::bigint AS n, sum(sum) AS sum, min(min) AS min, max(max) AS max,
           (array_agg(last ORDER BY last_at DESC))[1] AS last,
           (array_agg(last_text ORDER BY last_at DESC))[1] AS last_text,
           max(last_at) AS last_at
    FROM moved GROUP BY hour, device_id, attribute
  )
  INSERT INTO device_hourly (hour, device_id, attribute, n, sum, min, max, last, last_text, last_at)
  SELECT hour, device_id, attribute, n, sum, min, max, last, last_text, last_at FROM merged
  ON CONFLICT (hour, device_id, attribute) DO UPDATE SET
    n = device_hourly.n + EXCLUDED.n, sum = device_hourly.sum + EXCLUDED.sum,
    min = LEAST(device_hourly.min, EXCLUDED.min), max = GREATEST(device_hourly.max, EXCLUDED.max),
    last = CASE WHEN EXCLUDED.last_at >= device_hourly.last_at THEN EXCLUDED.last ELSE device_hourly.last END,
    last_text = CASE WHEN EXCLUDED.last_at >= device_hourly.last_at THEN EXCLUDED.last_text ELSE device_hourly.last_text END,
    last_at = GREATEST(device_hourly.last_at, EXCLUDED.last_at);
  GET DIAGNOSTICS folded = ROW_COUNT;
  RETURN folded;
END $$;
