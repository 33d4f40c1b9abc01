"""A local simulator of the payment provider's HTTP API (Stripe), for the dev stack and tests.

It implements what the payment-signals flow uses, in the provider's own shapes, so the
real `stripe` client library runs against it unchanged:

* `POST /v1/payment_intents` (form-encoded, `confirm=true`), honouring `Idempotency-Key`
  (same key and parameters: the first answer again; other parameters: an
  `idempotency_error`); `GET /v1/payment_intents/{id}`; Bearer secret-key auth.
* The provider's test payment methods: `pm_card_visa` (and `_mastercard`, `_amex`)
  succeed, `pm_card_visa_chargeDeclined` and `pm_card_chargeDeclined*` are declined with
  HTTP 402 `card_error`, as the provider answers. Simulator-only: `pm_card_visa_earlyWebhook`
  answers "processing" but delivers its webhook *before* answering;
  `pm_card_visa_heldWebhook` answers "processing" and sends nothing until `/_sim/webhooks`
  is asked to (a lost or late webhook).
* Delayed status: metadata `delayed_status=true` makes the answer "processing"; the final
  status follows as a webhook after `delayed_status_after`.
* Webhooks: every intent that reaches a final status is announced to `webhook_url` as a
  `payment_intent.succeeded` / `payment_intent.payment_failed` event, signed the
  provider's way (`Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">`),
  retried on connection errors and 5xx.

Test hooks under `/_sim/`: `GET /_sim/intents`, `GET /_sim/events` (with delivery
statuses) and `POST /_sim/webhooks` to sign (well, badly or not at all) and optionally
deliver any event: a stored intent's, an arbitrary one, or a re-send of an earlier one.

Run it as `python -m switchyard.simulators.provider [--bind host:port]`; settings come from
the environment (`SWITCHYARD_PROVIDER__*`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import httpx
from aiohttp import web

from switchyard.core.components import ProviderSettings, SimulatorSettings
from switchyard.core.settings import LOOPBACK, host_port, load_or_exit, split_host_port

log = logging.getLogger(__name__)
JSON = dict[str, Any]


@dataclass(frozen=True)
class CardBehaviour:
    succeeds: bool
    decline_code: str | None = None
    message: str | None = None
    early_webhook: bool = False
    held_webhook: bool = False


_DECLINED = CardBehaviour(False, "generic_decline", "Your card was declined.")
TEST_METHODS: dict[str, CardBehaviour] = {
    "pm_card_visa": CardBehaviour(True),
    "pm_card_mastercard": CardBehaviour(True),
    "pm_card_amex": CardBehaviour(True),
    "pm_card_visa_chargeDeclined": _DECLINED,
    "pm_card_chargeDeclined": _DECLINED,
    "pm_card_chargeDeclinedInsufficientFunds": CardBehaviour(False, "insufficient_funds",
                                                          "Your card has insufficient funds."),
    "pm_card_visa_earlyWebhook": CardBehaviour(True, early_webhook=True),
    "pm_card_visa_heldWebhook": CardBehaviour(True, held_webhook=True),
}


class ProviderError(Exception):
    """An error answer in the provider's shape: `{"error": {...}}` with an HTTP status."""

    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: JSON = {"error": {"type": type_, "message": message, **extra}}


# --- the provider's shapes and rules (plain functions) ---------------------------------

def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def parse_form(body: str) -> JSON:
    """Form fields as the client library encodes them: `metadata[key]=value` nests."""
    params: JSON = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        if "[" in name and name.endswith("]"):
            outer, inner = name[:-1].split("[", 1)
            params.setdefault(outer, {})[inner] = value
        else:
            params[name] = value
    return params


def behaviour_of(params: JSON) -> CardBehaviour:
    if "amount" not in params or not str(params["amount"]).isdigit() or int(params["amount"]) <= 0:
        raise ProviderError(400, "invalid_request_error", "Invalid positive integer", param="amount")
    method = params.get("payment_method")
    if method not in TEST_METHODS:
        raise ProviderError(400, "invalid_request_error", f"No such PaymentMethod: '{method}'",
                            code="resource_missing", param="payment_method")
    return TEST_METHODS[method]


def new_intent(params: JSON, now: int) -> JSON:
    amount = int(params["amount"])
    return {
        "id": new_id("pi"), "object": "payment_intent", "amount": amount, "amount_received": 0,
        "currency": params.get("currency", "usd"), "status": "processing", "created": now,
        "payment_method": params.get("payment_method"), "confirmation_method": params.get(
            "confirmation_method", "automatic"), "capture_method": "automatic", "livemode": False,
        "metadata": dict(params.get("metadata", {})), "last_payment_error": None,
    }


def settled(intent: JSON, method: CardBehaviour) -> JSON:
    """The intent in its final status for this test method."""
    if method.succeeds:
        return {**intent, "status": "succeeded", "amount_received": intent["amount"]}
    error = {"type": "card_error", "code": "card_declined", "decline_code": method.decline_code,
             "message": method.message}
    return {**intent, "status": "requires_payment_method", "last_payment_error": error}


