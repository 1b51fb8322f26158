"""The emulator sends dbt Cloud's webhooks to a real local receiver: signed, shaped as documented, retried,
deactivated after repeated failures, and faulted (duplicates, redelivery, reordering, bad signatures, drops)."""

from __future__ import annotations

import re
import socket
import threading

import pytest
import requests
from webhook_receiver import WebhookReceiver

from airflow_provider_databand_dbt.testing.emulator import DEMO_ACCOUNT_ID, HOURLY_JOB_ID, NIGHTLY_JOB_ID
from airflow_provider_databand_dbt.testing.emulator_webhooks import WebhookError, WebhookFault

ACCOUNT = f"/api/v2/accounts/{DEMO_ACCOUNT_ID}"
SECRET = "whsec-emulator-test-secret"
TOP_LEVEL = {"accountId", "webhooksID", "eventId", "timestamp", "eventType", "webhookName", "data"}
DATA_COMMON = {
    "jobId",
    "jobName",
    "runId",
    "environmentId",
    "environmentName",
    "dbtVersion",
    "projectName",
    "projectId",
    "runStatus",
    "runStatusCode",
    "runStatusMessage",
    "runReason",
    "runStartedAt",
}
SECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
NANOSECOND = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$")


@pytest.fixture()
def fast(emulator):
    """Short runs and short retry waits, so a whole lifecycle with retries takes well under a second."""
    emulator.set_lifecycle(0.05, 0.2)
    timing = emulator.webhooks.timing
    timing.retry_base_seconds, timing.completed_delay_seconds, timing.timeout_seconds = 0.02, 0.05, 5.0
    return emulator


def trigger(api, job_id: int = HOURLY_JOB_ID) -> int:
    """Start a run of a job whose runs succeed (unless told otherwise): ``Hourly models``."""
    response = api.post(f"{ACCOUNT}/jobs/{job_id}/run/", json={"cause": "Kicked off by a webhook test"})
    assert response.status_code == 200, response.text
    return response.json()["data"]["id"]


def finished_at(emulator, run_id: int) -> float:
    return emulator.state.snapshot(None, run_id)[1].finished_at


def finished_deliveries(emulator) -> int:
    """Events whose delivery is over: answered 2xx, or failed on the last attempt."""
    return len([d for d in emulator.webhook_deliveries if d.outcome in ("failed", "delivered")])


def event_types(receiver: WebhookReceiver) -> list[str]:
    return [e["eventType"] for e in receiver.events()]


def test_events_are_signed_and_shaped_like_dbt_cloud(fast, api, wait_for):
    with WebhookReceiver() as receiver:
        sub = fast.add_webhook(receiver.url + "/webhooks/dbt-cloud/demo", SECRET)
        run_id = trigger(api)
        wait_for(lambda: len(receiver.received) == 2, timeout=10)
    started, completed = receiver.received
    for got in (started, completed):
        assert got.signed_with(SECRET)
        assert not got.signed_with(SECRET + "x")
        assert got.headers["content-type"] == "application/json"
        event = got.event
        assert set(event) == TOP_LEVEL
        assert event["accountId"] == DEMO_ACCOUNT_ID and event["webhooksID"] == sub.id
        assert event["eventId"].startswith("wev_") and NANOSECOND.match(event["timestamp"])
        data = event["data"]
        assert {"jobId": str(HOURLY_JOB_ID), "runId": str(run_id), "jobName": "Hourly models"}.items() <= data.items()
        assert all(isinstance(data[k], str) for k in ("jobId", "runId", "environmentId", "projectId"))
        assert data["projectName"] == "Jaffle shop" and data["environmentName"] == "Production"
        assert data["runReason"] == "Kicked off by a webhook test" and SECOND.match(data["runStartedAt"])
    assert started.event["eventType"] == "job.run.started"
    assert set(started.event["data"]) == DATA_COMMON
    assert (started.event["data"]["runStatus"], started.event["data"]["runStatusCode"]) == ("Running", 3)
    assert started.event["data"]["runStatusMessage"] == "None"
    assert completed.event["eventType"] == "job.run.completed"
    assert set(completed.event["data"]) == DATA_COMMON | {"runFinishedAt"}
    assert (completed.event["data"]["runStatus"], completed.event["data"]["runStatusCode"]) == ("Success", 10)
    assert started.event["eventId"] != completed.event["eventId"]
    assert [d.outcome for d in fast.webhook_deliveries] == ["delivered", "delivered"]


