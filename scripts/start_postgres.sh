#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for tests and print its URL on the last stdout line.
#
# Idempotent: installs PostgreSQL from Debian's apt when no initdb is found, initialises the
# data directory once, and only starts the server when it is not already running.
#   PGDATA_DIR  base directory (default /tmp/databand-dbt-pg); the cluster lives in $PGDATA_DIR/data
#   PGPORT      TCP port on 127.0.0.1 (default 55432)
# The server trusts every local connection and runs with fsync off: for tests only.
set -euo pipefail

BASE_DIR="${PGDATA_DIR:-/tmp/databand-dbt-pg}"
DATA_DIR="${BASE_DIR}/data"
PORT="${PGPORT:-55432}"
LOG_FILE="${BASE_DIR}/postgres.log"
URL="postgresql+psycopg://postgres@127.0.0.1:${PORT}/postgres"

find_bin_dir() {
    # Newest installed major version wins when several are present.
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true
}

# As root, the server runs as the postgres user (it refuses root); otherwise as whoever runs this script.
as_postgres() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

BIN_DIR="$(find_bin_dir)"
if [ -z "${BIN_DIR}" ] || [ ! -x "${BIN_DIR}/initdb" ]; then
    echo "PostgreSQL not found: installing it with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y postgresql >&2
    BIN_DIR="$(find_bin_dir)"
fi

mkdir -p "${BASE_DIR}"
if [ "$(id -u)" = "0" ]; then
    chown postgres: "${BASE_DIR}"
fi

if [ ! -f "${DATA_DIR}/PG_VERSION" ]; then
    echo "Initialising a cluster in ${DATA_DIR}" >&2
    as_postgres "${BIN_DIR}/initdb" -D "${DATA_DIR}" -A trust -U postgres -E UTF8 >&2
fi

if as_postgres "${BIN_DIR}/pg_ctl" -D "${DATA_DIR}" status >/dev/null 2>&1; then
    echo "PostgreSQL already running in ${DATA_DIR}" >&2
else
    # -l keeps the server's output out of our stdout, so `$(start_postgres.sh | tail -n 1)` returns.
    as_postgres "${BIN_DIR}/pg_ctl" -D "${DATA_DIR}" -l "${LOG_FILE}" -w -t 60 \
        -o "-p ${PORT} -k ${DATA_DIR} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >&2
fi

for _ in $(seq 1 60); do
    if "${BIN_DIR}/pg_isready" -q -h 127.0.0.1 -p "${PORT}" -U postgres; then
        echo "${URL}"
        exit 0
    fi
    sleep 0.5
done
echo "PostgreSQL did not become ready on port ${PORT}; see ${LOG_FILE}" >&2
exit 1
