"""Recognise a secret pasted where a URL, a file name or a variable name belongs, so we refuse it unseen.

A token given as ``--api-url`` would otherwise be echoed in the error (and looked up in DNS as a
host name); given as ``--token-file`` or ``api_token_env`` it would be echoed as a missing file
or variable. Every place that takes such a value asks :func:`looks_like_token` first.
"""

from __future__ import annotations

import re

# dbt Cloud service tokens start with dbtc_, personal access tokens with dbtu_.
_DBT_PREFIXED = re.compile(r"(?<![A-Za-z0-9])dbt[cu]_[A-Za-z0-9_-]{8,}", re.IGNORECASE)
# Legacy dbt Cloud API keys and most generated secrets: long runs of hex digits.
_HEX = re.compile(r"[0-9a-fA-F]{32,}")
# base64 / base64url secrets: long, no dots or path-like separators at the start, mixed character classes.
_BASE64ISH = re.compile(r"[A-Za-z0-9_+/=-]{32,}")
_AUTH_PREFIX = re.compile(r"^(?:token|bearer)\s+", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

TOKEN_HINT = (
    "it looks like an API token (not shown); pass the token through $DBT_CLOUD_API_TOKEN, a token file "
    "or api_token_env, never in this place"
)


def looks_like_token(value: object) -> bool:
    """True when ``value`` (a URL, path, variable name...) is or contains a dbt Cloud token or a secret-shaped string.

    Matches ``dbtc_...``/``dbtu_...`` anywhere, and a whole value (after an optional ``Token ``/``Bearer ``
    prefix, an ``https://`` scheme and a trailing slash) that is 32+ hex digits or 32+ base64 characters
    mixing upper case, lower case and digits. Host names, paths, env variable names and UUIDs do not match.
    """
    if not isinstance(value, str):
        return False
    text = value.strip().strip("'\"").strip()
    if _DBT_PREFIXED.search(text):
        return True
    text = _AUTH_PREFIX.sub("", text)
    text = _SCHEME.sub("", text).rstrip("/")
    if _HEX.fullmatch(text):
        return True
    if not _BASE64ISH.fullmatch(text) or text.startswith("/"):
        return False
    return any(c.islower() for c in text) and any(c.isupper() for c in text) and any(c.isdigit() for c in text)
