"""The sink in a tracking service: on only when configured, every tracker's runs sent, a dead backend harmless."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from lineage_schema import validate_event
from loopback_http import LoopbackServer, read_body, send
from required_services import needs_extra
from sink_doubles import SinkEndpoint, closed_port_url

from airflow_provider_databand_dbt.model.source import TrackingSource
from airflow_provider_databand_dbt.sinks.registry import default_sinks
from airflow_provider_databand_dbt.sinks.service import TrackingService
from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore

pytestmark = needs_extra("openlineage")


class SlowEndpoint(LoopbackServer):
    """An OpenLineage backend that takes ``delay`` seconds to answer each event."""

    methods = ("POST",)
    quiet_errors = True

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.requests = 0

    def handle(self, handler) -> None:
        read_body(handler)
        self.requests += 1
        time.sleep(self.delay)
        send(handler, 204, b"")


def run_events_of(report) -> list:
    from airflow_provider_databand_dbt.openlineage.config import LineageSettings
    from airflow_provider_databand_dbt.openlineage.events import run_events

    return run_events(report, TrackingSource(kind="monitor", name="prod").stamped(), LineageSettings())


def _openlineage_sinks() -> list:
    return [sink for sink in default_sinks() if sink.name == "openlineage"]


def test_off_without_configuration_or_when_disabled(lineage_env, tmp_path):
    assert _openlineage_sinks() == []

    lineage_env.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9/")
    lineage_env.setenv("OPENLINEAGE_DISABLED", "true")
    assert _openlineage_sinks() == []

    lineage_env.delenv("OPENLINEAGE_DISABLED")
    [sink] = _openlineage_sinks()
    assert sink.wants_lineage


def test_every_tracked_run_is_sent_to_the_configured_endpoint(lineage_env, emulator, client, sqlite_url):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    with SinkEndpoint() as endpoint, TrackingStore(sqlite_url) as store:
        lineage_env.setenv("OPENLINEAGE_URL", endpoint.url)
        service = TrackingService(store)
        assert service.wants_lineage
        report = service.track(client, DEMO_ACCOUNT_ID, run_id, source=TrackingSource(kind="api"))
        events = list(endpoint.received)

    assert report.lineage is not None
    assert service.sink_failures == {}
    for event in events:
        validate_event(event)
    assert events[-1]["eventType"] == "FAIL"
    assert any("sql" in event["job"]["facets"] for event in events)


def test_an_openlineage_yml_with_a_file_transport_is_used(lineage_env, emulator, client, tmp_path):
    events_file = tmp_path / "events.jsonl"
    (tmp_path / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {events_file}\n  append: true\n", encoding="utf-8"
    )
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]

    TrackingService(None).track(client, DEMO_ACCOUNT_ID, run_id)

    events = [json.loads(line) for line in events_file.read_text(encoding="utf-8").splitlines()]
    assert len(events) > 1
    for event in events:
        validate_event(event)


def test_a_dead_or_slow_backend_never_fails_nor_stalls_tracking(lineage_env, emulator, client, sqlite_url):
    run_id = emulator.seeded_runs[NIGHTLY_JOB_ID][-1]
    lineage_env.setenv("DATABAND_DBT_OPENLINEAGE_TIMEOUT", "1")
    with TrackingStore(sqlite_url) as store:
        lineage_env.setenv("OPENLINEAGE_URL", closed_port_url())
        down = TrackingService(store)
        down.track(client, DEMO_ACCOUNT_ID, run_id)
        assert down.sink_failures == {"openlineage": 1}

        with SlowEndpoint(delay=5) as slow:
            lineage_env.setenv("OPENLINEAGE_URL", slow.url)
            stalled = TrackingService(store)
            started = time.monotonic()
            stalled.track(client, DEMO_ACCOUNT_ID, run_id)
            elapsed = time.monotonic() - started
            # the next run while the backend still chews on the last one is dropped at once
            stalled.track(client, DEMO_ACCOUNT_ID, run_id)
        assert store.get_report(run_id).status == "error"

    assert elapsed < 4, elapsed
    assert stalled.sink_failures == {"openlineage": 2}


def _run_without_the_extra(env: dict, tmp_path) -> subprocess.CompletedProcess:
    code = textwrap.dedent(
        """
        import logging, sys
        sys.modules["openlineage"] = None
        sys.modules["openlineage.client"] = None
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        from airflow_provider_databand_dbt.sinks.registry import default_sinks
        print([sink.name for sink in default_sinks() + default_sinks()])
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )


