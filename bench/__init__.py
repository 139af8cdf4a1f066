"""The performance harness (`make bench`): real broker, real Redis, real gunicorn, measured
against a baseline taken in the same run. See docs/perf.md for the last results."""
