"""One ``[[channels]]`` entry of the alerts config: its filters and its target (where and how it sends).

Every key is declared once in a table per channel type, with its parser and default; secrets (webhook
URLs, the SMTP password) are read from ``<key>_env`` (an environment variable) or ``<key>_file`` (a
file), or, discouraged, ``<key>`` itself, and become :class:`~.secrets.Secret`\\ s.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Union, get_args

from airflow_provider_databand_dbt import config_values as v
from airflow_provider_databand_dbt.alerts.notification import (
    SEVERITY_ORDER,
    AlertNotification,
    IncidentChange,
    RuleName,
)
from airflow_provider_databand_dbt.alerts.secrets import Secret

log = logging.getLogger(__name__)

CHANNEL_TYPES = ("slack", "teams", "webhook", "email")
RULE_NAMES: tuple[str, ...] = get_args(RuleName)
CHANGES: tuple[str, ...] = get_args(IncidentChange)
SEVERITIES: tuple[str, ...] = tuple(SEVERITY_ORDER)
# Every change the rules publish ("updated" only when [rules] notify_updates is on); a channel may opt out.
DEFAULT_CHANGES = CHANGES
DEFAULT_TIMEOUT = 10.0
CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
SMTP_SECURITY = ("starttls", "ssl", "none")
_SMTP_DEFAULT_PORT = {"starttls": 587, "ssl": 465, "none": 25}


class AlertsConfigError(ValueError):
    """Bad alerts configuration; the message names the file (or env var), the channel and the key to fix."""


PipelineId = Union[int, str]


@dataclass(frozen=True)
class ChannelFilters:
    """Which notifications a channel gets. Empty ``pipelines``/``rules`` mean all.

    :param pipelines: dbt Cloud job ids (ints) or job names (strings).
    :param changes: which incident changes are sent: opened, updated (still failing), resolved.
    """

    pipelines: tuple[PipelineId, ...] = ()
    rules: tuple[str, ...] = ()
    min_severity: str = "info"
    changes: tuple[str, ...] = DEFAULT_CHANGES

    def matches(self, notification: AlertNotification, *, severity_checked: bool = True) -> bool:
        """True when the channel wants it; ``severity_checked=False`` skips the severity (a resolution)."""
        if notification.change not in self.changes:
            return False
        if self.rules and notification.rule not in self.rules:
            return False
        if self.pipelines:
            pipeline = notification.pipeline
            if pipeline.job_id not in self.pipelines and (pipeline.job_name or None) not in self.pipelines:
                return False
        return not severity_checked or SEVERITY_ORDER[notification.severity] >= SEVERITY_ORDER[self.min_severity]


@dataclass(frozen=True)
class WebhookTarget:
    """Slack, Teams or a generic webhook: the URL (a secret) and, for the generic one, an optional signing secret."""

    url: Secret
    signing_secret: Optional[Secret] = None


@dataclass(frozen=True)
class EmailTarget:
    """An SMTP server and the addresses; ``security``: starttls, ssl (implicit TLS) or none."""

    smtp_host: str
    smtp_port: int
    security: str
    from_address: str
    to: tuple[str, ...]
    username: Optional[str] = None
    password: Optional[Secret] = None
    ca_file: Optional[str] = None
    subject_prefix: str = "[dbt alert]"


@dataclass(frozen=True)
class ChannelConfig:
    """One channel: name (used on the command line and in the outbox), type, filters and target."""

    name: str
    type: str
    target: Union[WebhookTarget, EmailTarget]
    filters: ChannelFilters = field(default_factory=ChannelFilters)
    timeout: float = DEFAULT_TIMEOUT
    origin: str = ""

    def secrets(self) -> tuple[Optional[Secret], ...]:
        """Every secret of the channel, for :func:`~.secrets.redact`."""
        if isinstance(self.target, WebhookTarget):
            return (self.target.url, self.target.signing_secret)
        return (self.target.password,)

    def describe_target(self) -> str:
        """Where it sends, without secrets: the URL's host, or the SMTP server and recipients."""
        if isinstance(self.target, WebhookTarget):
            return f"POST {self.target.url.site() or '?'}/*** (URL from {self.target.url.origin})"
        t = self.target
        return f"smtp {t.smtp_host}:{t.smtp_port} ({t.security}) to {', '.join(t.to)}"


