"""The alerts configuration: one TOML file read by every tracker, plus environment overrides and shortcuts.

Location: ``$DATABAND_DBT_ALERTS_CONFIG``, else ``$AIRFLOW_HOME/databand_dbt/alerts.toml`` when
``AIRFLOW_HOME`` is set, else ``~/.databand_dbt/alerts.toml`` (the tracking store's default directories).
A missing default file means no file; a missing chosen file is an error.

Precedence, highest first: environment (``DATABAND_DBT_ALERTS__<KEY>``, ``..__DELIVERY__<KEY>``,
``..__RULES__<KEY>``, ``..__CHANNEL__<NAME>__<KEY>``) > the file > defaults. Two shortcuts need no file:
``DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL`` adds a Slack channel named ``slack`` and
``DATABAND_DBT_ALERT_WEBHOOK_URL`` a webhook channel named ``webhook``, each with every rule on.
Errors are one line naming the file or variable, the channel and the key; secrets are never shown.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from airflow_provider_databand_dbt import config_values as v
from airflow_provider_databand_dbt.alerts.config_channels import (
    AlertsConfigError,
    ChannelConfig,
    parse_channel,
)

ENV_CONFIG = "DATABAND_DBT_ALERTS_CONFIG"
ENV_PREFIX = "DATABAND_DBT_ALERTS__"
ENV_SLACK_SHORTCUT = "DATABAND_DBT_ALERT_SLACK_WEBHOOK_URL"
ENV_WEBHOOK_SHORTCUT = "DATABAND_DBT_ALERT_WEBHOOK_URL"
CONFIG_FILE_NAME = "alerts.toml"

__all__ = ["AlertsConfig", "AlertsConfigError", "ChannelConfig", "DeliverySettings", "load_alerts_config"]


@dataclass(frozen=True)
class DeliverySettings:
    """How the outbox is sent (``[delivery]``).

    :param max_attempts: attempts per notification and channel before it is marked failed.
    :param backoff_initial: seconds before the 2nd attempt; doubled after each failure, up to ``backoff_max``.
    :param lease_seconds: how long a process owns a row it sends; a row of a process that died is retried after it.
    :param inline_seconds: total time a short-lived tracker (API, CLI, Airflow task) sends after storing a run.
    :param batch_size: rows read per query of a drain.
    """

    max_attempts: int = 8
    backoff_initial: float = 30.0
    backoff_max: float = 3600.0
    lease_seconds: float = 120.0
    inline_seconds: float = 5.0
    batch_size: int = 50


DELIVERY_KEYS = {
    "max_attempts": lambda r: v.parse_int(r, minimum=1, maximum=100),
    "backoff_initial": v.parse_duration,
    "backoff_max": v.parse_duration,
    "lease_seconds": v.parse_duration,
    "inline_seconds": lambda r: v.parse_duration(r, allow_zero=True),
    "batch_size": lambda r: v.parse_int(r, minimum=1, maximum=1000),
}
TOP_KEYS = {"enabled": v.parse_bool, "web_base_url": v.parse_str}
SECTIONS = ("delivery", "rules", "channels")


@dataclass(frozen=True)
class AlertsConfig:
    """Everything alerts need: the channels, delivery settings, the rule settings, and the web view's URL.

    :param rules: the ``[rules]`` table as read (TOML values; strings from the environment), for the rules' settings.
    :param web_base_url: base URL of the web view (``https://dbt.example.com``), for links to run pages.
    :param path: the file read, or None.
    """

    channels: tuple[ChannelConfig, ...] = ()
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    rules: Mapping[str, Any] = field(default_factory=dict)
    web_base_url: Optional[str] = None
    enabled: bool = True
    path: Optional[Path] = None

    @property
    def active(self) -> bool:
        """True when alerts are on and at least one channel is configured."""
        return self.enabled and bool(self.channels)

    def channel(self, name: str) -> Optional[ChannelConfig]:
        return next((channel for channel in self.channels if channel.name == name), None)


def default_config_path(environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The file to read and whether the user chose it (a chosen file must exist)."""
    chosen = environ.get(ENV_CONFIG, "").strip()
    if chosen:
        return Path(chosen).expanduser(), True
    airflow_home = environ.get("AIRFLOW_HOME", "").strip()
    if airflow_home:
        return Path(airflow_home).expanduser() / "databand_dbt" / CONFIG_FILE_NAME, False
    return Path("~/.databand_dbt").expanduser() / CONFIG_FILE_NAME, False


def load_alerts_config(path: Optional[str] = None, *, environ: Optional[Mapping[str, str]] = None) -> AlertsConfig:
    """Read, merge and validate the alerts configuration.

    :param path: the file (``--config``); None: see the module docstring.
    :param environ: the environment (default ``os.environ``).
    :raises AlertsConfigError: one line naming the file or variable and the key.
    """
    environ = os.environ if environ is None else environ
    file_path, chosen = (Path(path).expanduser(), True) if path else default_config_path(environ)
    data: dict[str, Any] = {}
    if chosen or file_path.exists():
        data = _read_toml(file_path)
    else:
        file_path = None  # type: ignore[assignment]
    where = str(file_path) if file_path else "alerts config"
    for key in data:
        if key not in TOP_KEYS and key not in SECTIONS:
            known = ", ".join([*TOP_KEYS, *(f"[{s}]" for s in SECTIONS)])
            raise AlertsConfigError(f"{where}: unknown key {key!r}; known: {known}")
    top = {key: (data[key], f"{where} {key}") for key in TOP_KEYS if key in data}
    delivery = {key: (value, f"{where} [delivery] {key}") for key, value in _table(data, "delivery", where).items()}
    rules: dict[str, Any] = dict(_table(data, "rules", where))
    channels = _channel_tables(data, where)
    _apply_environment(environ, top, delivery, rules, channels)
    _add_shortcuts(environ, channels)
    parsed_top = _parsed(TOP_KEYS, top)
    for key, (_, origin) in delivery.items():
        if key not in DELIVERY_KEYS:
            raise AlertsConfigError(f"{origin}: unknown key; known: {', '.join(DELIVERY_KEYS)}")
    settings = DeliverySettings(**_parsed(DELIVERY_KEYS, delivery))
    parsed = [parse_channel(raw, origin, environ) for origin, raw in channels.values()]
    result = tuple(channel for channel in parsed if channel is not None)
    names = [channel.name for channel in result]
    duplicate = next((name for name in names if names.count(name) > 1), None)
    if duplicate:
        raise AlertsConfigError(f"{where}: two channels are named {duplicate!r}; names must be unique")
    web_base_url = parsed_top.get("web_base_url") or None
    if web_base_url and not web_base_url.lower().startswith(("http://", "https://")):
        raise AlertsConfigError(f"{top['web_base_url'][1]}: expected an http(s):// URL")
    return AlertsConfig(
        channels=result,
        delivery=settings,
        rules=rules,
        web_base_url=web_base_url.rstrip("/") if web_base_url else None,
        enabled=parsed_top.get("enabled", True),
        path=file_path,
    )


_cache_lock = threading.Lock()
# key -> (config, the stamps of the secret files it read)
_cache: dict[Any, tuple[AlertsConfig, tuple[Any, ...]]] = {}


def current_alerts_config(environ: Optional[Mapping[str, str]] = None) -> AlertsConfig:
    """:func:`load_alerts_config` cached until the file, a secret file it read, or a ``DATABAND_DBT_ALERT*``
    variable changes.

    For every tracked run: re-reading the file each time costs more than a few ``stat`` calls. A secret file
    is watched because a rotated secret (a Kubernetes secret volume) must be used without a restart.
    """
    environ = os.environ if environ is None else environ
    path, _ = default_config_path(environ)
    variables = tuple(sorted((k, val) for k, val in environ.items() if k.startswith("DATABAND_DBT_ALERT")))
    key = (str(path), _stamp(path), variables, environ.get("AIRFLOW_HOME"))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[1] == _secret_stamps(cached[0]):
        return cached[0]
    config = load_alerts_config(environ=environ)
    with _cache_lock:
        _cache.clear()
        _cache[key] = (config, _secret_stamps(config))
    return config


def _stamp(path: Path) -> Any:
    """What changes when a file is replaced or edited (None when it cannot be read)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _secret_stamps(config: AlertsConfig) -> tuple[Any, ...]:
    """The stamps of the files the config's secrets were read from."""
    return tuple(
        _stamp(secret.path)
        for channel in config.channels
        for secret in channel.secrets()
        if secret is not None and secret.path is not None
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]  # same loads() API
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AlertsConfigError(f"{path}: alerts config file not found (set by {ENV_CONFIG} or --config)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertsConfigError(f"{path}: cannot read the alerts config file: {type(exc).__name__}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertsConfigError(f"{path}: not a valid TOML file: {exc}") from None


def _table(data: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise AlertsConfigError(f"{where} [{name}]: must be a table")
    return table


Raw = dict[str, tuple[Any, str]]


def _channel_tables(data: Mapping[str, Any], where: str) -> dict[str, tuple[str, Raw]]:
    """The ``[[channels]]`` entries by upper-cased name (how environment variables name them)."""
    entries = data.get("channels", [])
    if not isinstance(entries, list):
        raise AlertsConfigError(f"{where} channels: write each channel as a [[channels]] table")
    channels: dict[str, tuple[str, Raw]] = {}
    for index, entry in enumerate(entries, start=1):
        origin = f"{where} [[channels]] #{index}"
        if not isinstance(entry, dict):
            raise AlertsConfigError(f"{origin}: must be a table of keys")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise AlertsConfigError(f"{origin}: required key 'name' is missing")
        origin = f"{where} [[channels]] {name}"
        channels[_env_name(name)] = (origin, {key: (value, f"{origin} {key}") for key, value in entry.items()})
    return channels


def _env_name(name: str) -> str:
    return name.strip().upper().replace("-", "_").replace(".", "_")


def _apply_environment(
    environ: Mapping[str, str], top: Raw, delivery: Raw, rules: dict[str, Any], channels: dict[str, tuple[str, Raw]]
) -> None:
    for var, value in sorted(environ.items()):
        if not var.upper().startswith(ENV_PREFIX):
            continue
        parts = [part.lower() for part in var[len(ENV_PREFIX) :].split("__")]
        origin = f"environment variable {var}"
        if len(parts) == 1 and parts[0] in TOP_KEYS:
            top[parts[0]] = (value, origin)
        elif len(parts) == 2 and parts[0] == "delivery":
            delivery[parts[1]] = (value, origin)
        elif len(parts) == 2 and parts[0] == "rules":
            rules[parts[1]] = value
        elif len(parts) == 3 and parts[0] == "channel" and parts[1] and parts[2]:
            key = parts[1].upper()
            channel_origin, raw = channels.setdefault(key, (origin, {"name": (parts[1], origin)}))
            raw[parts[2]] = (value, origin)
        else:
            raise AlertsConfigError(
                f"{origin}: expected {ENV_PREFIX}<KEY> ({', '.join(TOP_KEYS)}), {ENV_PREFIX}DELIVERY__<KEY>, "
                f"{ENV_PREFIX}RULES__<KEY> or {ENV_PREFIX}CHANNEL__<NAME>__<KEY>"
            )


def _add_shortcuts(environ: Mapping[str, str], channels: dict[str, tuple[str, Raw]]) -> None:
    """The two channels defined by one variable each: every rule, every pipeline, every severity."""
    for var, name, channel_type, key in (
        (ENV_SLACK_SHORTCUT, "slack", "slack", "webhook_url"),
        (ENV_WEBHOOK_SHORTCUT, "webhook", "webhook", "url"),
    ):
        if not environ.get(var, "").strip():
            continue
        origin = f"environment variable {var}"
        if _env_name(name) in channels:
            raise AlertsConfigError(
                f"{origin}: defines the channel {name!r}, but {channels[_env_name(name)][0]} has that name too; "
                "rename one of them"
            )
        channels[_env_name(name)] = (
            origin,
            {"name": (name, origin), "type": (channel_type, origin), f"{key}_env": (var, origin)},
        )


def _parsed(parsers: Mapping[str, Any], raw: Raw) -> dict[str, Any]:
    """Typed values of the keys that are set (unset ones keep their defaults)."""
    values = {}
    for key, (value, origin) in raw.items():
        if v.is_unset(value):
            continue
        try:
            values[key] = parsers[key](value)
        except ValueError as exc:
            raise AlertsConfigError(f"{origin}: {exc}") from None
    return values
