"""One exception tree for everything that can go wrong talking to dbt Cloud.

Messages say what to do next and never contain the API token: the client only ever
passes the URL path (no query string with secrets, no headers) into them.
"""

from __future__ import annotations


class DbtCloudError(Exception):
    """Base class: any failure reaching or understanding the dbt Cloud API.

    :param message: what happened and what to do about it.
    :param status_code: HTTP status, when there was a response.
    :param api_code: dbt Cloud's own ``status.code`` from the response body, when present.
    :param api_message: dbt Cloud's ``status.user_message`` (or ``developer_message``).
    :param url: the request URL without query string.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        api_code: int | None = None,
        api_message: str | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.api_code = api_code
        self.api_message = api_message
        self.url = url

    def __reduce__(self):
        # Keep keyword-only details when pickled (Airflow, multiprocessing).
        return (_rebuild_error, (type(self), self.message, self.__dict__))

    @property
    def is_retryable(self) -> bool:
        return False


def _rebuild_error(cls, message, state):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class DbtCloudConfigError(DbtCloudError, ValueError):
    """Bad input before any request: malformed API URL, non-numeric account or run id, no token."""


class DbtCloudAuthError(DbtCloudError):
    """401: the token is missing, wrong, expired or revoked."""


class DbtCloudForbiddenError(DbtCloudError):
    """403: the token is valid but may not read this account or object."""


class DbtCloudNotFoundError(DbtCloudError):
    """404: the account, run, job, project, environment or artifact does not exist (for this token)."""


class DbtCloudRateLimitError(DbtCloudError):
    """429 that outlasted the retry budget.

    :param retry_after: seconds dbt Cloud asked us to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def is_retryable(self) -> bool:
        return True


class DbtCloudServerError(DbtCloudError):
    """5xx that outlasted the retry budget."""

    @property
    def is_retryable(self) -> bool:
        return True


class DbtCloudTimeoutError(DbtCloudError):
    """No answer within the connect/read timeout, after retries."""

    @property
    def is_retryable(self) -> bool:
        return True


class DbtCloudConnectionError(DbtCloudError):
    """The host could not be reached (DNS, refused, TLS), after retries."""

    @property
    def is_retryable(self) -> bool:
        return True


class DbtCloudInvalidResponseError(DbtCloudError):
    """A response we cannot use: not JSON, an unexpected shape, a truncated or oversized body."""


class ArtifactError(DbtCloudError):
    """An artifact (manifest.json, run_results.json, sources.json) is missing, truncated or malformed."""
