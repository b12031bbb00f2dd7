"""Every tool failure becomes an MCP tool error the calling model can act on.

A :class:`~poe_mcp.errors.PoeError` is rendered as its actionable message followed by the
Poe/OpenAI-format error JSON (with its ``kind``); anything unexpected is logged with its traceback
and reported as an internal error. Cancellation by the client passes through untouched, so the
SDK can answer it, and is counted apart in the metrics.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from .._logging import redact
from ..errors import InvalidRequestError, PoeError
from ._calllog import begin, finish
from .runtime import ServerRuntime

__all__ = ["guarded", "render_error", "validation_error_text"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def render_error(exc: PoeError) -> str:
    """The text of a tool error: the message, then the error JSON."""
    kind = exc.metadata.get("kind", exc.kind)
    return redact(f"{exc} [kind: {kind}]\n{exc.to_json()}")


def validation_error_text(tool: str, detail: str) -> str:
    """Argument-validation failures rendered like every other tool error."""
    exc = InvalidRequestError(
        f"invalid arguments for {tool}: {detail}. Fix the arguments and call again."
    )
    return render_error(exc)


def guarded(
    runtime: ServerRuntime, name: str
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Wrap a tool function: errors -> ``ToolError``, and one metrics sample per call."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            outcome, kind = "ok", None
            call = begin(name)
            try:
                return await fn(*args, **kwargs)
            except PoeError as exc:
                outcome, kind = "error", exc.kind
                raise ToolError(render_error(exc)) from None
            except ToolError:
                outcome, kind = "error", "invalid_request"
                raise
            except anyio.get_cancelled_exc_class():
                outcome = "cancelled"
                raise
            except Exception as exc:
                outcome, kind = "error", "internal"
                log.exception("tool %s failed unexpectedly", name)
                internal = PoeError(
                    f"internal error in poe-mcp ({type(exc).__name__}); the request may be "
                    "retried. If it keeps failing, run `poe-mcp doctor` and report the server log.",
                    metadata={"kind": "internal"},
                )
                raise ToolError(render_error(internal)) from None
            finally:
                latency = time.perf_counter() - started
                runtime.metrics.tool_call(name, outcome, latency, kind)
                finish(
                    runtime, call, outcome=outcome, kind=kind, latency_s=latency, arguments=kwargs
                )

        return wrapper

    return decorate