def decline_error(intent: JSON) -> ProviderError:
    error = intent["last_payment_error"]
    return ProviderError(402, "card_error", error["message"], code="card_declined",
                         decline_code=error["decline_code"], payment_intent=intent)


def event_for(intent: JSON, now: int, type_: str | None = None, idempotency_key: str | None = None) -> JSON:
    if type_ is None:
        type_ = "payment_intent.succeeded" if intent["status"] == "succeeded" else "payment_intent.payment_failed"
    return {
        "id": new_id("evt"), "object": "event", "api_version": "2024-06-20", "created": now,
        "type": type_, "livemode": False, "pending_webhooks": 1, "data": {"object": intent},
        # As the provider does: which API request (and idempotency key) caused the event.
        "request": {"id": None, "idempotency_key": idempotency_key},
    }


def signature_header(payload: str, secret: str, timestamp: int) -> str:
    """The provider's scheme: HMAC-SHA256 over "<timestamp>.<raw body>", hex, as v1."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def forged_signature(payload: str, secret: str, how: str, now: int) -> str | None:
    """A signature for the test hook: "valid", "missing", "wrong-secret", "tampered", "stale"."""
    match how:
        case "valid":
            return signature_header(payload, secret, now)
        case "missing":
            return None
        case "wrong-secret":
            return signature_header(payload, "whsec_not_the_secret", now)
        case "tampered":
            return signature_header(payload + " ", secret, now)
        case "stale":
            return signature_header(payload, secret, now - 3600)
    raise ProviderError(400, "invalid_request_error", f"unknown signature mode {how!r}")


# --- the simulator ---------------------------------------------------------------------

@dataclass
class Simulator:
    settings: ProviderSettings
    intents: dict[str, JSON] = field(default_factory=dict)
    events: list[JSON] = field(default_factory=list)
    keys: dict[str, str | None] = field(default_factory=dict)  # intent id -> its Idempotency-Key
    # Idempotency-Key -> (request fingerprint, HTTP status, body); None while in flight.
    answers: dict[str, tuple[str, int, JSON] | None] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=30))
    delivery_attempts: int = 5

    async def create_intent(self, params: JSON, key: str | None) -> tuple[int, JSON]:
        if key is None:
            return await self._create(params, None)
        fingerprint = json.dumps(params, sort_keys=True)
        if key in self.answers:
            return self._replay(key, fingerprint)
        self.answers[key] = None
        try:
            status, body = await self._create(params, key)
        except BaseException:
            del self.answers[key]
            raise
        self.answers[key] = (fingerprint, status, body)
        return status, body

    def _replay(self, key: str, fingerprint: str) -> tuple[int, JSON]:
        answer = self.answers[key]
        if answer is None:
            raise ProviderError(409, "idempotency_error", "There is currently another in-progress request "
                                "using this Stripe-Idempotent-Key; please try again later.")
        if answer[0] != fingerprint:
            raise ProviderError(400, "idempotency_error", "Keys for idempotent requests can only be used "
                                "with the same parameters they were first used with.")
        log.info("idempotent replay for key %s", key)
        return answer[1], answer[2]

    async def _create(self, params: JSON, key: str | None) -> tuple[int, JSON]:
        method = behaviour_of(params)
        intent = new_intent(params, int(time.time()))
        self.keys[intent["id"]] = key
        final = settled(intent, method)
        delayed = str(params.get("metadata", {}).get("delayed_status", "")).lower() == "true"
        log.info("intent %s: %s for %s, %s", intent["id"], params.get("payment_method"), intent["amount"],
                 "delayed" if delayed else "early webhook" if method.early_webhook else final["status"])
        if method.early_webhook:
            self.intents[intent["id"]] = final
            await self.announce(final)  # the event arrives before the answer does
            return 200, intent
        if method.held_webhook:
            self.intents[intent["id"]] = final  # settled, but only the test hook announces it
            return 200, intent
        if delayed:
            self.intents[intent["id"]] = intent
            self._background(self._settle_later(final))
            return 200, intent
        self.intents[intent["id"]] = final
        self._background(self.announce(final))
        if final["status"] != "succeeded":
            error = decline_error(final)
            return error.status, error.body
        return 200, final

    async def _settle_later(self, final: JSON) -> None:
        await asyncio.sleep(self.settings.delayed_status_after.total_seconds())
        self.intents[final["id"]] = final
        await self.announce(final)

    def _background(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def announce(self, intent: JSON) -> None:
        event = event_for(intent, int(time.time()), idempotency_key=self.keys.get(intent["id"]))
        payload = json.dumps(event)
        self.events.append({"id": event["id"], "type": event["type"], "intentId": intent["id"],
                            "payload": payload, "deliveries": []})
        await self.deliver(event["id"], payload, self.sign(payload))

    def sign(self, payload: str) -> str:
        return signature_header(payload, self.settings.webhook_secret.get_secret_value(), int(time.time()))

    async def deliver(self, event_id: str, payload: str, signature: str | None) -> JSON:
        """POSTs the event like the provider: retried on connection errors and 5xx."""
        headers = {"content-type": "application/json"} | ({"stripe-signature": signature} if signature else {})
        outcome: JSON = {"status": None, "body": None}
        for attempt in range(self.delivery_attempts):
            try:
                response = await self.http.post(self.settings.webhook_url, content=payload, headers=headers)
                outcome = {"status": response.status_code, "body": response.text}
            except httpx.HTTPError as exc:
                outcome = {"status": None, "body": f"{type(exc).__name__}: {exc}"}
            self._record_delivery(event_id, outcome)
            log.info("webhook %s -> %s (attempt %d)", event_id, outcome["status"], attempt + 1)
            if outcome["status"] is not None and outcome["status"] < 500:
                break
            await asyncio.sleep(0.2 * 2**attempt)
        return outcome

    def _record_delivery(self, event_id: str, outcome: JSON) -> None:
        for event in self.events:
            if event["id"] == event_id:
                event["deliveries"].append(outcome["status"])

    async def test_webhook(self, request: JSON) -> JSON:
        """The `/_sim/webhooks` hook: build or re-send an event, sign it as asked, deliver."""
        payload = self._hook_payload(request)
        event_id = json.loads(payload).get("id", "")
        signature = forged_signature(payload, self.settings.webhook_secret.get_secret_value(),
                                     request.get("signature", "valid"), int(time.time()))
        delivery = await self.deliver(event_id, payload, signature) if request.get("deliver", True) else None
        return {"eventId": event_id, "payload": payload, "signature": signature, "delivery": delivery}

    def _hook_payload(self, request: JSON) -> str:
        if "resend" in request:
            for event in self.events:
                if event["id"] == request["resend"]:
                    return str(event["payload"])
            raise ProviderError(404, "invalid_request_error", f"No such event: '{request['resend']}'")
        if "event" in request:
            return json.dumps(request["event"])
        intent = self.intents.get(request.get("intentId", ""))
        if intent is None:
            raise ProviderError(404, "invalid_request_error", f"No such payment_intent: '{request.get('intentId')}'")
        event = event_for(intent, int(time.time()), request.get("type"), self.keys.get(intent["id"]))
        payload = json.dumps(event)
        self.events.append({"id": event["id"], "type": event["type"], "intentId": intent["id"],
                            "payload": payload, "deliveries": []})
        return payload


# --- HTTP ------------------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(simulator: Simulator) -> web.Application:
    secret = simulator.settings.secret_key.get_secret_value()
    # The provider takes the key as a Bearer token or as the Basic user (`curl -u sk_...:`).
    accepted = {f"Bearer {secret}", "Basic " + base64.b64encode(f"{secret}:".encode()).decode()}

    @web.middleware
    async def provider_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.path.startswith("/v1/") and request.headers.get("authorization") not in accepted:
                raise ProviderError(401, "invalid_request_error", "Invalid API Key provided.")
            return await handler(request)
        except ProviderError as exc:
            return web.json_response(exc.body, status=exc.status)

    async def create(request: web.Request) -> web.Response:
        params = parse_form(await request.text())
        status, body = await simulator.create_intent(params, request.headers.get("idempotency-key"))
        return web.json_response(body, status=status)

    async def retrieve(request: web.Request) -> web.Response:
        intent = simulator.intents.get(request.match_info["id"])
        if intent is None:
            raise ProviderError(404, "invalid_request_error", f"No such payment_intent: '{request.match_info['id']}'",
                                code="resource_missing")
        return web.json_response(intent)

    async def hook(request: web.Request) -> web.Response:
        return web.json_response(await simulator.test_webhook(await request.json()))

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def intents(_: web.Request) -> web.Response:
        return web.json_response({"data": list(simulator.intents.values())})

    async def events(_: web.Request) -> web.Response:
        return web.json_response({"data": simulator.events})

    async def close(_: web.Application) -> None:
        await simulator.http.aclose()

    app = web.Application(middlewares=[provider_errors])
    app.router.add_post("/v1/payment_intents", create)
    app.router.add_get("/v1/payment_intents/{id}", retrieve)
    app.router.add_get("/_sim/health", health)
    app.router.add_get("/_sim/intents", intents)
    app.router.add_get("/_sim/events", events)
    app.router.add_post("/_sim/webhooks", hook)
    app.on_cleanup.append(close)
    return app


def bind_address(settings: ProviderSettings) -> tuple[str, int]:
    return host_port(settings.api_base)


def is_local(settings: ProviderSettings) -> bool:
    """Only a loopback API base means the simulator; anything else is a real provider."""
    return bind_address(settings)[0] in LOOPBACK




def main(argv: list[str] | None = None) -> None:
    settings = load_or_exit(SimulatorSettings).provider
    parser = argparse.ArgumentParser(description="the payment provider simulator")
    parser.add_argument("--bind", default="{}:{}".format(*bind_address(settings)))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # deliveries are logged once, above
    host, port = split_host_port(args.bind)
    log.info("provider simulator on %s, webhooks to %s", args.bind, settings.webhook_url)
    web.run_app(build_app(Simulator(settings)), host=host, port=port, print=None)


if __name__ == "__main__":
    main()