@dataclass(frozen=True)
class Key:
    parse: Callable[[Any], Any]
    default: Any = None
    required: bool = False
    # False: "none" is a value of its own (security = "none"), not "unset".
    none_is_unset: bool = True


def _parse_pipelines(raw: Any) -> tuple[PipelineId, ...]:
    items = list(raw) if isinstance(raw, (list, tuple)) else [p for p in re.split(r"\s*,\s*", str(raw).strip()) if p]
    parsed: list[PipelineId] = []
    for item in items:
        if isinstance(item, bool):
            raise ValueError("expected job ids or job names")
        if isinstance(item, int) or (isinstance(item, str) and item.strip().isdigit()):
            parsed.append(v.parse_int(item, minimum=1))
        elif isinstance(item, str) and item.strip():
            parsed.append(item.strip())
        else:
            raise ValueError(f"expected job ids or job names, got {v.describe_value(item)}")
    return tuple(dict.fromkeys(parsed))


def _choices(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def parse(raw: Any) -> tuple[str, ...]:
        items = raw if isinstance(raw, (list, tuple)) else [p for p in re.split(r"[\s,]+", str(raw).strip()) if p]
        return tuple(dict.fromkeys(v.parse_choice(item, allowed) for item in items))

    return parse


def _parse_addresses(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, (list, tuple)) else re.split(r"\s*,\s*", str(raw).strip())
    addresses = tuple(v.parse_str(item) for item in items if str(item).strip())
    for address in addresses:
        if "@" not in address or any(c in address for c in "\r\n"):
            raise ValueError(f"expected e-mail addresses, got {v.describe_value(address)}")
    return addresses


COMMON_KEYS: dict[str, Key] = {
    "name": Key(v.parse_str, required=True),
    "type": Key(lambda r: v.parse_choice(r, CHANNEL_TYPES), required=True),
    "enabled": Key(v.parse_bool, True),
    "pipelines": Key(_parse_pipelines, ()),
    "rules": Key(_choices(RULE_NAMES), ()),
    "min_severity": Key(lambda r: v.parse_choice(r, SEVERITIES), "info"),
    "changes": Key(_choices(CHANGES), DEFAULT_CHANGES),
    "timeout": Key(v.parse_duration, DEFAULT_TIMEOUT),
}
# Secret keys, each also settable as <key>_env and <key>_file.
SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "slack": ("webhook_url",),
    "teams": ("webhook_url",),
    "webhook": ("url", "signing_secret"),
    "email": ("password",),
}
REQUIRED_SECRETS = {"slack": "webhook_url", "teams": "webhook_url", "webhook": "url"}
EMAIL_KEYS: dict[str, Key] = {
    "smtp_host": Key(v.parse_str, required=True),
    "smtp_port": Key(lambda r: v.parse_int(r, minimum=1, maximum=65535)),
    "security": Key(lambda r: v.parse_choice(r, SMTP_SECURITY), "starttls", none_is_unset=False),
    "from_address": Key(lambda r: _parse_addresses(r)[0], required=True),
    "to": Key(_parse_addresses, required=True),
    "username": Key(v.parse_str),
    "ca_file": Key(v.parse_str),
    "subject_prefix": Key(v.parse_str, "[dbt alert]"),
}


def known_keys(channel_type: Optional[str]) -> list[str]:
    keys = list(COMMON_KEYS)
    for secret in SECRET_KEYS.get(channel_type or "", ()):
        keys += [secret, f"{secret}_env", f"{secret}_file"]
    if channel_type == "email":
        keys += list(EMAIL_KEYS)
    return keys


