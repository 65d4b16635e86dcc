"""The validation rules of the local Hellotext stand-in, kept pure (values in, verdict out).

They follow `shared/hellotext-api.md`: what the real API is documented to refuse, the
stand-in refuses with the same status and the same error body shape
(`{"errors": [{"type", "message", "parameter"}]}`). Where the docs are silent the rule is
marked *inferred* and errs on the strict side, so a sloppy agent fails here first.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

# Hellotext's built-in tracking actions (hellotext.js README, help centre guides).
BUILTIN_ACTIONS = frozenset(
    {
        "app.installed", "app.removed", "app.spent",
        "cart.abandoned", "cart.added", "cart.removed", "cart.viewed",
        "checkout.started",
        "coupon.redeemed",
        "form.completed",
        "order.placed", "order.confirmed", "order.cancelled", "order.shipped",
        "order.delivered",
        "page.viewed",
        "product.purchased", "product.viewed",
        "refund.requested", "refund.received",
        "subscribed", "unsubscribed",  # no dot: tracking-events.md calls them exceptions
    }
)  # fmt: skip
# Built-ins that may be tracked without an object (page views; subscription actions).
_OBJECTLESS_PREFIXES = ("page.", "subscription.", "subscribed", "unsubscribed")
_ACTION_NAME = re.compile(r"[a-z0-9_]+\.[a-z0-9_]+")
_UNDOTTED = ("subscribed", "unsubscribed")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
_PRODUCT_REQUIRED = ("name", "reference", "source")
_LETTERS = string.ascii_letters


class Rejection(Exception):
    """One refused request: HTTP status plus the error objects of the body."""

    def __init__(self, status: int, type_: str, message: str, parameter: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {
            "errors": [{"type": type_, "message": message, "parameter": parameter}]
        }


def error_body(type_: str, message: str, parameter: str | None = None) -> dict[str, Any]:
    return {"errors": [{"type": type_, "message": message, "parameter": parameter}]}


@cache
def iso_currencies() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


def profile_id(rng_choice: Any) -> str:
    """An id shaped like Hellotext's (`BvYeyVYz`): 8 random ASCII letters."""
    return "".join(rng_choice(_LETTERS) for _ in range(8))


def validate_event(
    body: Any,
    *,
    actions: frozenset[str],
    profiles: Mapping[str, Any],
    sessions: Mapping[str, str],
    has_order: Callable[[str], bool] = lambda _id: True,
) -> None:
    """Raise Rejection when `POST /v1/attribution/events` would refuse `body`.

    `actions` are the business's custom actions; `sessions` maps session id -> profile id
    for sessions attached with `PATCH /v1/sessions/<id>`; `has_order`: an order id exists.
    """
    if not isinstance(body, dict):
        raise Rejection(400, "invalid", "the body must be a JSON object", None)
    action = body.get("action")
    if action is None:
        raise Rejection(400, "parameter_missing", "action is required", "action")
    if action == "":
        raise Rejection(400, "parameter_invalid_empty", "action cannot be empty", "action")
    named = isinstance(action, str) and (_ACTION_NAME.fullmatch(action) or action in _UNDOTTED)
    if not named:
        raise Rejection(422, "invalid", "action must be lowercase object.activity", "action")
    for wrong, right in (("profile_id", "profile"), ("session_id", "session")):
        if wrong in body:
            raise Rejection(400, "not_allowed", f"unknown parameter, use {right}", wrong)
    if action not in BUILTIN_ACTIONS and action not in actions:
        raise Rejection(404, "not_found", f"action {action} does not exist", "action")
    _check_identity(body, profiles, sessions)
    check_money(body)
    _check_object(action, body, has_order)
    _check_tracked_at(body.get("tracked_at"))
    _check_metadata(body.get("metadata"))


