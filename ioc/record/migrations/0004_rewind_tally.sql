-- The rewind's case figures without the case rows (回溯: a frame of any moment).
--
-- The wall and the district pages read, per district, the open cases of a moment, those overdue
-- (now > stage deadline) and those reported since China-time midnight. Reading every open case
-- of a random moment (tens of thousands of case_spans rows) cost most of a frame. `case_tally`
-- holds, per 10-minute bucket start and district, how these three counts CHANGE at that bucket
-- start (deltas): the counts at a bucket start B are the sums of the rows at or before B, and at
-- any moment t the reader adds the few spans that begin, end or pass their deadline in (B, t].
--
-- A span [valid_from, valid_to) of an open case counts at a bucket start B when
--   open:    valid_from <= B < valid_to
--   overdue: ... and B > stage_deadline
--   today:   ... and created_at >= China midnight of B  (⇔ B < the midnight after created_at)
-- so each span adds +1 at the first bucket start its interval covers and -1 at the first it
-- no longer does. Row triggers on case_spans (insert, update of valid_to by 0002's trigger,
-- delete) keep it: the recorder needs no change. `ioc_case_tally_rebuild()` recomputes it all
-- (after a bulk load with the trigger disabled; this migration calls it for existing spans).

CREATE TABLE case_tally (
  bucket timestamptz NOT NULL,
  district text NOT NULL,
  open integer NOT NULL DEFAULT 0,
  overdue integer NOT NULL DEFAULT 0,
  today integer NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, district)
);

-- first bucket start at or after `at`; first strictly after `at`
CREATE FUNCTION ioc_bucket_ceil(at timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT to_timestamp((ceil(extract(epoch FROM at) / 600) * 600)::double precision)
$$;
CREATE FUNCTION ioc_bucket_after(at timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT to_timestamp(((floor(extract(epoch FROM at) / 600) + 1) * 600)::double precision)
$$;
-- the China-time (UTC+8) midnight after `at`
CREATE FUNCTION ioc_next_midnight(at timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT to_timestamp(((floor((extract(epoch FROM at) + 28800) / 86400) + 1) * 86400 - 28800)::double precision)
$$;

-- the (bucket, district, open, overdue, today) deltas of one span, times `sign`
CREATE FUNCTION ioc_span_tally(p_from timestamptz, p_to timestamptz, p_open boolean, p_district text,
                               p_created timestamptz, p_deadline timestamptz, p_sign integer)
RETURNS TABLE (bucket timestamptz, district text, open integer, overdue integer, today integer)
LANGUAGE sql IMMUTABLE AS $$
  WITH b AS (
    SELECT ioc_bucket_ceil(p_from) AS lo,
           CASE WHEN p_to = 'infinity' THEN 'infinity'::timestamptz ELSE ioc_bucket_ceil(p_to) END AS hi,
           CASE WHEN p_deadline IS NULL THEN NULL ELSE greatest(ioc_bucket_ceil(p_from), ioc_bucket_after(p_deadline)) END AS od,
           CASE WHEN p_created IS NULL THEN NULL ELSE ioc_next_midnight(p_created) END AS nm
  ), e AS (
    SELECT lo AS at, 1 AS o, 0 AS v, 0 AS d FROM b WHERE p_open AND lo < hi
    UNION ALL SELECT hi, -1, 0, 0 FROM b WHERE p_open AND lo < hi AND hi <> 'infinity'
    UNION ALL SELECT od, 0, 1, 0 FROM b WHERE p_open AND od < hi
    UNION ALL SELECT hi, 0, -1, 0 FROM b WHERE p_open AND od < hi AND hi <> 'infinity'
    UNION ALL SELECT lo, 0, 0, 1 FROM b WHERE p_open AND lo < least(hi, nm)
    UNION ALL SELECT least(hi, nm), 0, 0, -1 FROM b WHERE p_open AND lo < least(hi, nm) AND least(hi, nm) <> 'infinity'
  )
  SELECT at, p_district, p_sign * sum(o)::integer, p_sign * sum(v)::integer, p_sign * sum(d)::integer FROM e GROUP BY at
$$;

CREATE FUNCTION ioc_case_tally_span() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO case_tally AS t (bucket, district, open, overdue, today)
    SELECT * FROM ioc_span_tally(OLD.valid_from, OLD.valid_to, OLD.open, OLD.district, OLD.created_at, OLD.stage_deadline, -1)
    ON CONFLICT (bucket, district) DO UPDATE
      SET open = t.open + EXCLUDED.open, overdue = t.overdue + EXCLUDED.overdue, today = t.today + EXCLUDED.today;
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO case_tally AS t (bucket, district, open, overdue, today)
    SELECT * FROM ioc_span_tally(NEW.valid_from, NEW.valid_to, NEW.open, NEW.district, NEW.created_at, NEW.stage_deadline, 1)
    ON CONFLICT (bucket, district) DO UPDATE
      SET open = t.open + EXCLUDED.open, overdue = t.overdue + EXCLUDED.overdue, today = t.today + EXCLUDED.today;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER case_spans_tally AFTER INSERT OR UPDATE OR DELETE ON case_spans
  FOR EACH ROW EXECUTE FUNCTION ioc_case_tally_span();

CREATE FUNCTION ioc_case_tally_rebuild() RETURNS void LANGUAGE sql AS $$
  DELETE FROM case_tally;
  INSERT INTO case_tally (bucket, district, open, overdue, today)
  SELECT x.bucket, x.district, sum(x.open), sum(x.overdue), sum(x.today)
    FROM case_spans s, ioc_span_tally(s.valid_from, s.valid_to, s.open, s.district, s.created_at, s.stage_deadline, 1) x
   WHERE s.open
   GROUP BY x.bucket, x.district;
$$;

-- the spans passing their deadline between a bucket start and a moment
CREATE INDEX case_spans_deadline ON case_spans (stage_deadline) WHERE open AND stage_deadline IS NOT NULL;

SELECT ioc_case_tally_rebuild();
