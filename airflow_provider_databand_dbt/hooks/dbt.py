"""The dbt Cloud provider's hook, made to track runs and to fail clearly.

``DbtCloudTrackingHook`` keeps everything ``DbtCloudHook`` does (same ``dbt_cloud`` connection,
same methods, so the provider's operator, sensor and trigger work on it) and adds:

- ``collect_run``: collect one run with our client and track it (the tracking store, then other sinks);
- a ``test_connection`` that calls an authenticated account endpoint;
- retries decided by the dbt Cloud client's ``RetryPolicy`` (429, 5xx, connection errors and
  timeouts; ``Retry-After`` honoured; a run trigger is not repeated when dbt Cloud may have acted),
  on the sync and the async path (the provider turns every HTTP error into an ``AirflowException``
  before its own retry check sees it, so it never retries them);
- a connection Host that may carry a scheme, ``http://127.0.0.1:8080`` for a local test server
  (plain http is refused for anything but loopback);
- error messages that name the connection field to fix.
"""

from __future__ import annotations

import asyncio
import contextvars
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

import requests
from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook

from airflow_provider_databand_dbt.airflow_compat import AirflowException, AirflowNotFoundException
from airflow_provider_databand_dbt.dbt_cloud.errors import DbtCloudConfigError
from airflow_provider_databand_dbt.dbt_cloud.retry import RetryPolicy
from airflow_provider_databand_dbt.dbt_cloud.urls import DEFAULT_API_URL, normalize_api_url, validate_id
from airflow_provider_databand_dbt.hooks.budget import HookBudget
from airflow_provider_databand_dbt.hooks.config import airflow_tracking_url
from airflow_provider_databand_dbt.hooks.retries import PolicyAttempts, run_with_policy
from airflow_provider_databand_dbt.hooks.sources import current_source

if TYPE_CHECKING:
    from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient
    from airflow_provider_databand_dbt.model.report import RunReport
    from airflow_provider_databand_dbt.model.source import TrackingSource

# The provider's default (1) means "never retry"; polling a long run must survive a 429 or a 503.
DEFAULT_RETRY_LIMIT = 5
# The account an async run read is about, for the request budget of the attempts it makes.
_POLLED_ACCOUNT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "databand_dbt_polled_account", default=None
)


