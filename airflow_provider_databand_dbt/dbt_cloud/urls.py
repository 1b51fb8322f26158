"""Validate what users give us (API URL, ids, token) before anything goes over the wire.

Every check raises :class:`DbtCloudConfigError` with a message saying what to pass instead.
Messages never echo a value that could be a secret: no userinfo, query string or token.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.tokens import TOKEN_HINT, looks_like_token

DEFAULT_API_URL = "https://cloud.getdbt.com"

_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$")
_DIGITS_RE = re.compile(r"^[0-9]+$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_EXAMPLES = "e.g. cloud.getdbt.com, emea.dbt.com, https://ab123.us1.dbt.com or http://127.0.0.1:8080"

# Route templates: the client formats them into paths; metrics use the template as a bounded label.
ACCOUNT = "/api/v2/accounts/{account_id}/"
RUNS = "/api/v2/accounts/{account_id}/runs/"
RUN = "/api/v2/accounts/{account_id}/runs/{run_id}/"
RUN_CANCEL = "/api/v2/accounts/{account_id}/runs/{run_id}/cancel/"
RUN_ARTIFACTS = "/api/v2/accounts/{account_id}/runs/{run_id}/artifacts/"
RUN_ARTIFACT = "/api/v2/accounts/{account_id}/runs/{run_id}/artifacts/{path}"
JOBS = "/api/v2/accounts/{account_id}/jobs/"
JOB = "/api/v2/accounts/{account_id}/jobs/{job_id}/"
JOB_RUN = "/api/v2/accounts/{account_id}/jobs/{job_id}/run/"
JOB_RERUN = "/api/v2/accounts/{account_id}/jobs/{job_id}/rerun/"
PROJECTS = "/api/v3/accounts/{account_id}/projects/"
PROJECT = "/api/v3/accounts/{account_id}/projects/{project_id}/"
ENVIRONMENTS = "/api/v3/accounts/{account_id}/projects/{project_id}/environments/"
ENVIRONMENT = "/api/v3/accounts/{account_id}/environments/{environment_id}/"


def _config_error(value: str, problem: str) -> DbtCloudConfigError:
    return DbtCloudConfigError(
        f"invalid dbt Cloud API URL {value}: {problem}; give only the scheme and host, {_EXAMPLES}"
    )


def _safe_echo(value: str) -> str:
    """The URL as we may show it: without userinfo, query or fragment (where secrets hide)."""
    if any(ch.isspace() for ch in value) or len(value) > 200 or _has_secret_part(value):
        return "(not shown)"
    head, _, _ = value.partition("?")
    head, _, _ = head.partition("#")
    scheme, sep, rest = head.rpartition("://") if "://" in head else ("", "", head)
    netloc, slash, path = rest.partition("/")
    netloc = netloc.rpartition("@")[2]
    return repr(f"{scheme}{sep}{netloc}{slash}{path}")


def _has_secret_part(value: str) -> bool:
    """A token hidden in one part of a URL (a path segment, a parameter), not only the whole value."""
    return any(looks_like_token(part) for part in re.split(r"[/?#&=@:;,]+", value))


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` itself and loopback IP literals (127.0.0.0/8, ::1), judged by address.

    The one loopback test of the package: plain http to dbt Cloud, listening without authentication
    (web view, emulator) and failing fast on a refused connection all use it. Other names, even
    ``*.localhost``, are not loopback: their address comes from a resolver we do not control.

    :param host: a host name or IP literal; brackets around IPv6 (``[::1]``), a zone (``::1%lo``)
        and case do not matter.
    """
    if not isinstance(host, str):
        return False
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


