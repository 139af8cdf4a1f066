-- The record, version 1: cases, linked events, alarms, audit, users and tokens, the device
-- registry and telemetry history. History tables are partitioned by month (raw readings by
-- day); `ioc_ensure_partition` makes a partition before the first row of its period is written.
-- Every row copied from a Redis stream carries its stream entry id (`stream_id`, "ms-seq"),
-- part of its key: a replayed batch writes nothing twice.

CREATE OR REPLACE FUNCTION ioc_ensure_partition(parent text, at timestamptz, period text DEFAULT 'month')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  start_at timestamptz := date_trunc(period, at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  end_at timestamptz := start_at + ('1 ' || period)::interval;
  child text := parent || '_p' || to_char(start_at AT TIME ZONE 'UTC', CASE period WHEN 'day' THEN 'YYYYMMDD' ELSE 'YYYYMM' END);
BEGIN
  IF to_regclass(child) IS NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext(child));
    IF to_regclass(child) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', child, parent, start_at, end_at);
    END IF;
  END IF;
  RETURN child;
END $$;

-- Where each stream has been copied up to, written in the same transaction as its rows.
CREATE TABLE recorder_offsets (
  stream text PRIMARY KEY,
  last_id text NOT NULL,           -- the last Redis stream id committed ("ms-seq")
  rows bigint NOT NULL DEFAULT 0,  -- rows written from it so far
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Cases: the latest version of each (one row per case, kept for good).
CREATE TABLE cases (
  id text PRIMARY KEY,
  version integer NOT NULL,
  class_code text NOT NULL,
  district text NOT NULL DEFAULT '',
  department text NOT NULL DEFAULT '',
  source text NOT NULL DEFAULT '',
  stage text NOT NULL,
  urgent boolean NOT NULL DEFAULT false,
  lon double precision,
  lat double precision,
  cell text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  closed_at timestamptz,            -- null while open
  due_at timestamptz,
  stage_deadline timestamptz,
  updated_at timestamptz NOT NULL,
  data jsonb NOT NULL               -- the whole case (ioc.domain.cases.Case.to_dict)
);
CREATE INDEX cases_created ON cases (created_at);
CREATE INDEX cases_closed ON cases (closed_at);
CREATE INDEX cases_open ON cases (created_at) WHERE closed_at IS NULL;
CREATE INDEX cases_district ON cases (district, created_at);
CREATE INDEX cases_department ON cases (department, created_at);

-- Every version of every case: the case as it was after each change.
CREATE TABLE case_versions (
  case_id text NOT NULL,
  version integer NOT NULL,
  at timestamptz NOT NULL,
  stage text NOT NULL,
  district text NOT NULL DEFAULT '',
  department text NOT NULL DEFAULT '',
  stream_id text NOT NULL,
  data jsonb NOT NULL,
  PRIMARY KEY (case_id, version, at)
) PARTITION BY RANGE (at);
CREATE INDEX case_versions_at ON case_versions (at);

-- Every timeline entry (the case's Redis timeline stream, entry ids kept).
CREATE TABLE case_timeline (
  case_id text NOT NULL,
  entry_id text NOT NULL,           -- the entry's id in ioc:{core}:cases:timeline:<id>
  at timestamptz NOT NULL,
  action text NOT NULL,
  actor text NOT NULL DEFAULT '',
  role text NOT NULL DEFAULT '',
  from_stage text NOT NULL DEFAULT '',
  to_stage text NOT NULL DEFAULT '',
  note text NOT NULL DEFAULT '',
  detail jsonb NOT NULL DEFAULT '{}',
  fields jsonb NOT NULL,            -- every field of the entry as written (restore writes them back)
  PRIMARY KEY (case_id, entry_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX case_timeline_at ON case_timeline (at);
CREATE INDEX case_timeline_case ON case_timeline (case_id);

-- Linked events (大联动): the latest version of each, and every version.
CREATE TABLE events (
  id text PRIMARY KEY,
  version integer NOT NULL,
  plan text NOT NULL DEFAULT '',
  level text NOT NULL DEFAULT '',
  status text NOT NULL DEFAULT '',
  started_at timestamptz,
  ended_at timestamptz,             -- closed or cancelled; null while active
  updated_at timestamptz NOT NULL,
  data jsonb NOT NULL               -- ioc.domain.events.Event.to_dict
);
CREATE INDEX events_started ON events (started_at);

CREATE TABLE event_versions (
  event_id text NOT NULL,
  version integer NOT NULL,
  at timestamptz NOT NULL,
  status text NOT NULL DEFAULT '',
  level text NOT NULL DEFAULT '',
  stream_id text NOT NULL,
  data jsonb NOT NULL,
  PRIMARY KEY (event_id, version, at)
) PARTITION BY RANGE (at);
CREATE INDEX event_versions_at ON event_versions (at);

-- Alarm events as written to ioc:{core}:alarms:events (raised, acknowledged, cleared, notified, …).
CREATE TABLE alarm_events (
  stream_id text NOT NULL,
  at timestamptz NOT NULL,
  event text NOT NULL,
  alarm_id text NOT NULL,
  device_id text NOT NULL DEFAULT '',
  data jsonb NOT NULL,              -- the stream entry's `alarm` JSON
  PRIMARY KEY (stream_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX alarm_events_at ON alarm_events (at);
CREATE INDEX alarm_events_alarm ON alarm_events (alarm_id);

-- One row per activation of an alarm (raised .. cleared), kept up to date from its events:
-- the alarms active at any moment are those with raised_at <= t < coalesce(cleared_at, infinity).
CREATE TABLE alarms (
  alarm_id text NOT NULL,
  raised_at timestamptz NOT NULL,
  cleared_at timestamptz,
  acknowledged_at timestamptz,
  acknowledged_by text NOT NULL DEFAULT '',
  device_id text NOT NULL DEFAULT '',
  kind text NOT NULL DEFAULT '',
  rule text NOT NULL DEFAULT '',
  severity text NOT NULL DEFAULT '',
  district text NOT NULL DEFAULT '',
  data jsonb NOT NULL,              -- the alarm JSON as raised (plus `ack` once acknowledged)
  PRIMARY KEY (alarm_id, raised_at)
);
CREATE INDEX alarms_raised ON alarms (raised_at);
CREATE INDEX alarms_cleared ON alarms (cleared_at);
CREATE INDEX alarms_active ON alarms (raised_at) WHERE cleared_at IS NULL;

-- The audit log (ioc:{core}:audit).
CREATE TABLE audit (
  stream_id text NOT NULL,
  at timestamptz NOT NULL,
  actor text NOT NULL DEFAULT '',
  role text NOT NULL DEFAULT '',
  action text NOT NULL,
  target text NOT NULL DEFAULT '',
  outcome text NOT NULL DEFAULT '',
  ip text NOT NULL DEFAULT '',
  detail jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (stream_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_actor ON audit (actor, at);

-- Users and API tokens as stored in Redis (password hashes and token SHA-256 only, never a secret).
CREATE TABLE users (
  name text PRIMARY KEY,
  updated_at timestamptz NOT NULL,
  data jsonb NOT NULL
);
CREATE TABLE tokens (
  id text PRIMARY KEY,
  updated_at timestamptz NOT NULL,
  data jsonb NOT NULL
);

-- The device registry: the latest of each device, and every birth, state change and move.
CREATE TABLE devices (
  id text PRIMARY KEY,
  kind text NOT NULL,
  name text NOT NULL DEFAULT '',
  district text NOT NULL DEFAULT '',
  cell text NOT NULL DEFAULT '',
  lon double precision,
  lat double precision,
  online boolean NOT NULL DEFAULT false,
  first_seen timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  meta jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX devices_district ON devices (district, kind);

CREATE TABLE device_events (
  stream_id text NOT NULL,
  at timestamptz NOT NULL,
  device_id text NOT NULL,
  event text NOT NULL,              -- birth | online | offline | moved
  online boolean,
  lon double precision,
  lat double precision,
  district text NOT NULL DEFAULT '',
  meta jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (stream_id, device_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX device_events_device ON device_events (device_id, at);
CREATE INDEX device_events_at ON device_events (at);

-- Telemetry history: per-minute rollups per district, kind and attribute (the fields of the
-- Redis minute buckets: sum, count, max; enum values as "attribute=value" with a count only;
-- "_" counts readings), per-device hourly aggregates, raw readings for IOC_RECORD_RAW_HOURS.
CREATE TABLE rollup_minute (
  minute timestamptz NOT NULL,
  district text NOT NULL,
  kind text NOT NULL,
  attribute text NOT NULL,
  s double precision,
  n bigint NOT NULL,
  x double precision,
  PRIMARY KEY (minute, district, kind, attribute)
) PARTITION BY RANGE (minute);

CREATE TABLE device_hourly (
  hour timestamptz NOT NULL,
  device_id text NOT NULL,
  attribute text NOT NULL,
  n bigint NOT NULL,
  sum double precision,
  min double precision,
  max double precision,
  last double precision,
  last_text text,                   -- the last value of an enum or boolean attribute
  last_at timestamptz NOT NULL,
  PRIMARY KEY (hour, device_id, attribute)
) PARTITION BY RANGE (hour);
CREATE INDEX device_hourly_device ON device_hourly (device_id, hour);

CREATE TABLE readings (
  at timestamptz NOT NULL,
  device_id text NOT NULL,
  kind text NOT NULL,
  stream_id text NOT NULL,
  idx integer NOT NULL,             -- position of the reading in its stream entry
  values jsonb NOT NULL,
  PRIMARY KEY (stream_id, idx, at)
) PARTITION BY RANGE (at);
CREATE INDEX readings_device ON readings (device_id, at);
