"""Each alert rule with real runs stored in SQLite and PostgreSQL through the tracking service and the AlertSink."""

from __future__ import annotations

import pytest

from airflow_provider_databand_dbt.alerts.settings import RuleSettings
from airflow_provider_databand_dbt.testing.synthetic_runs import NodeSpec, build_report

A = "model.shop.a"


def nodes(b="success", *, a_seconds=2.0, a_rows=1000, source="pass", test="pass"):
    """a -> b -> c (c skipped when b fails), a test on a, a source freshness check."""
    return [
        NodeSpec(name="raw", resource_type="source", status=source, seconds=0.5),
        NodeSpec(name="a", seconds=a_seconds, rows=a_rows),
        NodeSpec(name="b", status=b, depends_on=(A,), rows=50),
        NodeSpec(name="c", status="skipped" if b == "error" else "success", depends_on=("model.shop.b",), rows=5),
        NodeSpec(name="not_null_a", resource_type="test", status=test, depends_on=(A,), seconds=0.2),
    ]


def healthy_history(track, runs=6, *, start=1):
    for run_id in range(start, start + runs):
        a_seconds = 2.0 + (run_id % 3) * 0.1
        track(
            build_report(
                run_id, nodes=nodes(a_seconds=a_seconds, a_rows=1000 + run_id), duration_seconds=20.0 + a_seconds
            )
        )


def test_run_failed_opens_updates_and_resolves_one_incident(track, published, incidents):
    healthy_history(track, 2)
    track(build_report(10, status="error", nodes=nodes()))
    track(build_report(11, status="error", nodes=nodes()))
    assert published.changes() == [("opened", "run_failed", None)]
    [incident] = incidents(status="open")
    assert (incident.rule, incident.occurrences, incident.first_run_id, incident.last_run_id) == (
        "run_failed",
        2,
        10,
        11,
    )
    assert incident.severity == "error"
    track(build_report(12, nodes=nodes()))
    assert published.changes()[-1] == ("resolved", "run_failed", None)
    [incident] = incidents()
    assert (incident.status, incident.resolved_run_id) == ("resolved", 12)
    opened = published.notifications[0]
    assert opened.run_page_url == "http://ui.test/runs/10"
    assert opened.dbt_cloud_url.endswith("/runs/10/")
    assert opened.pipeline.job_id == 1


def test_cancelled_run_is_a_warning(track, published):
    track(build_report(1, status="cancelled", nodes=nodes()))
    [note] = published.notifications
    assert (note.rule, note.severity, note.title) == ("run_failed", "warning", "Run 1 of job 1 was cancelled")


def test_new_failure_names_the_node_its_error_and_what_was_skipped(track, published, incidents):
    healthy_history(track, 2)
    track(build_report(10, status="error", nodes=nodes("error")))
    failure = next(n for n in published.notifications if n.rule == "new_failure")
    assert failure.node_unique_id == "model.shop.b"
    assert failure.message == "Database Error in b"
    assert failure.skipped_downstream == ("model.shop.c",)
    # Still failing: the open incident is updated, nobody is told again.
    track(build_report(11, status="error", nodes=nodes("error")))
    assert [c for c in published.changes() if c[1] == "new_failure"] == [("opened", "new_failure", "model.shop.b")]
    [incident] = incidents(status="open", node_unique_id="model.shop.b")
    assert incident.occurrences == 2
    # Recovered.
    track(build_report(12, nodes=nodes()))
    assert ("resolved", "new_failure", "model.shop.b") in published.changes()
    assert incidents(status="open") == []


def test_a_failing_test_is_a_new_failure(track, published):
    healthy_history(track, 1)
    track(build_report(5, status="error", nodes=nodes(test="fail")))
    assert ("opened", "new_failure", "test.shop.not_null_a") in published.changes()


def test_updates_are_published_when_asked(track, published):
    settings = RuleSettings(notify_updates=True)
    track(build_report(1, status="error", nodes=nodes("error")), settings)
    track(build_report(2, status="error", nodes=nodes("error")), settings)
    assert ("updated", "new_failure", "model.shop.b") in published.changes()
    assert ("updated", "run_failed", None) in published.changes()


