"""What the hub reports: the ``/api/status`` snapshot, ``/api/health``'s reasons and the
figures ``/metrics`` and the monitoring page read.

:class:`HubStatus` reads the whole composition (:class:`~gslts_hub.hub.Hub`) and changes
nothing in it, except its own small memory: the tick-rate samples the control loop takes
every second, the writer-stall mark, and the database size (cached for 10 s). Every
reading is racy by design (plain ints and dicts written by other threads): a status page
is a snapshot, never a lock on the hot path.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from gslts_common.bus import RedisBus
from gslts_hub.stocks import StockState
from gslts_hub.writer_proc import WriterProcess, memory_kib
from gslts_kiwoom import FallbackRateLimiter, FallbackTokenCache
from gslts_kiwoom.realtime import KST

if TYPE_CHECKING:
    from gslts_hub.hub import Hub
    from gslts_hub.journal import JournalStats

#: the database size is read at most this often (s)
DB_SIZE_TTL_S = 10.0


class HubStatus:
    """The status snapshot and health of one hub.

    Args:
        hub: the hub it reports on.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        #: (epoch s, ticks received): one sample per control-loop second
        self._rate: deque[tuple[float, int]] = deque(maxlen=120)
        #: (committed journal position, when it last moved): the writer-stall check
        self._commit_mark = (hub.journal.committed_position, hub.clock())
        self._db_size: tuple[float, int | None] = (0.0, None)

    # ------------------------------------------------------------------ figures
    def sample_rate(self, now: float) -> None:
        """Remember the received-ticks counter now (the control loop, every second)."""
        self._rate.append((now, self.hub.ingest.ticks_received))

    def ticks_per_s(self) -> float:
        """Ticks received per second over the last ten samples."""
        r = self._rate
        if len(r) < 2:
            return 0.0
        t0, n0 = r[max(0, len(r) - 11)]
        t1, n1 = r[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def tick_count_today(self, today: date) -> int | None:
        """Trades stored for ``today`` (KST): kept exact by the writer, which counts the
        day once and adds each commit's new rows; None until it could count (database
        away since start)."""
        w = self.hub.writer.stats
        if w.day == today.toordinal():
            return w.day_count
        return 0 if w.day is not None and w.day > today.toordinal() else None

    def db_size_bytes(self) -> int | None:
        """The database's size (cached for :data:`DB_SIZE_TTL_S`)."""
        hub = self.hub
        at, size = self._db_size
        if hub.clock() - at < DB_SIZE_TTL_S:
            return size
        size = hub.repo.size_bytes()
        self._db_size = (hub.clock(), size)
        return size

    def db_reachable(self) -> bool:
        return self.hub.repo.reachable()

    def writer_stall_s(self) -> float:
        """How long the journal backlog has not moved (0 = it moves, or there is none).
        The control loop calls this every second, so the mark follows the writer."""
        journal = self.hub.journal
        now = self.hub.clock()
        committed = journal.committed_position
        mark, since = self._commit_mark
        if committed != mark or journal.end_position <= committed:
            self._commit_mark = (committed, now)
            return 0.0
        return max(0.0, now - since)

    def malformed_counts(self) -> dict[str, int]:
        """Input dropped as malformed, by reason: frames and items of this connection's
        decoder, and the deferred books decoded by the book throttle."""
        out: dict[str, int] = dict(self.hub.books.decoder.malformed)
        for k, v in self.hub.collector.malformed().items():
            out[k] = out.get(k, 0) + v
        return out

    def rest_stats(self) -> dict[str, Any]:
        """The Kiwoom REST client's calls, rate-limited answers and errors."""
        st = getattr(self.hub.existing_client, "stats", None)  # None: no client made yet
        if st is None:
            return {"calls": 0, "rate_limited": 0, "errors": 0, "last_error": None}
        return {
            "calls": st.calls,
            "rate_limited": st.rate_limited,
            "errors": st.errors,
            "last_error": st.last_error,
        }

    # ------------------------------------------------------------------ health
    def health_reasons(self) -> list[str]:
        """Why the hub is not doing its job right now (empty = healthy); each reason
        names the part that fails, for ``/api/health`` and the monitoring page."""
        hub = self.hub
        reasons: list[str] = []
        sp = hub.spool.status()
        if sp.state == "suspended":
            reasons.append(
                f"journal unwritable ({sp.last_error}): collection suspended, "
                f"{hub.ingest.ticks_refused} trades refused so far (backfilled when it recovers)"
            )
        elif sp.state == "failing":
            reasons.append(
                f"journal unwritable ({sp.last_error}): {sp.waiting_bytes / 2**20:.1f} of "
                f"{sp.max_bytes / 2**20:.0f} MB kept in memory"
            )
        redis = self.redis_status()
        if redis["configured"] and not redis["ok"]:
            reasons.append(
                f"redis unreachable ({redis['last_error']}): live data not published "
                f"({hub.bus.dropped} bus messages dropped); collecting and storing go on, "
                "the Kiwoom token and rate limit are kept locally"
            )
        db_ok = self.db_reachable()
        if not db_ok:
            reasons.append("database unreachable (collecting into the journal)")
        if not hub.writer.running:
            reasons.append("writer not running")
        elif db_ok and hub.writer.stats.db_ok:
            stall = self.writer_stall_s()
            if stall >= hub.settings.hub_writer_stall_s:
                backlog = hub.journal.stats().backlog_bytes
                reasons.append(
                    f"writer stalled: {backlog} journal bytes not moving for {stall:.0f} s"
                )
        collector = hub.collector
        if collector.collecting and collector.ws_state != "ready":
            reasons.append(f"websocket {collector.ws_state}")
        if not collector.collecting and hub.schedule.mode == "always" and hub.connects:
            reasons.append("not collecting")
        return reasons

    def redis_status(self) -> dict[str, Any]:
        """Whether Redis (bus, shared token, shared rate limit) is in use or bypassed."""
        parts: dict[str, tuple[bool, str | None]] = {}
        bus = self.hub.bus
        if isinstance(bus, RedisBus):
            parts["bus"] = (bus.ok, bus.last_error)
        client = self.hub.existing_client
        if client is not None:
            for name, obj in (("token", client.token_cache), ("rate", client.rate_limiter)):
                if isinstance(obj, FallbackTokenCache | FallbackRateLimiter):
                    parts[name] = (obj.ok, obj.last_error)
        errors = [err for ok, err in parts.values() if not ok and err]
        return {
            "configured": bool(self.hub.settings.redis_url),
            "ok": all(ok for ok, _ in parts.values()),
            "bus_ok": parts.get("bus", (True, None))[0],
            "token_cache_ok": parts.get("token", (True, None))[0],
            "rate_limiter_ok": parts.get("rate", (True, None))[0],
            "last_error": errors[0] if errors else None,
            "bus_dropped": bus.dropped,
        }

    def stock_health(self, st: StockState, now_epoch: float, expected: bool) -> str:
        """``vi`` (in a volatility interruption: silence expected), ``no_data``, ``ok``
        (a tick within ``hub_stale_after_s``), else ``stale`` when ticks are expected now
        (continuous session, socket ready) or ``quiet``."""
        if self.hub.vi.active(st.code, now_epoch):
            return "vi"
        if st.last_tick_at is None:
            return "no_data"
        age = now_epoch - st.last_tick_at
        if age <= self.hub.settings.hub_stale_after_s:
            return "ok"
        return "stale" if expected else "quiet"

    # ------------------------------------------------------------------ the snapshot
    def snapshot(self) -> dict[str, Any]:
        """``/api/status`` (and the monitoring page's WebSocket)."""
        hub = self.hub
        collector = hub.collector
        now_epoch = hub.clock()
        now = datetime.fromtimestamp(now_epoch, KST)
        expected = hub.schedule.ticks_expected(now) and collector.ws_state == "ready"
        codes = collector.collected_codes()
        stocks = []
        for code in codes:
            st = hub.stocks.get(code) or StockState(code)
            age = None if st.last_tick_at is None else round(now_epoch - st.last_tick_at, 3)
            stocks.append(
                {
                    "code": code,
                    "name": st.name,
                    "last_price": st.last_price,
                    "ticks_today": st.ticks_today,
                    "last_tick_age_s": age,
                    "health": self.stock_health(st, now_epoch, expected),
                    "vi": None if (vi := hub.vi.get(code)) is None else vi.as_dict(),
                    "rank": hub.ranks.get(code),
                    "watchlist": code in hub.watchlist,
                    "interest": hub.interest.holds(code),
                }
            )
        js = hub.journal.stats()
        ws = collector.ws
        token_exp = None
        client = hub.existing_client
        if client is not None:
            token_exp = client.token_expires_at()
        wstats = ws.stats if ws is not None else None
        w = hub.writer.stats
        ingest = hub.ingest
        gaps = hub.gaps
        backfill = hub.backfill
        uptime_s = now_epoch - hub.started_at
        db_size = self.db_size_bytes()
        reasons = self.health_reasons()
        return {
            "uptime": human_duration(uptime_s),
            "uptime_s": round(uptime_s, 1),
            "health": {"ok": not reasons, "reasons": reasons},
            "collecting": collector.collecting,
            "schedule": hub.schedule.mode,
            "market_phase": hub.schedule.phase(now),
            "ws_state": collector.ws_state,
            "tick_count_today": self.tick_count_today(now.date()),
            "ticks_received": ingest.ticks_received,
            "ticks_written": w.ticks_written,
            "ticks_per_s": round(self.ticks_per_s(), 1),
            "db_ok": w.db_ok,
            "db_last_error": w.last_error,
            "db_size": None if db_size is None else human_bytes(db_size),
            "db_size_bytes": db_size,
            "journal_backlog_bytes": js.backlog_bytes,
            "journal": self._journal(js),
            "ticks_refused": ingest.ticks_refused,
            "flush_lag_s": round(hub.writer.flush_lag_s(), 3),
            "writer": self._writer(),
            "reconnects": wstats.reconnects if wstats else 0,
            "watchdog_timeouts": wstats.watchdog_timeouts if wstats else 0,
            "dropped_items": dict(wstats.dropped_items) if wstats else {},
            "bus_dropped": hub.bus.dropped,
            "malformed": self.malformed_counts(),
            "rest": self.rest_stats(),
            "stream_gaps": gaps.stream_gaps,
            "pending_gaps": len(gaps.pending),
            "redis": self.redis_status(),
            "backfill": {
                "gaps": backfill.gaps,
                "gaps_flagged": backfill.gaps_flagged,
                "ticks": backfill.ticks,
                "errors": backfill.errors,
                "waiting": len(gaps.queue),
                "merged": gaps.queue.merged,
                "recent": list(backfill.recent)[-10:],
            },
            "candles": dict(zip(("rebuilds", "closed"), hub.writer.candle_counts(), strict=True)),
            "token_expires_at": token_exp.isoformat() if token_exp else None,
            "token_seconds_left": (
                None if token_exp is None else max(0, int((token_exp - now).total_seconds()))
            ),
            "collecting_count": len(codes),
            "collecting_stocks": codes,
            "stocks": stocks,
            "watchlist": sorted(hub.watchlist),
            "interest": hub.interest.snapshot(),
            "events": list(hub.events)[-100:],
        }

    def _journal(self, js: JournalStats) -> dict[str, Any]:
        sp = self.hub.spool.status()
        return {
            "state": sp.state,
            "last_error": sp.last_error,
            "since": None if sp.since is None else _iso(sp.since),
            "waiting_records": sp.waiting_records,
            "waiting_bytes": sp.waiting_bytes,
            "max_waiting_bytes": sp.max_bytes,
            "append_failures": sp.append_failures,
            "refused_records": sp.refused_records,
            "write_errors": js.write_errors,
            "fsync_errors": js.fsync_errors,
            "skipped_bytes": js.skipped_bytes,
            "segments": js.segments,
            "writer_stall_s": round(self.writer_stall_s(), 1),
        }

    def _writer(self) -> dict[str, Any]:
        """Where the writer runs, whether it runs, and the memory of both processes."""
        w = self.hub.writer
        out: dict[str, Any] = {
            "mode": "thread",
            "running": w.running,
            "pid": None,
            "batches": w.stats.batches,
            "hub_peak_rss_mb": round(memory_kib() / 1024, 1),  # VmHWM
            "writer_peak_rss_mb": None,
        }
        if isinstance(w, WriterProcess):
            out.update(
                mode="process", pid=w.pid, writer_peak_rss_mb=round(w.peak_rss_kib / 1024, 1)
            )
        return out


def human_duration(seconds: float) -> str:
    """``"2시간 3분"`` / ``"5분 12초"`` / ``"40초"`` (the plan's ``uptime`` field)."""
    s = max(0, int(seconds))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    if h:
        return f"{h}시간 {m}분"
    return f"{m}분 {sec}초" if m else f"{sec}초"


def human_bytes(n: int) -> str:
    """``"1.2 GB"`` (the plan's ``db_size`` field; 1024-based, like ``du -h``)."""
    x = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if x < 1024:
            return f"{x:.0f} {unit}" if unit == "B" else f"{x:.1f} {unit}"
        x /= 1024
    return f"{x:.1f} TB"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, KST).isoformat()
