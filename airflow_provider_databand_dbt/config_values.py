"""Parsers for config values (the monitor's and the alerts' files), shared by the file, environment and flag layers.

Each parser takes the raw value (a string from INI/env/argv, or a typed TOML value) and returns
the typed value or raises ``ValueError`` with a message that says what is expected; a long
string is shown only by its length, since a token pasted into the wrong key must not be echoed.
"""

from __future__ import annotations

import math
import re
from typing import Any, Optional

from airflow_provider_databand_dbt.dbt_cloud.urls import describe_value

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NONE_WORDS = frozenset({"", "none", "null"})
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def is_unset(raw: Any) -> bool:
    """True for values that mean "not set" (an empty string, ``none``): the key falls back to its default."""
    return raw is None or (isinstance(raw, str) and raw.strip().lower() in _NONE_WORDS)


def parse_int(raw: Any, *, minimum: Optional[int] = None, maximum: Optional[int] = None) -> int:
    """An integer, optionally bounded; booleans and fractions are refused."""
    if isinstance(raw, bool):
        raise ValueError(f"expected an integer, got {describe_value(raw)}")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, float) and raw.is_integer():
        value = int(raw)
    else:
        text = str(raw).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError(f"expected an integer, got {describe_value(raw)}")
        value = int(text)
    if minimum is not None and value < minimum:
        raise ValueError(f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"must be <= {maximum}, got {value}")
    return value


def parse_duration(raw: Any, *, allow_zero: bool = False) -> float:
    """Seconds from ``90``, ``1.5``, ``30s``, ``5m``, ``12h``, ``7d``, ``1w`` or combinations such as ``1h30m``."""
    if isinstance(raw, bool):
        raise ValueError(f"expected a duration such as 30, 30s, 5m, 7d; got {describe_value(raw)}")
    if isinstance(raw, (int, float)):
        seconds = float(raw)
    else:
        text = str(raw).strip().replace(" ", "")
        if not text or not re.fullmatch(r"(?:\d+(?:\.\d+)?[smhdw]?)+", text, re.IGNORECASE):
            raise ValueError(f"expected a duration such as 30, 30s, 5m, 7d; got {describe_value(raw)}")
        seconds = sum(float(num) * _UNIT_SECONDS[unit.lower()] for num, unit in _DURATION_PART.findall(text))
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"must be {'>= 0' if allow_zero else '> 0'} seconds, got {describe_value(raw)}")
    return seconds


def parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {describe_value(raw)}")


def parse_int_list(raw: Any) -> tuple[int, ...]:
    """Ids from a TOML array, or a string ``1, 2, 3`` / ``[1, 2, 3]`` (INI, env, flags)."""
    if isinstance(raw, (list, tuple)):
        items = list(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool):
        items = [raw]
    else:
        text = str(raw).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        items = [part for part in re.split(r"[\s,]+", text) if part]
    try:
        values = tuple(parse_int(item, minimum=1) for item in items)
    except ValueError:
        raise ValueError(
            f"expected a list of positive integer ids such as 1, 2, 3; got {describe_value(raw)}"
        ) from None
    return tuple(dict.fromkeys(values))


def parse_choice(raw: Any, choices: tuple[str, ...]) -> str:
    text = str(raw).strip().lower()
    if text not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}; got {describe_value(raw)}")
    return text


def parse_str(raw: Any) -> str:
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise ValueError(f"expected a string, got {describe_value(raw)}")
    return str(raw).strip()