def test_node_duration_regression_needs_five_earlier_runs(track, published):
    for run_id in range(1, 5):
        track(build_report(run_id, job_id=2, nodes=nodes()))
    track(build_report(5, job_id=2, nodes=nodes(a_seconds=20.0)))
    assert published.changes() == []  # four earlier runs: no verdict yet


def test_node_duration_regression_opens_and_resolves(track, published, incidents):
    healthy_history(track, 6)
    track(build_report(20, nodes=nodes(a_seconds=20.0), duration_seconds=20.0))
    assert published.changes() == [("opened", "duration_regression", A)]
    [incident] = incidents(status="open")
    assert "above" in incident.message and "95th percentile x 1.5" in incident.message
    track(build_report(21, nodes=nodes(a_seconds=2.1), duration_seconds=20.0))
    assert published.changes()[-1] == ("resolved", "duration_regression", A)


def test_a_flagged_value_does_not_raise_the_bar_for_the_next_regression(track, published):
    healthy_history(track, 6)
    track(build_report(20, nodes=nodes(a_seconds=20.0)))
    healthy_history(track, 3, start=21)
    track(build_report(30, nodes=nodes(a_seconds=15.0)))  # below 1.5 x 20 s, far above 1.5 x 2.2 s
    assert published.changes().count(("opened", "duration_regression", A)) == 2


def test_run_duration_regression(track, published):
    healthy_history(track, 6)
    track(build_report(10, nodes=nodes(), duration_seconds=500.0))
    assert ("opened", "duration_regression", None) in published.changes()


def test_source_freshness_warn_then_error_then_pass(track, published, incidents):
    track(build_report(1, nodes=nodes(source="warn")))
    track(build_report(2, nodes=nodes(source="error")))
    [incident] = incidents(status="open")
    assert (incident.rule, incident.severity, incident.node_unique_id) == (
        "source_freshness",
        "error",
        "source.shop.raw",
    )
    assert published.changes() == [("opened", "source_freshness", "source.shop.raw")]
    track(build_report(3, nodes=nodes()))
    assert published.changes()[-1] == ("resolved", "source_freshness", "source.shop.raw")


@pytest.mark.parametrize(("rows", "word"), [(10_000, "above"), (3, "below")])
def test_row_count_anomaly_both_directions(track, published, incidents, rows, word):
    healthy_history(track, 6)
    track(build_report(10, nodes=nodes(a_rows=rows)))
    assert published.changes() == [("opened", "row_count_anomaly", A)]
    assert word in incidents(status="open")[0].message


def test_rules_that_are_off_open_nothing(track, published, incidents):
    settings = RuleSettings(rules=("row_count_anomaly",))
    track(build_report(1, status="error", nodes=nodes("error", source="error")), settings)
    assert published.changes() == [] and incidents() == []


def test_unfinished_and_older_runs_change_nothing(track, published, incidents):
    track(build_report(5, status="running", nodes=nodes("error")))
    assert published.changes() == []
    track(build_report(6, status="error", nodes=nodes("error")))
    before = [(i.id, i.occurrences, i.last_run_id) for i in incidents()]
    published.clear()
    track(build_report(6, status="error", nodes=nodes("error")))  # the same run, tracked again
    track(build_report(4, nodes=nodes()))  # an older run, tracked late
    track(build_report(5, nodes=nodes()))  # the running one, now finished but older than 6
    assert published.changes() == []
    assert [(i.id, i.occurrences, i.last_run_id) for i in incidents()] == before


def test_one_open_incident_per_rule_pipeline_and_node_is_enforced_by_the_database(track, store):
    import sqlalchemy as sa

    from airflow_provider_databand_dbt.tracking.schema import alert_incidents

    track(build_report(1, status="error", nodes=nodes()))
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        row = conn.execute(sa.select(alert_incidents)).mappings().one()
        conn.execute(alert_incidents.insert().values({**row, "id": None}))
