"""The webhook route of a real monitor over real HTTP, on SQLite and PostgreSQL: what is refused, what is queued.

Deliveries are signed here with hmac and the secret the monitor reads from its environment.
"""

from __future__ import annotations

import json
import socket

import pytest
from monitor_helpers import free_port, scrape
from webhook_helpers import (
    SECRET_ENV,
    deliver,
    environ,
    event_states,
    monitor_in_process,
    payload,
    post,
    sign,
    wait_processed,
    webhook_config,
    webhook_sightings,
)

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID
from airflow_provider_databand_dbt.tracking.store import TrackingStore


@pytest.fixture()
def monitor(emulator, tmp_path, tracking_url):
    """A monitor receiving webhooks for syncer ``main`` (and ``quiet``, which has no secret), plus a store to read."""
    port, metrics_port = free_port(), free_port()
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, tracking_url, port, prometheus_port=metrics_port)
    # A second syncer without a webhook secret: its route must not exist.
    text = config.read_text() + (
        f"[dbt_monitor.syncer.quiet]\naccount_id = {DEMO_ACCOUNT_ID}\napi_url = {emulator.url}\n"
        "api_token_env = MONITOR_TEST_DBT_TOKEN\n"
    )
    config.write_text(text)
    with TrackingStore(tracking_url) as store, monitor_in_process(config):
        yield port, metrics_port, store


def refused(metrics_port: int) -> dict[str, float]:
    return {
        dict(labels)["reason"]: value
        for (name, labels), value in scrape(metrics_port).items()
        if name == "databand_dbt_webhook_events_refused_total"
    }


def test_forged_unsigned_and_tampered_deliveries_are_401_and_never_tracked(monitor, emulator, small_dir):
    port, metrics_port, store = monitor
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
    body = json.dumps(payload("job.run.completed", run_id)).encode()
    forged = sign(body, secret="not-the-secret-at-all")
    assert post(port, body, signature=forged)[0] == 401
    assert post(port, body, signature=None)[0] == 401
    assert post(port, body, signature="")[0] == 401
    tampered = body.replace(str(run_id).encode(), str(run_id - 1).encode())
    assert post(port, tampered, signature=sign(body))[0] == 401
    assert post(port, body, signature=sign(body).upper() + "00")[0] == 401
    assert post(port, body, signature="é" * 64)[0] == 401  # non-ASCII header: refused, not a crash
    assert refused(metrics_port)["signature"] == 6
    assert event_states(store.engine) == {}
    assert store.get_report(run_id) is None


def test_unknown_syncer_and_syncer_without_secret_are_404(monitor, emulator):
    port, metrics_port, store = monitor
    body = json.dumps(payload("job.run.completed", 70000)).encode()
    assert post(port, body, syncer="nobody")[0] == 404
    assert post(port, body, syncer="quiet")[0] == 404  # configured, but no webhook secret
    assert post(port, body, syncer="")[0] == 404
    assert refused(metrics_port)["unknown_syncer"] == 3
    assert event_states(store.engine) == {}


def test_a_body_over_1_mib_is_413_without_being_read(monitor):
    port, metrics_port, store = monitor
    body = b"{" + b" " * (1024 * 1024) + b"}"
    assert post(port, body)[0] == 413
    # Announce 10 GiB and send nothing: the answer comes at once, nothing is read.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /webhooks/dbt-cloud/main HTTP/1.1\r\nHost: x\r\nContent-Length: 10737418240\r\n"
            b"Authorization: 00\r\n\r\n"
        )
        assert sock.recv(100).startswith(b"HTTP/1.0 413")
    assert refused(metrics_port)["too_large"] == 2
    assert event_states(store.engine) == {}


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({k: v for k, v in payload("job.run.completed", 5).items() if k != "eventId"}).encode(),
        json.dumps({**payload("job.run.completed", 5), "eventType": None}).encode(),
        json.dumps({**payload("job.run.completed", 5), "data": {"jobId": "101"}}).encode(),
        json.dumps({**payload("job.run.completed", 5), "data": {"runId": "12x"}}).encode(),
        json.dumps({k: v for k, v in payload("job.run.completed", 5).items() if k != "accountId"}).encode(),
        b"\xff\xfe{}",
    ],
    ids=["not-json", "not-object", "no-event-id", "no-event-type", "no-run-id", "bad-run-id", "no-account", "binary"],
)
def test_malformed_deliveries_are_400(monitor, body):
    port, metrics_port, store = monitor
    status, answer = post(port, body)
    assert status == 400, answer
    assert refused(metrics_port)["malformed"] == 1
    assert event_states(store.engine) == {}


def test_another_account_is_400(monitor):
    port, metrics_port, store = monitor
    assert deliver(port, payload("job.run.completed", 5, account_id=DEMO_ACCOUNT_ID + 1))[0] == 400
    event = payload("job.run.completed", 5)
    event["data"]["accountId"] = str(DEMO_ACCOUNT_ID + 7)  # an account id inside data counts too
    assert deliver(port, event)[0] == 400
    assert refused(metrics_port)["wrong_account"] == 2
    assert event_states(store.engine) == {}


