"""Errors the CLI reports as usage problems (exit code 2)."""
from __future__ import annotations


class CliUsageError(Exception):
    """Bad command-line input: the message names the flag or value and what to pass instead."""
