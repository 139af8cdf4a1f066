-- The rewind (回溯): what it takes to read the city as it was at any moment fast.
--
-- "Active at t" is an interval stabbing query; a B-tree on the start (or the end) of an interval
-- scans every interval that started before t. SP-GiST indexes on the intervals (range quad
-- trees; faster than GiST here) answer it in time proportional to what is active at t:
--   * alarms: tstzrange(raised_at, cleared_at) (the recorder keeps cleared_at up to date);
--   * cases: `case_spans`, one row per version of a case with the time it was in force,
--     [valid_from, valid_to), kept by a trigger on case_versions: every version the recorder
--     writes (in any order, replays included) makes its span and closes the span before it.
--     Nothing else writes it; the trigger needs no change in the recorder.
--   * linked events: the same for event_versions (`event_spans`).

CREATE INDEX alarms_during ON alarms USING spgist (tstzrange(raised_at, cleared_at));

CREATE TABLE case_spans (
  case_id text NOT NULL,
  version integer NOT NULL,
  valid_from timestamptz NOT NULL,
  valid_to timestamptz NOT NULL DEFAULT 'infinity',
  open boolean NOT NULL,            -- the case's stage was not ended (closed, rejected, voided, merged)
  stage text NOT NULL,
  district text NOT NULL DEFAULT '',
  class_code text NOT NULL DEFAULT '',
  lon double precision,
  lat double precision,
  urgent boolean NOT NULL DEFAULT false,
  created_at timestamptz,
  stage_deadline timestamptz,
  PRIMARY KEY (case_id, version)
);
CREATE INDEX case_spans_open_during ON case_spans USING spgist (tstzrange(valid_from, valid_to)) WHERE open;
-- what changed between two moments (playback, a slider dragged): spans that began or ended in between
CREATE INDEX case_spans_from ON case_spans (valid_from);
CREATE INDEX case_spans_to ON case_spans (valid_to) WHERE valid_to <> 'infinity';

CREATE FUNCTION ioc_ms(value jsonb) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN value IS NULL OR value = 'null'::jsonb OR (value #>> '{}') IN ('', '0') THEN NULL
              ELSE to_timestamp((value #>> '{}')::double precision / 1000) END
$$;

CREATE FUNCTION ioc_case_span() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_from timestamptz;
BEGIN
  SELECT min(valid_from) INTO next_from FROM case_spans WHERE case_id = NEW.case_id AND version > NEW.version;
  INSERT INTO case_spans (case_id, version, valid_from, valid_to, open, stage, district, class_code, lon, lat, urgent,
                          created_at, stage_deadline)
  VALUES (NEW.case_id, NEW.version, NEW.at, coalesce(next_from, 'infinity'),
          NEW.stage NOT IN ('closed', 'rejected', 'voided', 'merged'), NEW.stage, NEW.district,
          coalesce(NEW.data ->> 'class_code', ''), (NEW.data ->> 'lon')::double precision,
          (NEW.data ->> 'lat')::double precision, coalesce((NEW.data ->> 'urgent')::boolean, false),
          ioc_ms(NEW.data -> 'created_at'), ioc_ms(NEW.data -> 'stage_deadline'))
  ON CONFLICT (case_id, version) DO NOTHING;
  IF FOUND THEN
    UPDATE case_spans SET valid_to = NEW.at
     WHERE case_id = NEW.case_id AND version < NEW.version AND valid_to > NEW.at
       AND version = (SELECT max(version) FROM case_spans WHERE case_id = NEW.case_id AND version < NEW.version);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER case_versions_span AFTER INSERT ON case_versions FOR EACH ROW EXECUTE FUNCTION ioc_case_span();

CREATE TABLE event_spans (
  event_id text NOT NULL,
  version integer NOT NULL,
  valid_from timestamptz NOT NULL,
  valid_to timestamptz NOT NULL DEFAULT 'infinity',
  status text NOT NULL DEFAULT '',
  data jsonb NOT NULL,
  PRIMARY KEY (event_id, version)
);
CREATE INDEX event_spans_during ON event_spans USING spgist (tstzrange(valid_from, valid_to));

CREATE FUNCTION ioc_event_span() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  next_from timestamptz;
BEGIN
  SELECT min(valid_from) INTO next_from FROM event_spans WHERE event_id = NEW.event_id AND version > NEW.version;
  INSERT INTO event_spans (event_id, version, valid_from, valid_to, status, data)
  VALUES (NEW.event_id, NEW.version, NEW.at, coalesce(next_from, 'infinity'), NEW.status, NEW.data)
  ON CONFLICT (event_id, version) DO NOTHING;
  IF FOUND THEN
    UPDATE event_spans SET valid_to = NEW.at
     WHERE event_id = NEW.event_id AND valid_to > NEW.at
       AND version = (SELECT max(version) FROM event_spans WHERE event_id = NEW.event_id AND version < NEW.version);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER event_versions_span AFTER INSERT ON event_versions FOR EACH ROW EXECUTE FUNCTION ioc_event_span();

-- The ticker of a moment: the newest alarm transitions up to t (not the notifier's entries).
CREATE INDEX alarm_events_transitions ON alarm_events (at DESC) WHERE event <> 'notified';
-- The device registry as of t: births after t are left out, moves after t undone.
CREATE INDEX devices_first_seen ON devices (first_seen);

-- A record upgraded from version 1 with cases and events in it: their spans from what it holds.
INSERT INTO case_spans (case_id, version, valid_from, valid_to, open, stage, district, class_code, lon, lat, urgent,
                        created_at, stage_deadline)
SELECT case_id, version, at, coalesce(lead(at) OVER (PARTITION BY case_id ORDER BY version), 'infinity'),
       stage NOT IN ('closed', 'rejected', 'voided', 'merged'), stage, district, coalesce(data ->> 'class_code', ''),
       (data ->> 'lon')::double precision, (data ->> 'lat')::double precision, coalesce((data ->> 'urgent')::boolean, false),
       ioc_ms(data -> 'created_at'), ioc_ms(data -> 'stage_deadline')
  FROM case_versions
ON CONFLICT (case_id, version) DO NOTHING;
INSERT INTO event_spans (event_id, version, valid_from, valid_to, status, data)
SELECT event_id, version, at, coalesce(lead(at) OVER (PARTITION BY event_id ORDER BY version), 'infinity'), status, data
  FROM event_versions
ON CONFLICT (event_id, version) DO NOTHING;
-- The gauges' levels of a moment: their hourly `last` around t.
CREATE INDEX device_hourly_water ON device_hourly (hour, device_id) INCLUDE (last, last_at) WHERE attribute = 'waterLevel';