class DbtCloudTrackingHook(DbtCloudHook):
    """Trigger, poll and track dbt Cloud runs through the standard ``dbt_cloud`` Airflow connection.

    Connection fields: Login = Account ID, Password = API token, Host = tenant (``cloud.getdbt.com``
    when empty, ``emea.dbt.com``, an access URL such as ``ab123.us1.dbt.com``, or
    ``http://127.0.0.1:PORT`` for a local test server).

    :param dbt_cloud_conn_id: the dbt Cloud connection id (default ``dbt_cloud_default``).
    :param timeout_seconds: per-request timeout of the provider's requests; None means none.
    :param retry_limit: attempts per request, the first one included (429, 5xx, connection errors and
        timeouts are retried; ``Retry-After`` is honoured within the policy's time budget).
    :param retry_delay: first backoff cap in seconds, doubled on each retry (full jitter).
    :param retry_args: tenacity arguments replacing our retry policy entirely (provider behaviour).

    ``retry_policy`` (a :class:`RetryPolicy`, the dbt Cloud client's) is built from ``retry_limit``
    and ``retry_delay``; assign another one to tune the rest (time budget, statuses).
    """

    hook_name = "dbt Cloud (tracking)"
    # Where the shared request budget is (None: ``[databand_dbt] tracking_url``); our operator and sensor set theirs.
    tracking_url: str | None = None

    def __init__(
        self,
        dbt_cloud_conn_id: str = DbtCloudHook.default_conn_name,
        timeout_seconds: int | None = None,
        retry_limit: int = DEFAULT_RETRY_LIMIT,
        retry_delay: float = 1.0,
        retry_args: dict[Any, Any] | None = None,
    ) -> None:
        super().__init__(
            dbt_cloud_conn_id,
            timeout_seconds=timeout_seconds,
            retry_limit=retry_limit,
            retry_delay=retry_delay,
            retry_args=retry_args,
        )
        # Given retry_args mean the provider's tenacity retries, as documented by the provider.
        self._provider_retries = bool(retry_args)
        self.retry_policy = RetryPolicy(max_attempts=retry_limit, backoff_base=retry_delay)

    # -- connection ---------------------------------------------------------------------------

    @classmethod
    def get_connection(cls, conn_id: str):
        try:
            return super().get_connection(conn_id)
        except AirflowNotFoundException:
            raise AirflowNotFoundException(
                f"The dbt Cloud connection {conn_id!r} is not defined: create a connection of type "
                f"'dbt_cloud' with the Account ID in Login, the API token in Password and the tenant in "
                f"Host (or set the environment variable AIRFLOW_CONN_{conn_id.upper()})."
            ) from None

    async def _resolve_connection_async(self):
        """The connection for async code, also when only the metadata DB knows it under ``dags test``.

        Airflow 3's ``airflow dags test`` runs triggers in-process with supervisor comms that have
        no async channel, so the async lookup sees only ``AIRFLOW_CONN_*`` variables and misses a
        connection made with ``airflow connections add``. The synchronous lookup, in a worker
        thread (never on the event loop), reaches it.
        """
        try:
            return await super()._resolve_connection_async()
        except AirflowNotFoundException:
            conn = await asyncio.to_thread(self.get_connection, self.dbt_cloud_conn_id)
            self.__dict__["connection"] = self._require_password(conn)
            return conn

    @staticmethod
    def _require_password(conn):
        if not conn.password:
            # The provider's phrase first: code and tests written against DbtCloudHook match on it.
            raise AirflowException(
                f"An API token is required to connect to dbt Cloud: the dbt Cloud connection {conn.conn_id!r} "
                f"has no API token; put a dbt Cloud personal access token or service token in its Password "
                f"field (labelled 'API Token')."
            )
        return conn

    @staticmethod
    def account_id_of(conn) -> int:
        """The account id from the connection's Login field, with a message naming the field when wrong."""
        if not conn.login:
            raise AirflowException(
                f"The dbt Cloud connection {conn.conn_id!r} has no account id: put the numeric dbt Cloud "
                f"account id in its Login field (labelled 'Account ID'), or pass account_id to the task."
            )
        try:
            return validate_id(conn.login, "account_id")
        except DbtCloudConfigError:
            raise AirflowException(
                f"The Login field (Account ID) of the dbt Cloud connection {conn.conn_id!r} must be the "
                f"numeric dbt Cloud account id (the number after /deploy/ in dbt Cloud URLs)."
            ) from None

    def _resolve_account_id(self) -> int:
        if not hasattr(self, "_cached_account_id"):
            self._cached_account_id = self.account_id_of(self.get_connection(self.dbt_cloud_conn_id))
        return self._cached_account_id

    async def _resolve_account_id_async(self) -> int:
        if not hasattr(self, "_cached_account_id"):
            self._cached_account_id = self.account_id_of(await self._resolve_connection_async())
        return self._cached_account_id

    def api_url_of(self, conn) -> str:
        """``scheme://host[:port]`` of the connection's dbt Cloud API (https unless loopback)."""
        try:
            return normalize_api_url(conn.host or DEFAULT_API_URL)
        except DbtCloudConfigError as exc:
            raise AirflowException(
                f"The Host field (Tenant) of the dbt Cloud connection {conn.conn_id!r} is invalid: {exc}"
            ) from None

    @cached_property
    def request_budget(self) -> HookBudget:
        """The account request budget shared through the tracking store (``tracking_url``), for the provider's calls."""
        return HookBudget(self.api_url, self.tracking_url)

    @cached_property
    def api_url(self) -> str:
        """The dbt Cloud API base URL of this hook's connection."""
        return self.api_url_of(self.connection)

    # -- the provider's URL building, taught about schemes ------------------------------------

    def get_conn(self, *args, **kwargs) -> requests.Session:
        session = super().get_conn(*args, **kwargs)
        self.base_url = f"{self.api_url}/"
        return session

    @staticmethod
    def get_request_url_params(
        tenant: str, endpoint: str, include_related: list[str] | None = None, *, api_version: str = "v2"
    ) -> tuple[str, dict[str, Any]]:
        base = tenant.rstrip("/") if "://" in tenant else f"https://{tenant}"
        params: dict[str, Any] = {"include_related": include_related} if include_related else {}
        return f"{base}/api/{api_version}/accounts/{endpoint or ''}", params

    def tenant_of(self, conn) -> str:
        """The tenant as the provider gives it (``single.tenant.getdbt.com``) for an https API on the
        default port; otherwise the base URL (``http://127.0.0.1:8080``), which our URL building accepts.
        """
        api_url = self.api_url_of(conn)
        bare = api_url.removeprefix("https://")
        return bare if bare != api_url and ":" not in bare.rsplit("]", 1)[-1] else api_url

    async def get_headers_tenants_from_connection(self) -> tuple[dict[str, Any], str]:
        """The provider's headers and tenant; a Host with a scheme or a port is kept as a base URL."""
        headers, _tenant = await super().get_headers_tenants_from_connection()
        return headers, self.tenant_of(await self._resolve_connection_async())

    # -- errors and retries -------------------------------------------------------------------

    def check_response(self, response: requests.Response) -> None:
        """Raise a retryable ``HTTPError`` for 429/5xx and a clear ``AirflowException`` otherwise."""
        if response.ok:
            return
        request = f"{response.request.method} {_path_of(response)}"
        what = f"dbt Cloud answered {response.status_code} {response.reason} to {request}"
        if response.status_code in self.retry_policy.retry_statuses:
            raise requests.HTTPError(what, response=response)
        message = _api_user_message(response)
        hint = " Check the API token in the connection's Password field." if response.status_code == 401 else ""
        raise AirflowException(f"{what}: {message}.{hint}" if message else f"{what}.{hint}")

    def run_with_advanced_retry(self, _retry_args: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        """The provider's sync requests, retried under ``retry_policy`` (tenacity only with ``retry_args``)."""
        if self._provider_retries:
            return super().run_with_advanced_retry(_retry_args, *args, **kwargs)
        method = getattr(self, "method", "GET")
        endpoint = kwargs.get("endpoint")

        def attempt() -> Any:
            self.request_budget.acquire(endpoint)
            try:
                return self.run(*args, **kwargs)
            except Exception as error:
                self.request_budget.failed(endpoint, error)
                raise

        return run_with_policy(
            attempt,
            self.retry_policy,
            what=f"{method} {kwargs.get('endpoint') or ''}",
            repeatable=method != "POST",
            logger=self.log,
        )

    def _a_get_retry_object(self) -> Any:
        """The provider's async attempts (``get_job_details``), decided by ``retry_policy``.

        Each attempt first takes a token of the polled account's shared request budget (in a worker
        thread: the store is synchronous) and reports a 429 to it.
        """
        if self._provider_retries:
            return super()._a_get_retry_object()
        account = _POLLED_ACCOUNT.get()

        async def before() -> None:
            await asyncio.to_thread(self.request_budget.acquire, account)

        return PolicyAttempts(
            self.retry_policy,
            what="GET run status",
            logger=self.log,
            before=before if account is not None else None,
            on_error=lambda error: self.request_budget.failed(account, error),
        )

    async def get_job_details(
        self, run_id: int, account_id: int | None = None, include_related: list[str] | None = None
    ) -> Any:
        """The provider's async read of a run (the triggerer's polling), its account known to the request budget."""
        if account_id is None and self.dbt_cloud_conn_id:
            account_id = await self._resolve_account_id_async()
        token = _POLLED_ACCOUNT.set(account_id)
        try:
            return await super().get_job_details(run_id, account_id, include_related)
        finally:
            _POLLED_ACCOUNT.reset(token)

    def test_connection(self) -> tuple[bool, str]:
        """Check the token against the connection's account (``GET /api/v2/accounts/<id>/``)."""
        try:
            account_id = self._resolve_account_id()
            account = self.get_account(account_id=account_id).json().get("data") or {}
        except Exception as exc:
            return False, str(exc)
        name = account.get("name") or "unnamed"
        return True, f"Connected to dbt Cloud account {account_id} ({name}) at {self.api_url}."

    # -- tracking -----------------------------------------------------------------------------

    def get_tracking_client(self, **client_options: Any) -> DbtCloudClient:
        """Our dbt Cloud client for this connection (the collector's HTTP path, with its own retries).

        :param client_options: keyword arguments of ``DbtCloudClient`` (timeout, retry...).
        """
        from airflow_provider_databand_dbt.dbt_cloud.client import DbtCloudClient

        # The provider's ``connection`` already refused a connection without a token.
        return DbtCloudClient(self.connection.password or "", api_url=self.api_url, **client_options)

    def collect_run(
        self,
        run_id: int | str,
        account_id: int | str | None = None,
        *,
        source: TrackingSource | None = None,
        tracking_url: str | None = None,
        store: bool = True,
        client_options: dict[str, Any] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> RunReport:
        """Collect one dbt Cloud run (steps, node results) and save it in the tracking store.

        :param run_id: the dbt Cloud run id.
        :param account_id: the dbt Cloud account id; defaults to the connection's Login.
        :param source: who tracked it; defaults to the current Airflow task when called in one.
        :param tracking_url: store URL; defaults to ``[databand_dbt] tracking_url``, then env
            ``DATABAND_DBT_TRACKING_URL``, then a SQLite file under ``$AIRFLOW_HOME/databand_dbt``.
        :param store: False to only return the report without saving it.
        :param client_options: keyword arguments of ``DbtCloudClient`` (timeout, retry...).
        :param progress: called with one human-readable line per step.
        :return: the run's report (also what was stored).
        """
        from airflow_provider_databand_dbt.sinks.service import tracking

        run_id = validated_id(run_id, "run_id")
        account_id = self._resolve_account_id() if account_id is None else validated_id(account_id, "account_id")
        # The client first: a connection without token or with a bad Host fails before the store is touched.
        with (
            self.get_tracking_client(**(client_options or {})) as client,
            tracking(bool(store), airflow_tracking_url(tracking_url), client=client, label="airflow") as service,
        ):
            return service.track(client, account_id, run_id, source=source or current_source(), progress=progress)


def validated_id(value: Any, name: str) -> int:
    """A dbt Cloud id (Airflow templates render strings) as an int, or an AirflowException naming ``name``."""
    try:
        return validate_id(value, name)
    except DbtCloudConfigError as exc:
        raise AirflowException(str(exc)) from None


def _path_of(response: requests.Response) -> str:
    # Only the path: the query string is ours but a URL in a message invites pasting secrets next to it.
    return requests.utils.urlparse(response.request.url or "").path or "/"


def _api_user_message(response: requests.Response) -> str | None:
    try:
        status = response.json().get("status") or {}
    except (ValueError, AttributeError):
        return None
    message = status.get("user_message") or status.get("developer_message")
    return str(message)[:300] if message else None