def test_without_the_extra_one_line_names_it_only_when_openlineage_was_asked_for(lineage_env, tmp_path):
    import os

    quiet = _run_without_the_extra(dict(os.environ), tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "[]"
    assert quiet.stderr == ""

    asked = _run_without_the_extra(dict(os.environ, OPENLINEAGE_URL="http://127.0.0.1:9/"), tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.strip() == "[]"
    lines = asked.stderr.strip().splitlines()
    assert len(lines) == 1, asked.stderr
    assert "pip install 'airflow-provider-databand-dbt[openlineage]'" in lines[0]


def test_the_http_transport_gets_a_short_timeout_and_retries_unless_configured(lineage_env, tmp_path):
    lineage_env.setenv("OPENLINEAGE_URL", "http://127.0.0.1:9/")
    lineage_env.setenv("DATABAND_DBT_OPENLINEAGE_TIMEOUT", "2")
    [sink] = _openlineage_sinks()
    assert sink.client.transport.timeout == 2
    assert sink.client.transport.config.retry["total"] == 2

    lineage_env.delenv("OPENLINEAGE_URL")
    (tmp_path / "openlineage.yml").write_text(
        "transport:\n  type: http\n  url: http://127.0.0.1:9/\n  timeout: 1\n  retry:\n    total: 7\n", encoding="utf-8"
    )
    [configured] = _openlineage_sinks()
    assert configured.client.transport.timeout == 1
    assert configured.client.transport.config.retry["total"] == 7


def test_a_run_seen_running_then_finished_starts_then_completes_with_the_same_run_id(lineage_env, emulator, client):
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, status="running")
    with SinkEndpoint() as endpoint:
        lineage_env.setenv("OPENLINEAGE_URL", endpoint.url)
        service = TrackingService(None)
        service.track(client, DEMO_ACCOUNT_ID, run_id)
        while_running = list(endpoint.received)
        emulator.set_run_status(run_id, "success")
        service.track(client, DEMO_ACCOUNT_ID, run_id)
        finished = endpoint.received[len(while_running) :]

    def run_level(events):
        return [e for e in events if "dbt_cloud_run" in e["run"]["facets"]]

    [started] = run_level(while_running)
    [completed] = run_level(finished)
    assert (started["eventType"], completed["eventType"]) == ("START", "COMPLETE")
    assert started["run"]["runId"] == completed["run"]["runId"]
    assert while_running[0] is not None and while_running[0]["eventType"] == "START"
    assert finished[-1]["eventType"] == "COMPLETE"
    for event in while_running + finished:
        validate_event(event)


def test_trackers_in_several_threads_share_one_sink(lineage_env, nightly_report):
    """The monitor's syncers record from their own threads into one sink: runs are sent side by side."""
    import threading

    from airflow_provider_databand_dbt.openlineage.sink import openlineage_sink

    with SlowEndpoint(delay=0.05) as slow:
        lineage_env.setenv("OPENLINEAGE_URL", slow.url)
        sink = openlineage_sink()
        errors: list = []

        def track() -> None:
            try:
                sink.handle(nightly_report, TrackingSource(kind="monitor", name="prod").stamped(), None)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        first = threading.Thread(target=track)
        first.start()
        deadline = time.monotonic() + 10
        while slow.requests == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        second = threading.Thread(target=track)  # while the first run's events are still on their way
        second.start()
        first.join(30)
        second.join(30)
        received = slow.requests

    assert errors == []
    assert received == 2 * len(run_events_of(nightly_report))
