"""The gauges of /metrics that need a store query, set by a task every few seconds (never on a Check's path).

Each process reports the figures of what it runs, so that one figure is not reported by every process:
the registry's size by those serving CallGate or Registry, the stream and the recorder's backlog by the
process running the recorder, complaints and payouts by those serving Compensation. A query that
fails (a store down) leaves its gauges as they were and is logged once until it succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from prometheus_client import Gauge

from dncgate import metrics
from dncgate.bootstrap import App
from dncgate.store import gauges
from dncgate.store.hot import LEGACY_CALLS

log = structlog.get_logger("dncgate.metrics")

INTERVAL_S = 10.0
TIMEOUT_S = 5.0


@dataclass
class Parts:
    """Which figures this process reports."""

    registry: bool
    stream: bool
    complaints: bool


def parts_of(role: str, recorder_inline: bool) -> Parts:
    """The figures a role reports; role `all` reports the stream only when its recorder runs inline."""
    return Parts(
        registry=role in ("all", "api", "gateway", "registry", "http"),
        stream=role == "recorder" or (role == "all" and recorder_inline),
        complaints=role in ("all", "api", "compensation"),
    )


@dataclass
class _Labelled:
    """A labelled gauge set from a whole table each time: label sets no longer present go to 0."""

    gauge: Gauge
    seen: set[tuple[str, ...]] = field(default_factory=set)

    def set_all(self, values: dict[tuple[str, ...], float]) -> None:
        for labels in self.seen - values.keys():
            self.gauge.labels(*labels).set(0)
        for labels, value in values.items():
            self.gauge.labels(*labels).set(value)
        self.seen |= values.keys()


_COMPLAINTS = _Labelled(metrics.COMPLAINTS)
_PAYOUTS = _Labelled(metrics.PAYOUTS_PENDING)
_failing: set[str] = set()


async def _guarded(name: str, query: Callable[[], Awaitable[None]], timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await query()
    except Exception as exc:  # an outage of one store: its gauges wait for the next round
        if name not in _failing:
            log.warning("metrics_query_failed", figures=name, error=type(exc).__name__)
        _failing.add(name)
    else:
        _failing.discard(name)


async def collect(app: App, parts: Parts, timeout_s: float = TIMEOUT_S) -> None:
    """Set this process's store gauges once."""

    async def registry() -> None:
        metrics.REGISTRY_NUMBERS.set(await gauges.registry_numbers(app.hot))

    async def stream() -> None:
        length, pending, lag = await gauges.stream_figures(app.redis, [*app.hot.layout.streams, LEGACY_CALLS])
        metrics.STREAM_LENGTH.set(length)
        metrics.RECORDER_PENDING.set(pending)
        metrics.RECORDER_LAG.set(lag)

    async def complaints() -> None:
        per, overdue, owed = await gauges.complaint_figures(app.pool, datetime.now(UTC))
        _COMPLAINTS.set_all({k: float(v) for k, v in per.items()})
        metrics.COMPLAINTS_OVERDUE.set(overdue)
        _PAYOUTS.set_all({(c,): v for c, v in owed.items()})

    chosen = [
        (n, q)
        for n, q, on in (
            ("registry", registry, parts.registry),
            ("stream", stream, parts.stream),
            ("complaints", complaints, parts.complaints),
        )
        if on
    ]
    await asyncio.gather(*(_guarded(n, q, timeout_s) for n, q in chosen))


async def run(app: App, parts: Parts, stop: asyncio.Event, interval_s: float = INTERVAL_S) -> None:
    """Until `stop`: collect, then wait `interval_s`."""
    while not stop.is_set():
        await collect(app, parts)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