def _check_identity(
    body: dict[str, Any], profiles: Mapping[str, Any], sessions: Mapping[str, str]
) -> None:
    profile, session = body.get("profile"), body.get("session")
    if profile is None and session is None:
        raise Rejection(422, "parameter_missing", "profile or session is required", "profile")
    for name, value in (("profile", profile), ("session", session)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise Rejection(422, "invalid", f"{name} must be a non-empty id", name)
    if profile is not None and profile not in profiles:
        raise Rejection(404, "not_found", "profile does not exist", "profile")
    if profile is not None and session is not None:
        owner = sessions.get(session)
        if owner is not None and owner != profile:
            raise Rejection(
                422, "identity_assigned", "session belongs to another profile", "session"
            )


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def check_money(body: dict[str, Any]) -> None:
    amount, currency = body.get("amount"), body.get("currency")
    if amount is not None and _decimal(amount) is None:
        raise Rejection(422, "invalid", "amount must be a number", "amount")
    if currency is not None:
        if amount is None:
            raise Rejection(422, "parameter_missing", "amount is required with currency", "amount")
        if not isinstance(currency, str) or currency not in iso_currencies():
            raise Rejection(422, "invalid", "currency must be an ISO 4217 code", "currency")


def _check_object(action: str, body: dict[str, Any], has_order: Callable[[str], bool]) -> None:
    kind = action.split(".", 1)[0]
    params = body.get("object_parameters", body.get(f"{kind}_parameters"))
    obj = body.get("object")
    if obj is not None and (not isinstance(obj, str) or not obj.strip()):
        raise Rejection(422, "invalid", "object must be an object id", "object")
    if params is not None and not isinstance(params, dict):
        raise Rejection(422, "object_invalid", "object_parameters must be an object", "object")
    needs_object = action in BUILTIN_ACTIONS and not action.startswith(_OBJECTLESS_PREFIXES)
    if needs_object and obj is None and params is None:
        raise Rejection(422, "parameter_missing", f"{action} needs an object", "object")
    if action == "product.purchased" and params is not None:
        for key in _PRODUCT_REQUIRED:
            value = params.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise Rejection(422, "object_invalid", f"the product needs {key}", key)
        _check_price(params.get("price"))
    if action == "coupon.redeemed" and params is not None:
        _check_coupon(params)
    if action == "refund.received" and params is not None:
        _check_refund(params)
    if kind == "order" and isinstance(obj, str) and not has_order(obj):
        # orders-with-api.md: "Send `object` with the saved order ID".
        raise Rejection(404, "not_found", "order does not exist", "object")


def _present(params: dict[str, Any], key: str, what: str) -> None:
    value = params.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise Rejection(422, "parameter_missing", f"the {what} needs {key}", key)


def _check_coupon(params: dict[str, Any]) -> None:
    """Coupons are identified by their code (coupons-with-api.md: unique, case-sensitive);
    the WooCommerce plugin sends {type: "coupon", reference, code, description, destination_url}."""
    _present(params, "code", "coupon")
    if params.get("type", "coupon") != "coupon":
        raise Rejection(422, "object_invalid", "type must be coupon", "type")
    url = params.get("destination_url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        raise Rejection(422, "invalid", "destination_url must be a URL", "destination_url")


def _check_refund(params: dict[str, Any]) -> None:
    """*inferred* from the WooCommerce plugin's refund: {reference, source, amount, currency,
    total {amount, currency}}; strict: all but total required."""
    for key in ("reference", "source", "amount", "currency"):
        _present(params, key, "refund")
    check_money(params)
    _check_price(params.get("total"))


def _check_price(price: Any) -> None:
    """*inferred*: a product price is `{amount, currency}` like an event's money."""
    if price is None:
        return
    if not isinstance(price, dict):
        raise Rejection(422, "object_invalid", "price must be {amount, currency}", "price")
    try:
        check_money(price)
    except Rejection as exc:
        exc.body["errors"][0]["parameter"] = f"price.{exc.body['errors'][0]['parameter']}"
        raise


def _check_tracked_at(value: Any) -> None:
    if value is None:
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value >= 0:
            return
    elif isinstance(value, str) and value.strip():
        if value.isdigit():
            return
        try:
            datetime.fromisoformat(value)
            return
        except ValueError:
            pass
    raise Rejection(422, "invalid", "tracked_at must be ISO 8601 or Unix seconds", "tracked_at")


def _check_metadata(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise Rejection(422, "invalid", "metadata must be a flat object", "metadata")
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise Rejection(422, "invalid", f"metadata must be flat ({key} is nested)", "metadata")


def profile_fields(body: Any) -> dict[str, Any]:
    """The fields of `POST /v1/profiles`, accepting `phone[mobile]` keys or nested objects."""
    if not isinstance(body, dict):
        raise Rejection(400, "invalid", "the body must be a JSON object", None)
    fields: dict[str, Any] = {}
    for key, value in body.items():
        match = re.fullmatch(r"(\w+)\[(\w+)\]", key)
        if match:
            fields.setdefault(match.group(1), {})[match.group(2)] = value
        elif isinstance(value, dict) and key in ("phone", "email"):
            fields.setdefault(key, {}).update(value)
        else:
            fields[key] = value
    phone = _first(fields.pop("phone", None))
    email = _first(fields.pop("email", None))
    if phone is not None and (not isinstance(phone, str) or not _E164.fullmatch(phone)):
        raise Rejection(422, "invalid", "phone must be in E.164 (+5989...)", "phone")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise Rejection(422, "invalid", "email is not valid", "email")
    fields["phone"] = phone
    fields["email"] = email.lower() if isinstance(email, str) else None
    return fields


def _first(value: Any) -> Any:
    """`{"mobile": "+598..."}` -> "+598..." (the kind of phone/e-mail does not matter here)."""
    if isinstance(value, dict):
        return next((v for v in value.values() if v), None)
    return value