def test_errored_is_sent_when_the_run_errors_and_completed_after_it(fast, api, wait_for):
    with WebhookReceiver() as receiver:
        fast.add_webhook(receiver.url, SECRET)
        run_id = trigger(api, NIGHTLY_JOB_ID)  # its scenario fails a step
        wait_for(lambda: len(receiver.received) == 3, timeout=10)
    assert event_types(receiver) == ["job.run.started", "job.run.errored", "job.run.completed"]
    errored, completed = receiver.events()[1:]
    assert set(errored["data"]) == DATA_COMMON | {"runErroredAt"}
    assert (errored["data"]["runStatus"], errored["data"]["runStatusCode"]) == ("Errored", 20)
    assert (completed["data"]["runStatus"], completed["data"]["runStatusCode"]) == ("Error", 20)
    assert "failed" in errored["data"]["runStatusMessage"]
    # completed waits for the artifacts to be ingested, as dbt Cloud's does.
    assert receiver.received[2].at - finished_at(fast, run_id) >= 0.05


def test_only_the_subscribed_events_jobs_and_account(fast, api, wait_for):
    with WebhookReceiver() as receiver:
        fast.add_webhook(receiver.url, SECRET, event_types=["job.run.completed"], job_ids=[HOURLY_JOB_ID])
        trigger(api, NIGHTLY_JOB_ID)
        hourly = trigger(api, HOURLY_JOB_ID)
        wait_for(lambda: receiver.received, timeout=10)
        wait_for(lambda: fast.webhooks.queued() == 0 and not fast.run_status(hourly) < 10)
    assert [(e["eventType"], e["data"]["runId"]) for e in receiver.events()] == [("job.run.completed", str(hourly))]


def test_a_500_is_retried_with_the_same_event_until_answered(fast, api, wait_for):
    with WebhookReceiver(script=[500, 503]) as receiver:
        fast.add_webhook(receiver.url, SECRET, event_types=["job.run.started"])
        trigger(api)
        wait_for(lambda: len(receiver.received) == 3, timeout=10)
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1 and all(r.signed_with(SECRET) for r in receiver.received)
    log = [(d.attempt, d.status, d.outcome) for d in fast.webhook_deliveries]
    assert log == [(1, 500, "retrying"), (2, 503, "retrying"), (3, 200, "delivered")]
    assert {d.answer for d in fast.webhook_deliveries} == {"{}"} and fast.webhook_deliveries[0].error == "HTTP 500"
    # Backoff doubles: 0.02 s then 0.04 s.
    gaps = [b.at - a.at for a, b in zip(receiver.received, receiver.received[1:])]
    assert gaps[0] >= 0.015 and gaps[1] >= 0.035


def test_five_attempts_in_all_then_five_failed_deliveries_deactivate_the_webhook(fast, control_api, wait_for):
    with WebhookReceiver(default=500) as receiver:
        sub = fast.add_webhook(receiver.url, SECRET, event_types=["job.run.completed"])
        # Runs added already finished announce themselves at once: six completed events.
        fast.add_runs(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID, 6)
        wait_for(lambda: not control_api(f"webhooks/{sub.id}")["active"], timeout=20)
        wait_for(lambda: fast.webhooks.queued() == 0, timeout=10)
    deliveries = fast.webhook_deliveries
    failed = {d.event_id for d in deliveries if d.outcome == "failed"}
    assert len(failed) == 5
    for event_id in failed:
        attempts = [(d.attempt, d.status) for d in deliveries if d.event_id == event_id]
        assert attempts == [(n, 500) for n in range(1, 6)]
    # The sixth event was being retried alongside; once deactivated, nothing more is sent.
    skipped = [d for d in deliveries if d.outcome == "skipped"]
    assert len(skipped) == 1 and skipped[0].event_id not in failed
    assert all(r.at <= sub.deactivated_at for r in receiver.received)
    shown = control_api(f"webhooks/{sub.id}")
    assert shown["active"] is False and shown["http_status_code"] == "500" and shown["consecutive_failures"] == 5
    assert SECRET not in str(shown) and SECRET not in repr(sub)
    # Turned on again, it delivers and starts counting from zero.
    control_api(f"webhooks/{sub.id}/active", "POST", json={"active": True})
    assert control_api(f"webhooks/{sub.id}")["consecutive_failures"] == 0