def test_a_replayed_event_is_acknowledged_and_processed_once(monitor, emulator, small_dir):
    port, metrics_port, store = monitor
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
    event = payload("job.run.completed", run_id, account_id=str(DEMO_ACCOUNT_ID))  # a string id is fine
    assert deliver(port, event) == (200, {"status": "queued"})
    wait_processed(store.engine, 1)
    assert deliver(port, event) == (200, {"status": "duplicate"})
    assert deliver(port, event) == (200, {"status": "duplicate"})
    assert webhook_sightings(store.engine) == {run_id: 1}
    report = store.get_report(run_id)
    assert report.status == "success" and sum(len(step.nodes) for step in report.steps) > 0
    samples = scrape(metrics_port)
    assert samples[("databand_dbt_webhook_events_duplicate_total", (("syncer", "main"),))] == 2
    assert (
        samples[("databand_dbt_webhook_events_received_total", (("syncer", "main"), ("type", "job.run.completed")))]
        == 3
    )
    assert samples[("databand_dbt_webhook_event_to_tracked_seconds_count", (("syncer", "main"),))] == 1
    assert samples[("databand_dbt_webhook_queue_depth", ())] == 0


def test_started_records_a_running_run_with_one_get_then_completed_collects_it(monitor, emulator, small_dir):
    port, _, store = monitor
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="running", artifacts_dir=str(small_dir))
    # Warm the names cache (project, environment) on another run: a long-lived monitor has them.
    deliver(port, payload("job.run.completed", emulator.seeded_runs[HOURLY_JOB_ID][0]))
    wait_processed(store.engine, 1)
    emulator.reset_request_log()
    assert deliver(port, payload("job.run.started", run_id))[0] == 200
    wait_processed(store.engine, 2)
    assert store.get_report(run_id).status == "running"
    listing = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}/runs/"
    paths = [request.path for request in emulator.requests if request.path != listing]  # the syncer's own polls
    assert paths == [f"/api/v2/accounts/{DEMO_ACCOUNT_ID}/runs/{run_id}/"], paths
    emulator.set_run_status(run_id, "success")
    assert deliver(port, payload("job.run.completed", run_id))[0] == 200
    wait_processed(store.engine, 3)
    report = store.get_report(run_id)
    assert report.status == "success" and sum(len(step.nodes) for step in report.steps) > 0
    assert webhook_sightings(store.engine)[run_id] == 2


def test_errored_collects_now_and_completed_collects_again(monitor, emulator, small_dir):
    port, _, store = monitor
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="error", artifacts_dir=str(small_dir))
    assert deliver(port, payload("job.run.errored", run_id))[0] == 200
    wait_processed(store.engine, 1)
    assert store.get_report(run_id).status == "error"
    assert deliver(port, payload("job.run.completed", run_id))[0] == 200  # another event id: not a duplicate
    wait_processed(store.engine, 2)
    assert webhook_sightings(store.engine) == {run_id: 2}


def test_unknown_event_types_and_filtered_jobs_are_acknowledged_but_not_queued(emulator, tmp_path, sqlite_url):
    port = free_port()
    config = webhook_config(
        tmp_path / "monitor.cfg", emulator.url, sqlite_url, port, syncer={"job_ids": str(HOURLY_JOB_ID)}
    )
    with TrackingStore(sqlite_url) as store, monitor_in_process(config):
        assert deliver(port, payload("job.run.renamed", 5)) == (200, {"status": "ignored"})
        assert deliver(port, payload("job.run.completed", 5, job_id=HOURLY_JOB_ID + 1)) == (200, {"status": "ignored"})
        assert event_states(store.engine) == {}


def test_a_secret_from_a_file_works(emulator, tmp_path, sqlite_url, small_dir):
    port = free_port()
    secret_file = tmp_path / "secret"
    secret_file.write_text("whsec-test-0123456789abcdef\n")
    config = webhook_config(
        tmp_path / "monitor.cfg",
        emulator.url,
        sqlite_url,
        port,
        syncer={"webhook_secret_env": None, "webhook_secret_file": secret_file},
    )
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
    env = environ()
    env.pop(SECRET_ENV)
    with TrackingStore(sqlite_url) as store, monitor_in_process(config, env=env):
        assert deliver(port, payload("job.run.completed", run_id))[0] == 200
        wait_processed(store.engine, 1)
        assert webhook_sightings(store.engine) == {run_id: 1}


def test_webhook_runs_reach_the_sinks_and_a_failing_sink_is_counted_not_retried(
    emulator, tmp_path, sqlite_url, small_dir
):
    from sink_doubles import HttpSink, SinkEndpoint, closed_port_url, registered

    port, metrics_port = free_port(), free_port()
    config = webhook_config(tmp_path / "monitor.cfg", emulator.url, sqlite_url, port, prometheus_port=metrics_port)
    run_id = emulator.add_run(DEMO_ACCOUNT_ID, HOURLY_JOB_ID, status="success", artifacts_dir=str(small_dir))
    with SinkEndpoint() as endpoint, registered(HttpSink("lineage", endpoint.url), HttpSink("down", closed_port_url())):
        with TrackingStore(sqlite_url) as store, monitor_in_process(config):
            assert deliver(port, payload("job.run.completed", run_id))[0] == 200
            assert wait_processed(store.engine, 1) != {} and set(event_states(store.engine).values()) == {"done"}
            samples = scrape(metrics_port)
    assert [(body["run_id"], body["source_kind"], body["source_name"]) for body in endpoint.received] == [
        (run_id, "webhook", "main")
    ]
    assert samples[("databand_dbt_sink_failures_total", (("sink", "down"), ("syncer", "main")))] == 1
