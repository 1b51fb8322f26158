"""Secrets of the alert channels (webhook URLs, SMTP passwords): kept out of reprs, logs and error messages.

A Slack or Teams incoming-webhook URL *is* the credential (anyone holding it can post), so the whole URL
is a secret; messages name a channel by its name and, at most, the URL's host.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit

MASK = "***"
# Loggers of the libraries that send (urllib3 logs each request's path at DEBUG: a webhook's secret).
SENDING_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection")

_lock = threading.Lock()
_known: dict[str, None] = {}  # every secret value and secret URL part seen, longest first when used


class Secret:
    """A secret value: ``str()`` and ``repr()`` never show it; :meth:`reveal` does, for the one call that sends it.

    :param value: the secret.
    :param origin: where it came from, for messages (``env SLACK_URL``, ``file /run/secrets/x``), never the value.
    :param path: the file it was read from, if any (watched so that a rotated secret is read again).
    """

    __slots__ = ("_value", "origin", "path")

    def __init__(self, value: str, origin: str = "", path: Optional[Path] = None) -> None:
        self._value = value
        self.origin = origin
        self.path = path
        with _lock:
            _known.update(dict.fromkeys(_secret_parts(value)))
        _install_log_filter()

    def reveal(self) -> str:
        return self._value

    def host(self) -> str:
        """The host of a secret URL (``hooks.slack.com``), safe to print; empty when it is not a URL."""
        try:
            return urlsplit(self._value).hostname or ""
        except ValueError:
            return ""

    def site(self) -> str:
        """``scheme://host[:port]`` of a secret URL, safe to print (no user, path or query)."""
        try:
            split = urlsplit(self._value)
            port = f":{split.port}" if split.port else ""
        except ValueError:
            return ""
        return f"{split.scheme}://{split.hostname}{port}" if split.hostname else ""

    def __repr__(self) -> str:
        return f"Secret({MASK}, origin={self.origin!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact(text: str, secrets: Iterable[Secret | None]) -> str:
    """``text`` with every secret (and, for URLs, every path and query of it) replaced by ``***``.

    For messages built from third-party errors (requests, smtplib), which may quote the URL they called.
    """
    parts = [part for secret in secrets if secret is not None for part in _secret_parts(secret.reveal())]
    return _replace(text, parts)


def _secret_parts(value: str) -> list[str]:
    """The value, and for a URL its path and query: each alone gives the webhook away."""
    parts = [value]
    try:
        split = urlsplit(value)
        parts += [split.path, split.query] if split.hostname else []
    except ValueError:
        pass
    return [part for part in parts if part and len(part) > 3]


def _replace(text: str, parts: Iterable[str]) -> str:
    for part in sorted(parts, key=len, reverse=True):
        text = text.replace(part, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a log record that contains a known secret, on the loggers of the libraries that send."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            parts = list(_known)
        if not parts:
            return True
        message = record.getMessage()
        cleaned = _replace(message, parts)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_filter = RedactingFilter()


def _install_log_filter() -> None:
    """Once per process: urllib3 logs ``"POST /services/T.../B.../x..." 200`` at DEBUG (e.g. with ``-v``)."""
    for name in SENDING_LOGGERS:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