def test_a_success_resets_the_count_of_consecutive_failures(fast, wait_for):
    fast.webhooks.timing.retry_base_seconds = 0.0
    # Four events fail all five attempts, the fifth is answered, then four more fail: never five in a row.
    with WebhookReceiver(script=[500] * 20 + [200] + [500] * 20) as receiver:
        sub = fast.add_webhook(receiver.url, SECRET, event_types=["job.run.completed"])
        for done in range(1, 10):
            fast.add_run(DEMO_ACCOUNT_ID, NIGHTLY_JOB_ID)
            wait_for(lambda n=done: finished_deliveries(fast) == n)
    assert len(receiver.received) == 41
    assert sub.active and sub.consecutive_failures == 4


def test_duplicates_fault_delivers_every_event_twice(fast, api, wait_for):
    fast.inject_webhook_fault(WebhookFault("duplicate"))
    with WebhookReceiver() as receiver:
        fast.add_webhook(receiver.url, SECRET)
        trigger(api)
        wait_for(lambda: len(receiver.received) == 4, timeout=10)
    ids = [e["eventId"] for e in receiver.events()]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    assert receiver.received[0].body == receiver.received[1].body
    assert all(r.signed_with(SECRET) for r in receiver.received)
    assert [d.copy for d in fast.webhook_deliveries] == ["original", "duplicate"] * 2


def test_redeliver_fault_sends_the_same_event_again_later(fast, api, wait_for):
    fast.inject_webhook_fault(WebhookFault("redeliver", event_type="job.run.completed", delay=0.3))
    with WebhookReceiver() as receiver:
        fast.add_webhook(receiver.url, SECRET)
        run_id = trigger(api)
        wait_for(lambda: len(receiver.received) == 3, timeout=10)
    first, again = receiver.received[1:]
    assert first.body == again.body and again.at - finished_at(fast, run_id) >= 0.35
    assert event_types(receiver) == ["job.run.started", "job.run.completed", "job.run.completed"]


def test_out_of_order_fault_lets_later_events_overtake(fast, api, wait_for):
    fast.inject_webhook_fault(WebhookFault("out_of_order", event_type="job.run.started", delay=2.0))
    with WebhookReceiver() as receiver:
        fast.add_webhook(receiver.url, SECRET)
        trigger(api)
        wait_for(lambda: len(receiver.received) == 2, timeout=10)
    assert event_types(receiver) == ["job.run.completed", "job.run.started"]


@pytest.mark.parametrize(("kind", "signature"), [("tamper", "tampered"), ("unsigned", "missing")])
def test_bad_signature_faults_are_refused_by_a_verifying_receiver(fast, api, wait_for, kind, signature):
    fast.inject_webhook_fault(WebhookFault(kind, event_type="job.run.started", times=1))
    with WebhookReceiver(secret=SECRET) as receiver:
        fast.add_webhook(receiver.url, SECRET)
        trigger(api)
        wait_for(lambda: any(d.event_type == "job.run.completed" for d in fast.webhook_deliveries), timeout=10)
        wait_for(lambda: len([d for d in fast.webhook_deliveries if d.event_type == "job.run.started"]) == 5)
    started = [d for d in fast.webhook_deliveries if d.event_type == "job.run.started"]
    assert {(d.signature, d.status) for d in started} == {(signature, 401)}
    assert started[-1].outcome == "failed"
    completed = [d for d in fast.webhook_deliveries if d.event_type == "job.run.completed"]
    assert [(d.signature, d.status) for d in completed] == [("valid", 200)]


