"""A local Kiwoom back end: the REST protocol (WebSocket to follow) over a market model.

Public API::

    from gslts_kiwoom.sim import SimConfig, Simulator, create_app, serve

    sim = Simulator(SimConfig(ticker=False, seed=1))   # in-process (tests)
    app = create_app(sim)                              # Starlette ASGI app
    serve(SimConfig(port=8002))                        # blocking, for `gslts sim`

**Market model.** 2,746 real KRX listings (August 2023 snapshot, shipped as
``data/universe.csv.gz``). Each stock starts its day at its base price with a 10-level
book (best ask one tick above the best bid, KRX tick grid, inside the ±30 % limits from
``gslts_kiwoom.krx``). Trades are generated market-wide at ``trades_per_s`` (Poisson) and
given to stocks in proportion to their real trading value, with sizes chosen so a stock
trades about its real daily value over a session; ``initial_day_fraction`` of the real
day's volume is booked at the start so the 거래대금 ranking (ka10032) matches the real one
at once. A trade takes liquidity at the touch (signed volume: ``+`` buy-initiated); an
emptied level moves the price one tick, with a mild pull back to the base price. Only
traded stocks change, so untouched stocks cost nothing; a stock's day rolls over (close →
next base price, daily bar kept) when it is next touched after midnight KST. Per stock
the model keeps the last ``trade_history`` trades (ka10079), 1-minute bars (ka10080) and
daily bars (ka10081: ``history_days`` of deterministic synthetic past on the XKRX
calendar ending at the snapshot close, then the days of this run). Everything is
deterministic for a given ``seed`` and sequence of ``step`` times.

**Clock.** Market time moves only through ``Simulator.step(now)``: tests call it with
explicit datetimes; ``Simulator.start()`` runs a ticker thread stepping to
``start_time + elapsed wall time × time_warp`` every ``tick_interval_s`` (the app's
lifespan starts it when ``config.ticker``). ``clock="always"``: continuous trading at any
hour; ``clock="krx"``: trades only in the KRX continuous session of trading days, orders
on holidays are rejected with ``[2000](571489:장이 열리지 않는 날입니다.)``.

**Orders.** One account (``account_no``, ``initial_cash``). Orders are validated (tick
grid, limits, cash incl. commission, sellable shares) then matched against the stock's
book; limit orders rest and fill as the market trades through their price (partial fills
over time), market/IOC/FOK/최유리 follow their KRX semantics. Fills update cash (with
``commission_rate`` and sell-side ``tax_rate``) and holdings.

**Events.** ``Simulator.add_listener(fn)`` receives every :class:`Trade`,
:class:`BookUpdate` (after each book change), :class:`OrderUpdate` (접수/체결/확인/취소) and
:class:`HoldingUpdate`, synchronously under the simulator lock, in order. The WebSocket
layer turns these into ``0B``/``0D``/``00``/``04`` frames; ``Simulator.trades(code)`` is
the ground truth of every kept trade.

**Faults.** ``Simulator.set_faults`` or ``POST /_sim/faults`` with
``{"expire_tokens": true, "rate_limit_storm_s": 5, "delay_ms": 200}``; ``GET /_sim/state``.
"""

from gslts_kiwoom.sim._app import create_app
from gslts_kiwoom.sim._config import SimConfig
from gslts_kiwoom.sim._events import (
    BookLevel,
    BookUpdate,
    HoldingUpdate,
    Listener,
    MarketEvent,
    OrderUpdate,
    OrderView,
    Trade,
)
from gslts_kiwoom.sim._server import serve
from gslts_kiwoom.sim._simulator import Simulator
from gslts_kiwoom.sim._universe import Stock, load_universe

__all__ = [
    "BookLevel",
    "BookUpdate",
    "HoldingUpdate",
    "Listener",
    "MarketEvent",
    "OrderUpdate",
    "OrderView",
    "SimConfig",
    "Simulator",
    "Stock",
    "Trade",
    "create_app",
    "load_universe",
    "serve",
]
