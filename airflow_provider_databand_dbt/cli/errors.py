"""Errors the CLI reports as usage problems (exit code 2)."""

from __future__ import annotations

from collections.abc import Iterable


class CliUsageError(Exception):
    """Bad command-line input: the message names the flag or value and what to pass instead.

    :param details: lines printed under the message, e.g. the choices when an id is ambiguous.
    """

    def __init__(self, message: str, details: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)
