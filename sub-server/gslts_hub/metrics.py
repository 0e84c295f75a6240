"""Prometheus metrics of the hub, read from live counters at scrape time.

A custom collector (not counters incremented on the hot path): the socket thread only bumps
plain ints, and a scrape turns them into metric families. One registry per hub, so tests
can build many hubs in one process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gslts_hub.hub import Hub

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HubCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._flush_seen = 0
        self._counts = [0] * (len(_BUCKETS) + 1)
        self._sum = 0.0

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        hub = self.hub
        w = hub.writer.stats
        ws = hub.ws.stats if hub.ws is not None else None
        yield CounterMetricFamily(
            "gslts_hub_ticks_received", "Trades received (0B)", value=hub.ticks_received
        )
        yield CounterMetricFamily(
            "gslts_hub_ticks_written", "New trades stored in tick_data", value=w.ticks_written
        )
        yield CounterMetricFamily(
            "gslts_hub_db_errors", "Failed flush attempts (retried)", value=w.db_errors
        )
        yield CounterMetricFamily(
            "gslts_hub_reconnects", "WebSocket reconnects", value=ws.reconnects if ws else 0
        )
        yield CounterMetricFamily(
            "gslts_hub_backfill_ticks", "Trades recovered by gap backfill", value=hub.backfill.ticks
        )
        yield CounterMetricFamily(
            "gslts_hub_backfill_gaps_flagged",
            "Gaps whose quantities did not add up",
            value=hub.backfill.gaps_flagged,
        )
        yield CounterMetricFamily(
            "gslts_hub_bus_dropped", "Bus messages dropped", value=hub.bus.dropped
        )
        js = hub.journal.stats()
        sp = hub.spool.status()
        yield CounterMetricFamily(
            "gslts_hub_journal_write_errors",
            "Journal appends that failed (disk full, I/O error); each record was kept",
            value=js.write_errors,
        )
        yield CounterMetricFamily(
            "gslts_hub_journal_fsync_errors", "Journal fsyncs that failed", value=js.fsync_errors
        )
        yield CounterMetricFamily(
            "gslts_hub_ticks_refused",
            "Trades refused while collection was suspended (journal unwritable); backfilled",
            value=hub.ticks_refused,
        )
        yield GaugeMetricFamily(
            "gslts_hub_journal_ok",
            "1 when the journal takes appends, 0 while they fail or collection is suspended",
            value=1.0 if sp.state == "ok" else 0.0,
        )
        yield GaugeMetricFamily(
            "gslts_hub_journal_waiting_bytes",
            "Received records kept in memory until the journal works again",
            value=sp.waiting_bytes,
        )
        yield GaugeMetricFamily(
            "gslts_hub_journal_backlog_bytes",
            "Journal bytes not yet in the database",
            value=js.backlog_bytes,
        )
        yield GaugeMetricFamily(
            "gslts_hub_flush_lag_seconds",
            "Age of the oldest unflushed tick",
            value=hub.writer.flush_lag_s(),
        )
        yield GaugeMetricFamily(
            "gslts_hub_db_ok", "1 when the last flush succeeded", value=1.0 if w.db_ok else 0.0
        )
        age = GaugeMetricFamily(
            "gslts_hub_last_tick_age_seconds",
            "Seconds since the last trade, per stock",
            labels=["code"],
        )
        now = hub.clock()
        for code in hub.collected_codes():
            st = hub.stocks.get(code)
            if st is not None and st.last_tick_at is not None:
                age.add_metric([code], now - st.last_tick_at)
        yield age
        samples = list(w.flush_seconds)
        new = (
            samples[-min(len(samples), max(0, w.batches - self._flush_seen)) :]
            if w.batches > self._flush_seen
            else []
        )
        self._flush_seen = w.batches
        for s in new:
            self._sum += s
            for i, b in enumerate(_BUCKETS):
                if s <= b:
                    self._counts[i] += 1
                    break
            else:
                self._counts[-1] += 1
        cum = 0
        buckets = []
        for i, b in enumerate(_BUCKETS):
            cum += self._counts[i]
            buckets.append((str(b), cum))
        cum += self._counts[-1]
        buckets.append(("+Inf", cum))
        yield HistogramMetricFamily(
            "gslts_hub_flush_seconds",
            "Duration of one writer transaction",
            buckets=buckets,
            sum_value=self._sum,
        )


def make_registry(hub: Hub) -> CollectorRegistry:
    reg = CollectorRegistry()
    reg.register(HubCollector(hub))
    return reg
