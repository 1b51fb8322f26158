"""The rules' settings: the defaults of issue 14, and a ``[rules]`` table decoded with clear errors."""

from __future__ import annotations

import msgspec
import pytest

from airflow_provider_databand_dbt.alerts.settings import ALL_RULES, DEFAULT_SETTINGS, RuleSettings
from airflow_provider_databand_dbt.alerts.stats import bounds, percentile


def test_defaults():
    assert (DEFAULT_SETTINGS.k, DEFAULT_SETTINGS.window, DEFAULT_SETTINGS.min_runs) == (1.5, 20, 5)
    assert DEFAULT_SETTINGS.rules == ALL_RULES and not DEFAULT_SETTINGS.notify_updates


def test_a_rules_table_decodes_and_bad_values_name_the_key():
    settings = msgspec.convert({"rules": ["run_failed"], "k": 2, "window": 30}, RuleSettings)
    assert (settings.rules, settings.k, settings.window, settings.min_runs) == (("run_failed",), 2.0, 30, 5)
    with pytest.raises(msgspec.ValidationError, match="unknown field `kk`"):
        msgspec.convert({"kk": 2}, RuleSettings)
    with pytest.raises(msgspec.ValidationError, match="rules"):
        msgspec.convert({"rules": ["no_such_rule"]}, RuleSettings)
    with pytest.raises(msgspec.ValidationError, match="k must be above 1"):
        msgspec.convert({"k": 0.5}, RuleSettings)
    with pytest.raises(msgspec.ValidationError, match="min_runs <= window"):
        msgspec.convert({"min_runs": 30}, RuleSettings)


def test_percentiles_type_6():
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 0.95) == pytest.approx(19.95)
    assert percentile(values, 0.05) == pytest.approx(1.05)
    assert percentile([3.0, 1.0, 2.0], 0.95) == 3.0  # clamped to the largest with few values
    assert bounds([1.0] * 4, k=1.5, min_runs=5) is None
    limits = bounds([10.0] * 5, k=1.5, min_runs=5, with_lower=True)
    assert (limits.upper, limits.lower) == (15.0, pytest.approx(10 / 1.5))
