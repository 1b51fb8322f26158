"""Secrets of the alert channels (webhook URLs, SMTP passwords): kept out of reprs, logs and error messages.

A Slack or Teams incoming-webhook URL *is* the credential (anyone holding it can post), so the whole URL
is a secret; messages name a channel by its name and, at most, the URL's host.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

MASK = "***"


class Secret:
    """A secret value: ``str()`` and ``repr()`` never show it; :meth:`reveal` does, for the one call that sends it.

    :param value: the secret.
    :param origin: where it came from, for messages (``env SLACK_URL``, ``file /run/secrets/x``), never the value.
    """

    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str = "") -> None:
        self._value = value
        self.origin = origin

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
    for secret in secrets:
        if secret is None:
            continue
        value = secret.reveal()
        parts = [value]
        try:
            split = urlsplit(value)
            parts += [split.path, split.query] if split.hostname else []
        except ValueError:
            pass
        for part in sorted((p for p in parts if p and len(p) > 3), key=len, reverse=True):
            text = text.replace(part, MASK)
    return text
