-- PostgreSQL for agrifleet (run as the postgres superuser: sudo -u postgres psql -f postgresql.sql).
-- One role that owns one database; the fleet creates and migrates its tables itself
-- (`agrifleet fleet migrate`). Replace the password, and keep it in /etc/agrifleet/fleet.env.
CREATE ROLE agrifleet LOGIN PASSWORD 'CHANGE-ME';
CREATE DATABASE agrifleet OWNER agrifleet ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE agrifleet FROM PUBLIC;
\connect agrifleet
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO agrifleet;

-- pg_hba.conf: password logins (scram-sha-256) from this machine only, e.g.
--   host  agrifleet  agrifleet  127.0.0.1/32  scram-sha-256
--   host  agrifleet  agrifleet  ::1/128       scram-sha-256
-- postgresql.conf, for a 4-core / 8 GB server holding the fleet alone:
--   shared_buffers = 2GB            effective_cache_size = 6GB
--   max_connections = 100           (each worker and the API use a pool of up to 15)
--   wal_compression = on            checkpoint_timeout = 15min   max_wal_size = 4GB
-- Keep synchronous_commit = on: an acknowledged item must survive a power cut (nodes forget
-- what the fleet acknowledged).
