#!/usr/bin/env bash
# Run by the postgres image once, when its volume is first initialised (/docker-entrypoint-initdb.d):
# one role and database for eaflow's records, one role and two databases for Temporal, so that
# neither can touch the other's data. Idempotent, so it can also be run by hand on an existing server:
#   docker compose exec postgresql bash /docker-entrypoint-initdb.d/10-eaflow-databases.sh
# Passwords come from PG_EAFLOW_PASSWORD and PG_TEMPORAL_PASSWORD (see docker-compose.yml).
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-${POSTGRES_USER:-postgres}}" \
  -v eaflow_password="${PG_EAFLOW_PASSWORD:?PG_EAFLOW_PASSWORD is not set}" \
  -v temporal_password="${PG_TEMPORAL_PASSWORD:?PG_TEMPORAL_PASSWORD is not set}" <<'EOSQL'
SELECT format('CREATE ROLE eaflow LOGIN PASSWORD %L', :'eaflow_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'eaflow') \gexec
SELECT format('CREATE ROLE temporal LOGIN PASSWORD %L', :'temporal_password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') \gexec
SELECT 'CREATE DATABASE eaflow OWNER eaflow'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'eaflow') \gexec
SELECT 'CREATE DATABASE temporal OWNER temporal'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal') \gexec
SELECT 'CREATE DATABASE temporal_visibility OWNER temporal'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal_visibility') \gexec
EOSQL