def normalize_api_url(value: str | None) -> str:
    """Turn a host, an access URL or a local test URL into ``scheme://host[:port]``.

    :param value: ``emea.dbt.com``, ``https://ab123.us1.dbt.com``, ``http://127.0.0.1:8080``...
        A bare host means https. A trailing slash is fine; a path, query or credentials are not.
    :raises DbtCloudConfigError: empty, malformed, non-http(s), plain http to a non-loopback host.
    """
    if not isinstance(value, str) or not value.strip():
        raise DbtCloudConfigError(
            f"the dbt Cloud API URL is empty; give the host of your dbt Cloud account, {_EXAMPLES}"
        )
    text = value.strip()
    if looks_like_token(text) and "@" not in text:  # with "@", the credentials check below says more
        raise DbtCloudConfigError(f"invalid dbt Cloud API URL: {TOKEN_HINT}; the API URL is the host, {_EXAMPLES}")
    shown = _safe_echo(text)
    if any(ch.isspace() for ch in text):
        raise _config_error(shown, "it contains whitespace")
    if "://" not in text:
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:(?![0-9])", text):
            raise _config_error(shown, "the scheme must be https (or http for a loopback test server)")
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise _config_error(shown, "the port is not a number between 1 and 65535") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _config_error(shown, "the scheme must be https (or http for a loopback test server)")
    if "@" in parts.netloc:
        raise _config_error(shown, "it must not contain a user name or password (pass the token separately)")
    if parts.path not in ("", "/"):
        path = "" if shown == "(not shown)" else f" ({parts.path!r})"
        raise _config_error(shown, f"it must not contain a path{path}; the client adds /api/v2 and /api/v3 itself")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise _config_error(shown, "it must not contain a query string or fragment")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise _config_error(shown, "it has no host name")
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        raise _config_error(shown, "the port is not a number between 1 and 65535")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _config_error(shown, "the host is not a valid name or IP address") from None
        netloc_host = f"[{host}]"
    else:
        if not _HOST_RE.match(host):
            raise _config_error(shown, "the host is not a valid name or IP address")
        netloc_host = host
    if scheme == "http" and not is_loopback(host):
        raise _config_error(
            shown,
            "plain http would send the API token in clear text; "
            "use https (http is only allowed for localhost/127.0.0.1)",
        )
    netloc = netloc_host if port in (None, _DEFAULT_PORTS[scheme]) else f"{netloc_host}:{port}"
    return f"{scheme}://{netloc}"


def validate_id(value: object, name: str) -> int:
    """A dbt Cloud id as a positive int, from an int or a string of digits.

    :param value: what the user passed (Airflow templates often give strings).
    :param name: the parameter name, used in the error message (``account_id``, ``run_id``...).
    :raises DbtCloudConfigError: anything else, including bools, floats, zero and negatives.
    """
    number: int | None = None
    if isinstance(value, str):
        text = value.strip()
        if _DIGITS_RE.match(text):
            number = int(text)
    elif not isinstance(value, (bool, float)):
        try:
            number = operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            number = None
    if number is None or number <= 0:
        raise DbtCloudConfigError(
            f"{name} must be a positive integer (a number or a string of digits), got {describe_value(value)}"
        )
    return number


def describe_value(value: object) -> str:
    """A bad input value as error messages may show it: short values as repr, long strings only by length.

    A token pasted where an id or number was expected must not end up in a message or log line.
    """
    if isinstance(value, str):
        return repr(value) if len(value) <= 16 else f"a {len(value)}-character string"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def validate_token(token: object) -> str:
    """The API token, checked so that it can go into an HTTP header without leaking in an error.

    :raises DbtCloudConfigError: missing, empty, or containing whitespace/control/non-ASCII characters.
    """
    if not isinstance(token, str) or not token.strip():
        raise DbtCloudConfigError(
            "the dbt Cloud API token is empty: pass a personal access token or service token "
            "(for example from the DBT_CLOUD_API_TOKEN environment variable)"
        )
    text = token.strip()
    if any(ch.isspace() for ch in text):
        raise DbtCloudConfigError(
            "the dbt Cloud API token contains whitespace: pass the token alone, without a 'Token ' or 'Bearer ' prefix"
        )
    if not text.isascii() or not text.isprintable():
        raise DbtCloudConfigError(
            "the dbt Cloud API token contains non-ASCII or control characters: check how it was copied"
        )
    return text


def validate_artifact_path(path: object) -> str:
    """An artifact path such as ``manifest.json`` or ``compiled/x.sql``, URL-quoted for the request path.

    :raises DbtCloudConfigError: empty, absolute, or escaping with ``..``.
    """
    if not isinstance(path, str) or not path.strip():
        raise DbtCloudConfigError("the artifact path is empty: pass a file name such as 'manifest.json'")
    text = path.strip()
    segments = text.split("/")
    if text.startswith("/") or any(seg in ("", ".", "..") for seg in segments) or "\\" in text:
        raise DbtCloudConfigError(
            f"the artifact path {text!r} must be relative, e.g. 'manifest.json' or 'run_results.json'"
        )
    return quote(text, safe="/")


def json_list_param(values: Iterable[str]) -> str | None:
    """``include_related`` as dbt Cloud expects it: a JSON list in one query parameter."""
    items = list(values)
    for item in items:
        if not isinstance(item, str) or not item:
            raise DbtCloudConfigError(f"include_related must be a list of names such as 'run_steps', got {item!r}")
    return json.dumps(items, separators=(",", ":")) if items else None
