-- One device's alarms, newest first (the device rewind, /device/<id>): without this index the
-- read scans every alarm ever recorded (the table is kept for good).

CREATE INDEX IF NOT EXISTS alarms_device ON alarms (device_id, raised_at DESC);
