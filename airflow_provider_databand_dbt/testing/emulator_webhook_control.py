"""Control-plane routes for webhooks under ``/_emulator/webhooks``: subscribe, faults, timing, delivery log.

``POST /_emulator/webhooks`` takes ``url``, ``secret`` (or none: one is made and answered once, as dbt Cloud's
create call answers ``hmac_secret``), ``account_id``, ``event_types``, ``job_ids`` and ``name``. A secret given
by the caller is never echoed.
"""

from __future__ import annotations

import re
from typing import Any

from airflow_provider_databand_dbt.testing.emulator_api import ApiRequest, BadRequest, Reply, Route, envelope
from airflow_provider_databand_dbt.testing.emulator_state import NotFound
from airflow_provider_databand_dbt.testing.emulator_webhook_dispatch import WebhookDispatcher, new_secret
from airflow_provider_databand_dbt.testing.emulator_webhooks import WebhookError, WebhookFault

_SUBSCRIBE_FIELDS = {"url", "secret", "account_id", "event_types", "job_ids", "name"}
_TIMING_FIELDS = {"timeout_seconds", "retry_base_seconds", "completed_delay_seconds"}
_ID = r"(?P<subscription>wsu_[A-Za-z0-9]+)"


def _body(req: ApiRequest, allowed: set[str]) -> dict[str, Any]:
    body = req.json_body()
    unknown = set(body) - allowed
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(allowed))}")
    return body


class WebhookControl:
    """The webhook routes, added to the control plane's own."""

    def __init__(self, webhooks: WebhookDispatcher, default_account_id: int = 1) -> None:
        self.webhooks = webhooks
        self.default_account_id = default_account_id
        base = r"^/_emulator/webhooks"
        self.routes: list[Route] = [
            ("POST", re.compile(base + r"/?$"), self.subscribe),
            ("GET", re.compile(base + r"/?$"), self.list_subscriptions),
            ("GET", re.compile(base + r"/deliveries/?$"), self.list_deliveries),
            ("DELETE", re.compile(base + r"/deliveries/?$"), self.clear_deliveries),
            ("POST", re.compile(base + r"/faults/?$"), self.add_fault),
            ("GET", re.compile(base + r"/faults/?$"), self.list_faults),
            ("DELETE", re.compile(base + r"/faults/?$"), self.clear_faults),
            ("POST", re.compile(base + r"/timing/?$"), self.set_timing),
            ("GET", re.compile(base + rf"/{_ID}/?$"), self.get_subscription),
            ("DELETE", re.compile(base + rf"/{_ID}/?$"), self.delete_subscription),
            ("POST", re.compile(base + rf"/{_ID}/active/?$"), self.set_active),
        ]

    def subscribe(self, req: ApiRequest) -> Reply:
        body = _body(req, _SUBSCRIBE_FIELDS)
        secret = body.pop("secret", None)
        made = secret is None
        try:
            sub = self.webhooks.subscribe(
                body.pop("url", ""),
                new_secret() if made else secret,
                account_id=int(body.pop("account_id", self.default_account_id)),
                **body,
            )
        except (WebhookError, TypeError) as exc:
            raise BadRequest(str(exc)) from None
        data = sub.as_dict()
        if made:
            data["hmac_secret"] = sub.secret
        return envelope(data, 201)

    def list_subscriptions(self, req: ApiRequest) -> Reply:
        return envelope([s.as_dict() for s in self.webhooks.subscriptions()])

    def get_subscription(self, req: ApiRequest, subscription: str) -> Reply:
        return envelope(self._find(subscription).as_dict())

    def delete_subscription(self, req: ApiRequest, subscription: str) -> Reply:
        self._find(subscription)
        self.webhooks.unsubscribe(subscription)
        return envelope({"id": subscription})

    def set_active(self, req: ApiRequest, subscription: str) -> Reply:
        body = _body(req, {"active"})
        if not isinstance(body.get("active"), bool):
            raise BadRequest("the body takes one field: 'active' (true or false)")
        self._find(subscription)
        return envelope(self.webhooks.set_active(subscription, body["active"]).as_dict())

    def list_deliveries(self, req: ApiRequest) -> Reply:
        records = [r.as_dict() for r in self.webhooks.delivery_log()]
        return envelope(records, extra={"queued": self.webhooks.queued()})

    def clear_deliveries(self, req: ApiRequest) -> Reply:
        self.webhooks.deliveries.clear()
        return envelope({"cleared": True})

    def add_fault(self, req: ApiRequest) -> Reply:
        try:
            fault = self.webhooks.add_fault(WebhookFault.from_dict(req.json_body()))
        except (WebhookError, TypeError, ValueError) as exc:
            raise BadRequest(str(exc)) from None
        return envelope(fault.as_dict(), 201)

    def list_faults(self, req: ApiRequest) -> Reply:
        return envelope([f.as_dict() for f in self.webhooks.faults.snapshot()])

    def clear_faults(self, req: ApiRequest) -> Reply:
        self.webhooks.faults.clear()
        return envelope({"cleared": True})

    def set_timing(self, req: ApiRequest) -> Reply:
        body = _body(req, _TIMING_FIELDS)
        timing = self.webhooks.timing
        for name, value in body.items():
            minimum_ok = value > 0 if name == "timeout_seconds" else value >= 0
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not minimum_ok:
                raise BadRequest(f"{name} must be a number of seconds (more than 0 for the timeout)")
            setattr(timing, name, float(value))
        return envelope({name: getattr(timing, name) for name in sorted(_TIMING_FIELDS)})

    def _find(self, subscription: str) -> Any:
        try:
            return self.webhooks.subscription(subscription)
        except KeyError:
            raise NotFound(f"webhook {subscription}") from None
