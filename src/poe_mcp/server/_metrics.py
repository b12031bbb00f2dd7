"""In-process counters for ``/metrics``, rendered in the Prometheus text format.

Hand-rolled on purpose: a dozen series do not justify another dependency, and the
exposition format is small and stable.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from .. import _constants as C
from ._calllog import note_usage

__all__ = ["Metrics"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


class Metrics:
    """Thread-safe counters and one latency histogram per tool.

    Attributes:
        started_at: when the server started (unix seconds).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started_at = time.time()
        self._requests: dict[tuple[str, str], int] = defaultdict(int)  # (method, outcome)
        self._tool_calls: dict[tuple[str, str], int] = defaultdict(int)  # (tool, outcome)
        self._errors: dict[str, int] = defaultdict(int)  # kind
        self._tokens: dict[tuple[str, str], int] = defaultdict(int)  # (model, direction)
        self._cost: dict[str, float] = defaultdict(float)  # model
        self._unknown_cost_calls: dict[str, int] = defaultdict(int)  # model
        self._buckets = C.METRICS_LATENCY_BUCKETS_S
        self._hist: dict[str, list[int]] = {}
        self._hist_sum: dict[str, float] = defaultdict(float)
        self._hist_count: dict[str, int] = defaultdict(int)

    def request(self, method: str, outcome: str) -> None:
        """Count one MCP request (``tools/list``, ``tools/call``...) by outcome ``ok|error``."""
        with self._lock:
            self._requests[(method, outcome)] += 1

    def tool_call(self, tool: str, outcome: str, latency_s: float, kind: str | None = None) -> None:
        """Record one tool call: outcome ``ok|error|cancelled``, its latency and error kind."""
        with self._lock:
            self._tool_calls[(tool, outcome)] += 1
            if kind:
                self._errors[kind] += 1
            counts = self._hist.setdefault(tool, [0] * len(self._buckets))
            for i, bound in enumerate(self._buckets):
                if latency_s <= bound:
                    counts[i] += 1
            self._hist_sum[tool] += latency_s
            self._hist_count[tool] += 1

    def usage(self, model: str, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        """Add the tokens and cost of one answered call; an unknown cost is counted apart."""
        note_usage(model, input_tokens, output_tokens, cost)  # for the per-call log line
        with self._lock:
            self._tokens[(model, "input")] += input_tokens
            self._tokens[(model, "output")] += output_tokens
            if cost is None:
                self._unknown_cost_calls[model] += 1
            else:
                self._cost[model] += cost

    def uptime_s(self) -> float:
        return time.time() - self.started_at

    def errors_by_kind(self) -> dict[str, int]:
        with self._lock:
            return dict(self._errors)

    def render(self) -> str:
        """The Prometheus text exposition (format 0.0.4)."""
        out: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        def counters(*specs: tuple[str, str, Mapping[Any, float], str]) -> None:
            # (name, label names, series keyed by a label value or a tuple of them, help)
            for short, names, series, help_text in specs:
                name = f"poe_mcp_{short}_total"
                family(name, "counter", help_text)
                for key, n in sorted(series.items()):
                    values = key if isinstance(key, tuple) else (key,)
                    labels = _labels(tuple(zip(names.split(), values, strict=True)))
                    out.append(f"{name}{labels} {n!r}")  # repr: a cost in full, never 0.0000

        with self._lock:
            family("poe_mcp_uptime_seconds", "gauge", "Seconds since the server started.")
            out.append(f"poe_mcp_uptime_seconds {time.time() - self.started_at:.3f}")
            counters(
                ("requests", "method outcome", self._requests,
                 "MCP requests by method and outcome."),
                ("tool_calls", "tool outcome", self._tool_calls, "Tool calls by tool and outcome."),
                ("errors", "kind", self._errors, "Failed tool calls by error kind."),
            )  # fmt: skip

            family("poe_mcp_tool_latency_seconds", "histogram", "Tool call latency.")
            for tool, counts in sorted(self._hist.items()):
                for bound, n in zip(self._buckets, counts, strict=True):
                    labels = _labels((("tool", tool), ("le", _number(bound))))
                    out.append(f"poe_mcp_tool_latency_seconds_bucket{labels} {n}")
                inf = _labels((("tool", tool), ("le", "+Inf")))
                out.append(f"poe_mcp_tool_latency_seconds_bucket{inf} {self._hist_count[tool]}")
                tl = _labels((("tool", tool),))
                out.append(f"poe_mcp_tool_latency_seconds_sum{tl} {self._hist_sum[tool]:.6f}")
                out.append(f"poe_mcp_tool_latency_seconds_count{tl} {self._hist_count[tool]}")

            counters(
                ("tokens", "model direction", self._tokens, "Tokens by model and direction."),
                ("cost_usd", "model", self._cost, "USD spent, over calls of known price."),
                ("unknown_cost_calls", "model", self._unknown_cost_calls,
                 "Answered calls whose price is unknown (not added to the cost)."),
            )  # fmt: skip
        return "\n".join(out) + "\n"
