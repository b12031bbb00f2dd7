"""What benchmark modules share: the row type, options and measuring helpers.

Add a section by creating ``bench/bench_<area>.py`` with ``run(opts: Options) -> list[Row]``.
Rows name a ``baseline`` (another row of the same section) to get a ratio, and may carry a
``target`` (the largest acceptable ratio), which the table checks.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Options", "Row", "import_time", "measure"]


@dataclass(frozen=True, slots=True)
class Options:
    """Command-line options every section receives.

    Attributes:
        n: requests (or iterations) per measured client.
        quick: fewer iterations, for a smoke run.
    """

    n: int = 400
    quick: bool = False


@dataclass(slots=True)
class Row:
    """One measurement.

    Attributes:
        section: the table section (one per module, usually).
        name: what was measured.
        value: the number, in ``unit``.
        unit: ``ms``, ``us``, ``s``, ``x``...
        baseline: name of the row in the same section this one is compared with.
        target: the largest acceptable ratio to the baseline, when there is a goal.
        note: anything worth saying next to the number.
    """

    section: str
    name: str
    value: float
    unit: str
    baseline: str | None = None
    target: float | None = None
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Sample:
    """Per-operation medians: wall latency and CPU of the calling thread."""

    latency_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)

    @property
    def latency(self) -> float:
        return statistics.median(self.latency_s)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpu_s)


async def measure(
    ops: dict[str, Callable[[], Awaitable[object]]],
    *,
    n: int,
    rounds: int = 8,
    warmup: int = 30,
) -> dict[str, Sample]:
    """Run each op ``n`` times, sequentially, interleaving the ops in ``rounds`` batches.

    Interleaving spreads drift (CPU frequency, other load on the machine) over every op alike.
    CPU is ``time.thread_time`` of this thread only, so an in-process server's work is excluded;
    the CPU figure of a batch is its median-free mean per op, and medians are taken over batches.
    """
    samples = {name: Sample() for name in ops}
    for op in ops.values():
        for _ in range(warmup):
            await op()
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        for name, op in ops.items():
            sample = samples[name]
            cpu0 = time.thread_time()
            for _ in range(per_round):
                t0 = time.perf_counter()
                await op()
                sample.latency_s.append(time.perf_counter() - t0)
            sample.cpu_s.append((time.thread_time() - cpu0) / per_round)
    return samples


def import_time(module: str, *, runs: int = 5) -> float:
    """Median seconds to import ``module`` in a fresh interpreter."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)