def test_drop_fault_never_sends_the_event(fast, api, wait_for):
    fast.inject_webhook_fault(WebhookFault("drop", event_type="job.run.started"))
    with WebhookReceiver() as receiver:
        fast.add_webhook(receiver.url, SECRET)
        trigger(api)
        wait_for(lambda: len(receiver.received) == 1, timeout=10)
    assert event_types(receiver) == ["job.run.completed"]
    assert [d.outcome for d in fast.webhook_deliveries] == ["dropped", "delivered"]


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5:8790/hook", "http://example.com/hook", "ftp://127.0.0.1/hook", "http://[::2]:80/"]
)
def test_non_loopback_urls_are_refused(emulator, url):
    with pytest.raises(WebhookError, match="loopback|http"):
        emulator.add_webhook(url, SECRET)
    assert emulator.webhooks.subscriptions() == []


def test_no_watcher_thread_without_a_subscription(emulator):
    assert not [t for t in threading.enumerate() if t.name.startswith("emulator-webhook")]


@pytest.fixture()
def control_api(emulator):
    session = requests.Session()

    def call(path: str, method: str = "GET", expected: int | None = None, **kwargs):
        response = session.request(method, f"{emulator.url}/_emulator/{path}", timeout=10, **kwargs)
        if expected is not None:
            assert response.status_code == expected, response.text
            return response.json()
        assert response.status_code < 300, response.text
        return response.json()["data"]

    yield call
    session.close()


def test_control_plane_subscribes_faults_and_reads_deliveries(fast, api, control_api, wait_for):
    refused = control_api("webhooks", "POST", 400, json={"url": "http://192.0.2.1/hook"})
    assert "loopback" in refused["status"]["user_message"]
    with WebhookReceiver() as receiver:
        made = control_api("webhooks", "POST", json={"url": receiver.url, "event_types": ["job.run.started"]})
        secret = made["hmac_secret"]  # answered once, like dbt Cloud's create call
        given = control_api("webhooks", "POST", json={"url": receiver.url, "secret": SECRET, "name": "mine"})
        assert "hmac_secret" not in given and SECRET not in str(given)
        assert {s["id"] for s in control_api("webhooks")} == {made["id"], given["id"]}
        control_api("webhooks/faults", "POST", json={"kind": "duplicate", "event_type": "job.run.completed"})
        assert control_api("webhooks/faults")[0]["kind"] == "duplicate"
        control_api("webhooks/timing", "POST", json={"retry_base_seconds": 0.01})
        trigger(api)
        # made: started; given: started + completed twice.
        wait_for(lambda: len(receiver.received) == 4, timeout=10)
        deliveries = control_api("webhooks/deliveries", expected=200)
    by_sub = {r.event["webhooksID"]: r for r in receiver.received if r.event["eventType"] == "job.run.started"}
    assert by_sub[made["id"]].signed_with(secret) and by_sub[given["id"]].signed_with(SECRET)
    assert len(deliveries["data"]) == 4 and deliveries["extra"]["queued"] == 0
    assert control_api("webhooks/faults/nope", "POST", 404, json={})["status"]["code"] == 404
    assert control_api("webhooks/faults", "POST", 400, json={"kind": "explode"})["status"]["code"] == 400
    control_api(f"webhooks/{made['id']}", "DELETE")
    assert [s["id"] for s in control_api("webhooks")] == [given["id"]]
    assert control_api("webhooks/deliveries", "DELETE") == {"cleared": True}


def test_a_refused_connection_is_retried_and_logged_without_status(fast, api, wait_for):
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fast.add_webhook(f"http://127.0.0.1:{port}/hook", SECRET, event_types=["job.run.started"])
    trigger(api)
    wait_for(lambda: finished_deliveries(fast) == 1, timeout=10)
    log = [(d.attempt, d.status, d.error, d.outcome) for d in fast.webhook_deliveries]
    assert log == [(n, 0, "ConnectionError", "retrying") for n in range(1, 5)] + [(5, 0, "ConnectionError", "failed")]
