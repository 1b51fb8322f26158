"""The request budget rows (tracking/request_budget.py) on SQLite and PostgreSQL: refill, reservations, blocks."""

from __future__ import annotations

import pytest

from airflow_provider_databand_dbt.tracking import request_budget

HOST = "cloud.example.com"


def test_no_budget_row_means_the_local_limit(store):
    grant = store.take_request_tokens(HOST, 1, 10)
    assert (grant.tokens, grant.requests_per_minute, grant.blocked) == (0, None, False)


def test_batches_are_reserved_in_a_fair_queue_once_the_bucket_is_empty(store):
    store.set_request_budget(HOST, 1, 630, "monitor syncer a@h:1")  # refill 10/s, capacity 20
    assert request_budget.refill_rate(630) == pytest.approx(10.0)
    first = store.take_request_tokens(HOST, 1, 20)
    second = store.take_request_tokens(HOST, 1, 10)
    third = store.take_request_tokens(HOST, 1, 10)
    assert (first.tokens, first.wait) == (20, 0.0)
    assert second.tokens == 10 and second.wait == pytest.approx(1.0, abs=0.2)
    assert third.tokens == 10 and third.wait == pytest.approx(2.0, abs=0.2)  # after the second, not with it


def test_a_batch_never_exceeds_the_capacity(store):
    store.set_request_budget(HOST, 1, 63, "m")  # capacity 2
    assert store.take_request_tokens(HOST, 1, 50).tokens == 2


def test_given_back_tokens_are_capped_at_the_capacity(store):
    store.set_request_budget(HOST, 1, 630, "m")
    store.give_back_request_tokens(HOST, 1, 1000)
    (row,) = store.request_budgets(HOST, 1)
    assert row.tokens == pytest.approx(20.0)


def test_a_block_keeps_the_later_end_and_survives_a_new_budget(store):
    store.block_account(HOST, 1, 30, "cli@h:2")
    store.block_account(HOST, 1, 5, "cli@h:3")
    store.set_request_budget(HOST, 1, 600, "monitor syncer a@h:1")
    grant = store.take_request_tokens(HOST, 1, 5)
    assert grant.blocked and grant.tokens == 0 and 25 < grant.wait <= 30
    (row,) = store.request_budgets()
    assert (row.requests_per_minute, row.set_by, row.blocked_by) == (600, "monitor syncer a@h:1", "cli@h:3")


def test_last_writer_wins(store):
    store.set_request_budget(HOST, 1, 600, "one")
    store.set_request_budget(HOST, 1, 300, "two")
    (row,) = store.request_budgets(HOST, 1)
    assert (row.requests_per_minute, row.set_by) == (300, "two")
    assert row.tokens <= request_budget.capacity(300)
