-- Placeholder so that 0003 applies on the `reports` branch (migrations are numbered without gaps).
-- The `rewind` piece owns version 2: its 0002_rewind.sql replaces this file at the merge.
SELECT 1;
