"""Sector routes of the main server (docs/sectors-data.md "API"):

* ``GET /api/sectors/recommendations?date=`` — the morning's ranked list (stored, or
  computed on demand and stored);
* ``GET /api/sectors/us?date=`` — last night's US moves per instrument (the heat map);
* ``GET|PUT /api/sectors/links`` — the link map (PUT: trader or admin);
* ``GET /api/sectors/backtest?from=&to=&top_n=`` — the walk-forward backtest on the
  stored data (seconds; run in a worker thread, cached per data version).

The router's lifespan builds the :class:`~gslts_backend.sectors.service.SectorService`,
seeds the default link map into an empty ``sector_links`` and, with
``SECTORS_SCHEDULE=true``, runs the morning job (:class:`MorningSchedule`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from gslts_backend.auth import record_audit
from gslts_backend.deps import Principal, require_role, services
from gslts_backend.sectors.importers import sim_fetcher
from gslts_backend.sectors.schemas import (
    SectorBacktestOut,
    SectorLinksIn,
    SectorLinksOut,
    SectorRecommendationsOut,
    SectorUsMovesOut,
)
from gslts_backend.sectors.service import SectorError, SectorService, default_day, now_kst
from gslts_backend.services import Services
from gslts_common import errors

log = logging.getLogger(__name__)

viewer = require_role("viewer")
trader = require_role("trader")
ViewerDep = Annotated[Principal, Depends(viewer)]
TraderDep = Annotated[Principal, Depends(trader)]
ServicesDep = Annotated[Services, Depends(services)]

#: the longest backtest range (days) one request may ask for
MAX_BACKTEST_DAYS = 20 * 366
#: the largest permutation test one request may ask for
MAX_PERMUTATIONS = 1000
#: dates the routes accept (the calendars are exact 2010-2030, weekdays around it)
FIRST_DAY = date(1990, 1, 1)
LAST_DAY = date(2099, 12, 31)


def _in_range(day: date, field: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise errors.BadInput(f"{field}: between {FIRST_DAY} and {LAST_DAY}", field=field)
    return day


class MorningSchedule:
    """Every ``interval_s``: compute and store the coming KRX session's list once it is
    due (after the US close feeding it, before 08:30 KST), in a worker thread.

    ``fetch(now)`` (optional: ``SECTORS_SIM_FETCH`` in sim mode) refreshes the bars first:
    once at the first tick (the initial backfill) and then whenever a list is due and not
    stored yet. ``clock`` is injectable; :meth:`tick` is the one step (tests call it).
    """

    def __init__(
        self,
        service: SectorService,
        interval_s: float,
        clock: Callable[[], datetime] = now_kst,
        fetch: Callable[[datetime], object] | None = None,
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self.clock = clock
        self.fetch = fetch
        self.last_stored: date | None = None
        self.fetches = 0
        self._task: asyncio.Task[None] | None = None

    def _step(self, now: datetime) -> date | None:
        due = self.service.morning_due(now)
        if self.fetch is not None and (
            self.fetches == 0 or (due is not None and not self.service.has_stored(due))
        ):
            self.fetches += 1
            try:
                self.fetch(now)
            except Exception:  # a failed fetch: the run uses what is stored
                log.exception("sectors_fetch_failed")
        return self.service.morning_run(now)

    async def tick(self) -> date | None:
        try:
            day = await asyncio.to_thread(self._step, self.clock())
        except Exception:  # the schedule never dies of one failed run
            log.exception("sectors_morning_failed")
            return None
        if day is not None:
            self.last_stored = day
            log.info("sectors_morning_stored date=%s", day)
        return day

    async def _loop(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.interval_s)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="sectors-morning")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    svc: Services = app.state.services
    sectors = SectorService(svc.engine)
    await asyncio.to_thread(sectors.ensure_seeded)
    app.state.sectors = sectors
    schedule: MorningSchedule | None = None
    if svc.settings.sectors_schedule:
        fetch = None
        if svc.settings.sectors_sim_fetch and svc.settings.kiwoom_mode == "sim":
            fetch = sim_fetcher(sectors, svc.settings.kiwoom_config().rest_url, svc.kiwoom)
        schedule = MorningSchedule(sectors, svc.settings.sectors_schedule_interval_s, fetch=fetch)
        schedule.start()
    app.state.sectors_schedule = schedule
    try:
        yield
    finally:
        if schedule is not None:
            await schedule.stop()


router = APIRouter(lifespan=lifespan)


def sector_service(request: Request) -> SectorService:
    s: SectorService = request.app.state.sectors
    return s


SectorsDep = Annotated[SectorService, Depends(sector_service)]


def _app_error(exc: SectorError) -> errors.AppError:
    if exc.kind == "not_found":
        return errors.NotFound(exc.detail, field=exc.field)
    return errors.BadInput(exc.detail, field=exc.field)


async def _run(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking service call in a worker thread; its errors in the one shape."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except SectorError as exc:
        raise _app_error(exc) from exc


DateQuery = Annotated[
    date | None,
    Query(
        description="the KRX session (YYYY-MM-DD); default: today until 15:30 KST, else the "
        "next session",
        examples=["2026-12-07"],
    ),
]


@router.get(
    "/api/sectors/recommendations",
    response_model=SectorRecommendationsOut,
    tags=["sectors"],
    responses=errors.responses(401, 403, 404, 422),
    description="The ranked watch list of Korean stocks for a KRX session from last night's "
    "US sector moves, each with its explanation (the US moves that drove it and by how much, "
    "beta and its SE, expected gap, history length, past hit rate). Stored lists are read "
    "back; a missing one is computed now and stored once the US data of the day is complete. "
    "404: no links or no data stored; 422: not a KRX session.",
)
async def get_recommendations(
    _: ViewerDep, sectors: SectorsDep, date: DateQuery = None
) -> dict[str, Any]:
    day = _in_range(date, "date") if date else default_day(sectors.clock())
    out: dict[str, Any] = await _run(sectors.recommendations, day)
    return out


@router.get(
    "/api/sectors/us",
    response_model=SectorUsMovesOut,
    tags=["sectors"],
    responses=errors.responses(401, 403, 422),
    description="Last night's US moves for a KRX session: each active instrument's return "
    "compounded over the US sessions since the previous KRX session (the heat map; null "
    "where a bar is missing).",
)
async def get_us_moves(_: ViewerDep, sectors: SectorsDep, date: DateQuery = None) -> dict[str, Any]:
    day = _in_range(date, "date") if date else default_day(sectors.clock())
    out: dict[str, Any] = await _run(sectors.us_moves, day)
    return out


def _links_out(items: list[Any]) -> dict[str, Any]:
    return {
        "count": len(items),
        "items": [
            {
                "us_symbol": lk.us_symbol,
                "us_name": lk.us_name,
                "kr_code": lk.kr_code,
                "kr_name": lk.kr_name,
                "kr_sector": lk.kr_sector,
                "confidence": lk.confidence,
                "rationale": lk.rationale,
                "active": lk.active,
            }
            for lk in items
        ],
    }


@router.get(
    "/api/sectors/links",
    response_model=SectorLinksOut,
    tags=["sectors"],
    responses=errors.responses(401, 403),
    description="The link map US instrument → Korean stock, each with its confidence "
    "(H same industry and cycle, M plausible channel, L weak) and rationale.",
)
async def get_links(_: ViewerDep, sectors: SectorsDep) -> dict[str, Any]:
    return _links_out(await _run(sectors.links))


@router.put(
    "/api/sectors/links",
    response_model=SectorLinksOut,
    tags=["sectors"],
    responses=errors.responses(401, 403, 422),
    description="Replace the link map (links left out are deleted; set active=false to keep "
    "one without using it). Validated: confidence H/M/L, rationale ≤ 500 characters, no "
    "duplicate, stock codes in the stock master when it is loaded. Trader or admin; "
    "recorded in the audit trail (sectors.links_replace).",
)
async def put_links(
    body: SectorLinksIn, p: TraderDep, sectors: SectorsDep, svc: ServicesDep
) -> dict[str, Any]:
    items = [lk.model_dump() for lk in body.links]
    result = await _run(sectors.replace_links, items)

    def audit() -> None:
        with svc.engine.begin() as conn:
            record_audit(conn, p, "sectors.links_replace", None, "ok", {"links": len(items)})

    await asyncio.to_thread(audit)
    return _links_out(result)


@router.get(
    "/api/sectors/backtest",
    response_model=SectorBacktestOut,
    tags=["sectors"],
    responses=errors.responses(401, 403, 404, 422),
    description="The walk-forward backtest over the stored data: rank IC and ICIR of the gap "
    "(a forecast) and of the day session (the tradable strategy, after Korean costs), hit "
    "rate, top-N and quantile baskets against the equal-weight linked universe, each with a "
    "permutation p-value, and the multiple-testing summary. Takes seconds (about 4 s for 5 "
    "years of the default map with 200 permutations); cached per (range, top_n, data "
    "version).",
)
async def get_backtest(
    _: ViewerDep,
    sectors: SectorsDep,
    from_: Annotated[date, Query(alias="from", examples=["2024-01-02"])],
    to: Annotated[date, Query(examples=["2026-12-04"])],
    top_n: Annotated[int, Query(ge=1, le=50)] = 5,
    permutations: Annotated[int, Query(ge=0, le=MAX_PERMUTATIONS)] = 200,
) -> dict[str, Any]:
    _in_range(from_, "from")
    _in_range(to, "to")
    if to < from_:
        raise errors.BadInput("to: before from", field="to")
    if (to - from_).days > MAX_BACKTEST_DAYS:
        raise errors.BadInput(f"from..to: at most {MAX_BACKTEST_DAYS} days", field="from")
    out: dict[str, Any] = await _run(sectors.backtest, from_, to, top_n, permutations)
    return out
