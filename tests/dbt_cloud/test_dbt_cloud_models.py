"""Decoding dbt Cloud answers: only our fields, unknown ones ignored, every timestamp form."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import msgspec
import pytest

from airflow_provider_databand_dbt.dbt_cloud.models import ApiRun, Envelope

UTC = timezone.utc


def decode_run(**fields):
    data = {"id": 5, "status": 10, **fields}
    return msgspec.json.decode(json.dumps({"status": {"code": 200}, "data": data}), type=Envelope[ApiRun]).data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25 10:00:00.123456+00:00", datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-25 10:00:00+00:00", datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00Z", datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)),
        ("2026-11-25T10:00:00.5Z", datetime(2026, 11, 25, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-25T12:00:00+02:00", datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)),
        ("2026-11-25 10:00:00", datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)),  # naive: dbt Cloud means UTC
        (None, None),
    ],
)
def test_timestamps(text, expected):
    run = decode_run(created_at=text, run_steps=[{"index": 1, "status": 10, "started_at": text}])
    assert run.created_at == expected
    assert run.run_steps[0].started_at == expected
    if expected is not None:
        assert run.created_at.utcoffset() is not None
        assert run.created_at.utcoffset() in (timedelta(0), timedelta(hours=2))


def test_unknown_fields_are_ignored_and_status_stays_an_int():
    run = decode_run(
        status=20, brand_new_field={"x": [1, 2]}, logs="x" * 1000, job={"id": 100, "name": "Nightly", "whatever": 1}
    )
    assert run.status == 20 and isinstance(run.status, int)
    assert run.status_label == "error" and run.is_terminal
    assert run.job.name == "Nightly"
    assert not hasattr(run, "brand_new_field")


def test_job_id_is_filled_from_either_name():
    assert decode_run(job_definition_id=100).job_id == 100
    assert decode_run(job_id=101).job_definition_id == 101


def test_unknown_status_code_is_kept():
    run = decode_run(status=99, is_complete=False)
    assert run.status == 99 and run.status_label == "unknown" and not run.is_terminal


def test_wrong_type_names_the_field():
    with pytest.raises(msgspec.ValidationError, match=r"\$\.data\.status"):
        decode_run(status="ten")


def test_list_envelope_with_pagination():
    body = {"data": [{"id": 1, "status": 1}], "extra": {"pagination": {"count": 1, "total_count": 7}, "filters": {}}}
    envelope = msgspec.json.decode(json.dumps(body), type=Envelope[list[ApiRun]])
    assert envelope.extra.pagination.total_count == 7 and envelope.data[0].status_label == "queued"
