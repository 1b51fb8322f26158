"""The rules' settings and their defaults: what the ``[rules]`` section of the alerts config file sets.

Plain data, so the config loader (``alerts.config``) only has to decode a table into it:
``msgspec.convert(section, RuleSettings)`` rejects unknown keys and wrong types with the key's name.
"""

from __future__ import annotations

import msgspec

from airflow_provider_databand_dbt.alerts.notification import RuleName

ALL_RULES: tuple[RuleName, ...] = (
    "run_failed",
    "new_failure",
    "duration_regression",
    "source_freshness",
    "row_count_anomaly",
)


class RuleSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the alert rules decide; every field has the documented default.

    :param rules: the rules that are on (default: all).
    :param k: the factor over the 95th percentile (and under the 5th, for row counts) that counts as anomalous.
    :param window: how many finished runs of the pipeline, before the evaluated one, the statistics use (N).
    :param min_runs: fewer earlier values than this: no duration or row count verdict yet.
    :param min_duration_seconds: a node or run faster than this is never a duration regression (a 0.1 s
        model taking 0.3 s is noise, not a regression).
    :param row_count_drop: also flag row counts below ``p5 / k`` (not only above ``p95 * k``).
    :param notify_updates: publish an ``updated`` notification each time an open incident fails again
        (off: an incident notifies when it opens and when it resolves, never repeats).
    """

    rules: tuple[RuleName, ...] = ALL_RULES
    k: float = 1.5
    window: int = 20
    min_runs: int = 5
    min_duration_seconds: float = 1.0
    row_count_drop: bool = True
    notify_updates: bool = False

    def __post_init__(self) -> None:
        if self.k <= 1:
            raise ValueError(f"[rules] k must be above 1, got {self.k}")
        if self.window < 1 or self.min_runs < 1 or self.min_runs > self.window:
            raise ValueError(
                f"[rules] needs 1 <= min_runs <= window, got min_runs={self.min_runs} window={self.window}"
            )

    def is_on(self, rule: RuleName) -> bool:
        return rule in self.rules


DEFAULT_SETTINGS = RuleSettings()