def parse_channel(
    raw: Mapping[str, tuple[Any, str]], origin: str, environ: Mapping[str, str]
) -> Optional[ChannelConfig]:
    """A channel from its raw keys (value, where it was set); None when ``enabled = false``.

    :raises AlertsConfigError: an unknown or bad key, a missing required key, a secret that cannot be read.
    """
    channel_type = _value(raw, "type", Key(lambda r: v.parse_choice(r, CHANNEL_TYPES), required=True), origin)
    allowed = known_keys(channel_type)
    for key, (_, where) in raw.items():
        if key not in allowed:
            raise AlertsConfigError(
                f"{where}: unknown key {key!r} for a {channel_type} channel; known: {', '.join(allowed)}"
            )
    common = {key: _value(raw, key, spec, origin) for key, spec in COMMON_KEYS.items()}
    if not CHANNEL_NAME.match(common["name"]):
        raise AlertsConfigError(
            f"{raw['name'][1]}: channel name {v.describe_value(common['name'])} "
            "must be 1-100 letters, digits, '_', '-' or '.'"
        )
    if not common["enabled"]:
        return None
    secrets = {key: _secret(raw, key, origin, environ) for key in SECRET_KEYS[channel_type]}
    target: Union[WebhookTarget, EmailTarget]
    if channel_type == "email":
        email = {key: _value(raw, key, spec, origin) for key, spec in EMAIL_KEYS.items()}
        if email["smtp_port"] is None:
            email["smtp_port"] = _SMTP_DEFAULT_PORT[email["security"]]
        if secrets["password"] is not None and not email["username"]:
            raise AlertsConfigError(f"{origin}: a password is set but no username")
        target = EmailTarget(password=secrets["password"], **email)
    else:
        required = REQUIRED_SECRETS[channel_type]
        url = secrets[required]
        if url is None:
            raise AlertsConfigError(f"{origin}: required: one of {required}_env, {required}_file or {required}")
        if not url.reveal().lower().startswith(("https://", "http://")):
            raise AlertsConfigError(f"{origin} {required} (from {url.origin}): expected an http(s):// URL")
        target = WebhookTarget(url=url, signing_secret=secrets.get("signing_secret"))
    filters = ChannelFilters(
        pipelines=common["pipelines"],
        rules=common["rules"],
        min_severity=common["min_severity"],
        changes=common["changes"],
    )
    return ChannelConfig(
        name=common["name"],
        type=channel_type,
        target=target,
        filters=filters,
        timeout=common["timeout"],
        origin=origin,
    )


def _value(raw: Mapping[str, tuple[Any, str]], key: str, spec: Key, origin: str) -> Any:
    item = raw.get(key)
    if item is None or item[0] is None or (spec.none_is_unset and v.is_unset(item[0])):
        if spec.required:
            raise AlertsConfigError(f"{origin}: required key {key!r} is missing")
        return spec.default
    try:
        return spec.parse(item[0])
    except (ValueError, IndexError) as exc:
        raise AlertsConfigError(f"{item[1]}: {exc or 'bad value'}") from None


def _secret(raw: Mapping[str, tuple[Any, str]], key: str, origin: str, environ: Mapping[str, str]) -> Optional[Secret]:
    """The secret from ``<key>_env``, ``<key>_file`` or ``<key>`` (only one may be set); messages never show it."""
    chosen = [name for name in (f"{key}_env", f"{key}_file", key) if name in raw and not v.is_unset(raw[name][0])]
    if not chosen:
        return None
    if len(chosen) > 1:
        raise AlertsConfigError(f"{raw[chosen[1]][1]}: set only one of {', '.join(chosen)}")
    name = chosen[0]
    value, where = raw[name]
    if not isinstance(value, str):
        raise AlertsConfigError(f"{where}: expected a string")
    value = value.strip()
    if name == key:
        log.warning("%s: a secret is written in the alerts configuration; prefer %s_env or %s_file", where, key, key)
        return Secret(value, where)
    if "://" in value or len(value) > 500:
        what = "an environment variable" if name.endswith("_env") else "a file"
        raise AlertsConfigError(f"{where}: {name} takes the name of {what}, not the secret itself (not shown)")
    if name.endswith("_env"):
        secret = environ.get(value, "").strip()
        if not secret:
            raise AlertsConfigError(f"{where}: environment variable {value} is not set or empty")
        return Secret(secret, f"env {value}")
    path = Path(value).expanduser()
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertsConfigError(f"{where}: cannot read {path}: {type(exc).__name__}") from None
    if not secret:
        raise AlertsConfigError(f"{where}: {path} is empty")
    return Secret(secret, f"file {path}", path=path)
