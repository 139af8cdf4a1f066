"""The record: PostgreSQL as the IOC's system of record and history.

`db` connects (psycopg 3, a pool per process), `migrate` applies the versioned schema in
`migrations/`; the recorder worker copies Redis streams into the tables; restore, the city's
rewind and the reports read them.
"""
