"""Write the legacy store fixtures of tests/tracking/data/ with the code of an older commit (0.1.0 by default).

    python scripts/make_v1_store.py [--commit 5b34415] [--prefix v1] [--out tests/tracking/data]
    python scripts/make_v1_store.py --commit 2bb8b47 --prefix v4   # the last legacy framework (version 4)

Exports the package as it was at ``--commit`` into a temporary directory and, in a subprocess that
imports only that copy, collects the seeded runs of its own dbt Cloud emulator into a new SQLite store
(plus a monitor cursor and lease), then writes:

- ``<prefix>_store.db``: the store, as that code left it (0.1.0: schema version 1);
- ``<prefix>_store.json``: every run's report and sources as that code read them back, to compare after upgrading;
- ``<prefix>_postgresql.sql``: its DDL compiled for PostgreSQL, to build the same store on PostgreSQL in tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Runs inside the exported 0.1.0 tree, so everything it imports is the released code.
WRITER = r"""
import json, sys
from pathlib import Path
import msgspec
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable
from airflow_provider_databand_dbt.collector.collect import collect_run
from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, DEMO_TOKEN, DbtCloudEmulator
from airflow_provider_databand_dbt.tracking import schema
from airflow_provider_databand_dbt.tracking.rows import MonitorCursor
from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.tracking.store import TrackingStore

out, prefix = Path(sys.argv[1]), sys.argv[2]
store = TrackingStore(f"sqlite:///{out / (prefix + '_store.db')}")
with DbtCloudEmulator(runs_per_job=1) as emulator, DbtCloudClient(DEMO_TOKEN, emulator.url) as client:
    run_ids = [run_id for ids in emulator.seeded_runs.values() for run_id in ids]
    for run_id in run_ids:
        collect_run(client, DEMO_ACCOUNT_ID, run_id, store=store, source=TrackingSource(kind="cli"))
        collect_run(client, DEMO_ACCOUNT_ID, run_id, store=store, source=TrackingSource(kind="monitor", name="v1"))
store.save_cursor(MonitorCursor(syncer="v1", host="127.0.0.1", account_id=DEMO_ACCOUNT_ID, last_run_id=max(run_ids)))
store.try_acquire_lease("v1", "v1-owner", 60.0)
expected = {
    str(run_id): {
        "report": store.get_report(run_id).as_dict(),
        "sources": msgspec.to_builtins(store.list_sources(run_id)),
    }
    for run_id in run_ids
}
store.close()
(out / f"{prefix}_store.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
dialect = postgresql.dialect()
ddl = [str(CreateTable(table).compile(dialect=dialect)).strip() for table in schema.metadata.sorted_tables]
ddl += [
    str(CreateIndex(index).compile(dialect=dialect)).strip()
    for table in schema.metadata.sorted_tables for index in sorted(table.indexes, key=lambda i: i.name)
]
(out / f"{prefix}_postgresql.sql").write_text(";\n\n".join(ddl) + ";\n")
print(f"wrote {len(run_ids)} runs")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="5b34415", help="the released code that writes schema v1")
    parser.add_argument("--prefix", default="v1", help="the fixture files' prefix (v1: 0.1.0, v4: commit 2bb8b47)")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "tracking" / "data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name in (f"{args.prefix}_store.db", f"{args.prefix}_store.db-wal", f"{args.prefix}_store.db-shm"):
        (args.out / name).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"databand-dbt-{args.prefix}-") as scratch:
        archive = Path(scratch) / "code.tar"
        subprocess.run(["git", "-C", str(REPO), "archive", "-o", str(archive), args.commit], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(Path(scratch) / "src", filter="data")
        env = {**os.environ, "PYTHONPATH": str(Path(scratch) / "src")}
        writer = [sys.executable, "-c", WRITER, str(args.out.resolve()), args.prefix]
        code = subprocess.run(writer, env=env, cwd=scratch).returncode
    if code == 0:
        # Fold the WAL into the file so the fixture is one self-contained file.
        import sqlite3

        connection = sqlite3.connect(args.out / f"{args.prefix}_store.db")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
