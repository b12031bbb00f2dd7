"""The error tree: one mapping from HTTP answers to kinds, Retry-After parsing, JSON rendering."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from poe_mcp import errors as E


@pytest.mark.parametrize(
    ("status", "body", "cls", "kind"),
    [
        (
            400,
            {"error": {"type": "invalid_request_error", "message": "bad"}},
            E.InvalidRequestError,
            "invalid_request",
        ),
        (401, {"error": {"type": "authentication_error", "message": "no"}}, E.AuthError, "auth"),
        (
            402,
            {"error": {"type": "insufficient_credits", "message": "out"}},
            E.BalanceError,
            "balance",
        ),
        (
            403,
            {"error": {"type": "moderation_error", "message": "no"}},
            E.ModerationError,
            "moderation",
        ),
        (404, {"error": {"type": "not_found_error", "message": "?"}}, E.NotFoundError, "not_found"),
        (
            408,
            {"error": {"type": "timeout_error", "message": "slow"}},
            E.RequestTimeoutError,
            "timeout",
        ),
        (
            413,
            {"error": {"type": "request_too_large", "message": "big"}},
            E.TooLargeError,
            "too_large",
        ),
        (
            429,
            {"error": {"type": "rate_limit_error", "message": "slow down"}},
            E.RateLimitError,
            "rate_limit",
        ),
        (
            429,
            {"error": {"code": "insufficient_quota", "type": "insufficient_quota", "message": "q"}},
            E.QuotaError,
            "quota",
        ),
        (500, {"error": {"type": "provider_error", "message": "x"}}, E.UpstreamError, "upstream"),
        (502, {"error": {"type": "upstream_error", "message": "x"}}, E.UpstreamError, "upstream"),
        (503, "Service Unavailable", E.UpstreamError, "upstream"),
        (
            529,
            {"error": {"type": "overloaded_error", "message": "x"}},
            E.OverloadedError,
            "overloaded",
        ),
        (418, None, E.InvalidRequestError, "invalid_request"),
        (599, None, E.UpstreamError, "upstream"),
    ],
)
def test_status_maps_to_one_kind(
    status: int, body: object, cls: type[E.PoeError], kind: str
) -> None:
    err = E.error_from_response(status, body, {"x-request-id": "req-1"})
    assert type(err) is cls
    assert err.kind == kind
    assert err.status == status
    assert err.request_id == "req-1"
    rendered = err.to_dict()["error"]
    assert set(rendered) == {"code", "type", "message", "metadata"}
    assert rendered["metadata"]["kind"] == kind
    assert json.loads(err.to_json()) == err.to_dict()


def test_retryable_kinds_are_exactly_the_transient_ones() -> None:
    retryable = {c.kind for c in E.PoeError.__subclasses__() if c.retryable}
    assert retryable == {"rate_limit", "network", "timeout", "upstream", "overloaded"}
    assert not E.QuotaError.retryable  # OpenAI's insufficient_quota must never be retried


def test_actionable_hints_are_added_once() -> None:
    err = E.error_from_response(401, {"error": {"message": "Invalid API key"}}, provider="poe")
    assert "poe.com/api_key" in err.message
    assert err.message.count("poe.com/api_key") == 1
    assert "doctor" not in str(err)  # one hint: the key page (doctor prints these messages)
    E.add_hint(err, "poe")
    assert err.message.count("poe.com/api_key") == 1


def test_retry_after_forms() -> None:
    assert E.parse_retry_after({"Retry-After": "3"}) == 3.0
    assert E.parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert E.parse_retry_after({"Retry-After": date}, now=now) == pytest.approx(30, abs=1.5)
    assert E.parse_retry_after({"Retry-After": "soon"}) is None
    assert E.parse_retry_after({}) is None
    err = E.error_from_response(429, {"error": {"message": "wait"}}, {"Retry-After": "2"})
    assert err.retry_after == 2.0
    assert err.to_dict()["error"]["metadata"]["retry_after"] == 2.0


def test_incomplete_stream_keeps_partial_text() -> None:
    err = E.IncompleteStreamError("stream ended without a finish reason", partial_text="Hello wor")
    assert err.partial_text == "Hello wor"
    assert err.kind == "incomplete_stream"
    assert not err.retryable
