#!/usr/bin/env bash
# Start the machine's PostgreSQL cluster and make the test database (idempotent).
#   bash scripts/postgres.sh     -> postgresql://hearth:hearth@127.0.0.1:5432/hearth_test
set -euo pipefail
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q online; then
  pg_lsclusters -h | grep -q . || pg_createcluster "$version" main >/dev/null
  pg_ctlcluster "$version" main start
fi
as_postgres() { runuser -u postgres -- psql -qtA -c "$1"; }
for _ in $(seq 1 30); do as_postgres "select 1" >/dev/null 2>&1 && break; sleep 0.5; done
[ "$(as_postgres "select 1 from pg_roles where rolname='hearth'")" = 1 ] \
  || as_postgres "create role hearth login password 'hearth'"
[ "$(as_postgres "select 1 from pg_database where datname='hearth_test'")" = 1 ] \
  || as_postgres "create database hearth_test owner hearth"
