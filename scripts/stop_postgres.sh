#!/usr/bin/env bash
# Stop the test PostgreSQL server started by start_postgres.sh (no-op when it is not running).
set -euo pipefail

BASE_DIR="${PGDATA_DIR:-/tmp/databand-dbt-pg}"
DATA_DIR="${BASE_DIR}/data"
BIN_DIR="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"

if [ -z "${BIN_DIR}" ] || [ ! -f "${DATA_DIR}/PG_VERSION" ]; then
    echo "No PostgreSQL cluster in ${DATA_DIR}" >&2
    exit 0
fi

run() {
    if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if run "${BIN_DIR}/pg_ctl" -D "${DATA_DIR}" status >/dev/null 2>&1; then
    run "${BIN_DIR}/pg_ctl" -D "${DATA_DIR}" -m fast -w stop >&2
else
    echo "PostgreSQL is not running in ${DATA_DIR}" >&2
fi
