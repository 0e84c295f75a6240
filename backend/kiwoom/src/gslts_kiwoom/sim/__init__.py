"""A local Kiwoom back end: the REST and WebSocket protocols over one market model.

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
calendar ending at the snapshot close, then the days of this run). The synthetic days
also have 1-minute bars (the last ``minute_history_days``, default all), drawn per stock
and day from the daily bar so that they add up to it (open, high, low, close, volume):
one per minute of 09:00–15:19 and one for the 15:30 closing call. ka10080 serves today's
live bars, then this run's closed days as recorded, then that history, newest first,
900 rows a page (PROTOCOL §3.2) with ``next-key`` = the last row's ``cntr_tm``; ``base_dt``
starts at the end of that day. Everything is deterministic for a given ``seed`` and
sequence of ``step`` times.

**Clock.** Market time moves only through ``Simulator.step(now)``: tests call it with
explicit datetimes; ``Simulator.start()`` runs a ticker thread stepping to
``start_time + elapsed wall time × time_warp`` every ``tick_interval_s`` (the app's
lifespan starts it when ``config.ticker``). ``clock="always"``: continuous trading at any
hour; ``clock="krx"``: trades only in the KRX continuous session of trading days, orders
on holidays are rejected with ``[2000](571489:장이 열리지 않는 날입니다.)``.

**Orders.** One account (``account_no``, ``initial_cash``). Every Kiwoom order type
(``trde_tp``, :class:`gslts_kiwoom.OrderType`) with its rules; orders are validated (tick
grid, limits, cash incl. commission, sellable shares, the type's session and venue) then
matched against the stock's book. 보통/조건부지정가 rest and fill as the market trades
through them (partial fills over time); 시장가 sweeps the book (the rest is cancelled);
최유리 takes the best opposite price, 최우선 waits at the best own price; IOC/FOK fill at once
or cancel (FOK whole or nothing). Under ``clock="krx"``: 보통/시장가/조건부지정가 also in the
calls (08:30–09:00, 15:20–15:30), waiting for the crossing, which fills them whole at its
price; 조건부지정가 turns market at 15:20; KRX day orders end after 15:30 (00 취소), NXT ones
at 20:00; 장전시간외 (61, 08:30–08:40) and 장후시간외 (81, 15:40–16:00) trade whole at once
at the previous / today's close; 시간외단일가 (62, 16:00–18:00, ±10 % of the close) waits
for the 10-minute rounds; off-hours trades add volume but not price. ``clock="always"`` is
continuous on every venue and has no off-hours session. 스톱지정가 (28) waits out of the
book until the price reaches its stop (``cond_uv``), then works as a limit; 중간가 (29)
rests at the mid of the book and trades with the opposite flow there (30/31 find no one at
once and cancel); both are Nextrade's (``nxt_only_trade_types``). Fills update cash (with
``commission_rate`` and sell-side ``tax_rate``) and holdings. The account is a cash account
(계좌증거금율 100 %, no 미수): kt00011 answers, for a price, the quantity a buy may have
(min_ord_alowq = profa_100ord_alowq, the broker's own reservation per share: one share
more is refused), other rates ``""``; kt00010 simulates a trade's effect on the orderable
and withdrawable cash (a sale's proceeds count at once).

**Events.** ``Simulator.add_listener(fn)`` receives every :class:`MarketTrade`,
:class:`BookUpdate` (after each book change), :class:`OrderUpdate` (접수/체결/확인/취소/거부) and
:class:`HoldingUpdate`, synchronously under the simulator lock, in order. The WebSocket
layer turns these into ``0B``/``0D``/``00``/``04`` frames; ``Simulator.trades(code)`` is
the ground truth of every kept trade.

**WebSocket** (``/api/dostk/websocket`` on the same port; ``sim.ws_hub`` is the
:class:`~gslts_kiwoom.sim._ws.SimWsHub`, ``sim.feed`` the event → wire formatter). LOGIN is
checked against the au10001 tokens (``Simulator.validate_token``); PING every
``ws_ping_s`` (R10002 after ``ws_max_missed_pings``); one session per app key (R10001).
REAL types: ``0B`` (every FID of the 0B dictionary, in the catalogue's order, as real frames
carry them; the model fills 20 10 11 12 27 28 15 13 14 16 17 18 25 228 290 9081, the others
are ``""``; 14 = cumulative value in 백만원, truncated; 9081 ``ws_trade_exchange``,
default ``KRX`` as captured on the mock server, or ``1`` as in the guide), ``0D`` (21,
41–80, 121/125, 128/138, KRX 6044–6065, 13, 215; 23/24 only during a call auction),
``0J`` for every ka20001 index (001 KOSPI, 101 KOSDAQ, …; level = cap-weighted member
prices; 13/14 in 천주/백만원), ``0s`` (FID 215: 0 opening call, 3 open, 2 closing call,
4 closed, a/b after-hours, under ``clock="krx"``), ``1h`` (static VI, 9068 ``1``
triggered / ``2`` released) and ``00``/``04`` (below).
Entries are produced only for registered items and flushed once per ``step`` (and after
each order call); each step emits the trades, then one ``0D`` per stock whose book changed,
so the last ``0B`` before a ``0D`` carries that book's best ask/bid (27/28).

**Order stream (00/04) and the account APIs.** Every FID of the 00 dictionary; FID 9001
the plain code as on the mock server (``ws_account_code_prefix="A"`` for ``A005930``);
910/914 unsigned, 909–915 ``""`` outside a fill; 912 ``JJ``; 2134–2136 from the venue
(``1``/``KRX``/``N``). A new order is 접수 → 체결…; what IOC/FOK/market orders leave, and a
day order at the end of its session, is cancelled by the exchange: 취소 of the same number,
902 = 0. A 스톱지정가 reaching its stop sends a 확인 of its own number before the fills it
makes (``stop_trigger_event``: ``확인``, ``접수`` or ``none``; no capture shows Kiwoom's
choice) or, when its price has left the day's limits by then (a later day under
``clock="always"``), a 거부 with FID 919 the reason and 902 = 0: the one refusal after
acceptance the model makes (the ``reject_orders`` fault makes more). A request refused at
once (``return_code`` 20) sends no 00, as on Kiwoom. A modify or cancel is 접수 → 확인 of
its own number with 904 = the original, which gets no event. ``order_confirm_before_fills``
(no capture shows it either): True puts the 확인 right after the 접수; False puts a
modify's 확인 after the fills its new price makes at once, and has the exchange take a
cancel at the end of the next step, after the original's fills of that step (the 확인
cancels what is left, 900 = that; nothing left makes it a 거부). ka10075/ka10076 show each
order as its last event left it; kt00007 lists every order of the day whatever became of
it (10-digit zero-padded numbers, ``A`` codes, ``HH:MM:SS`` times, 주문구분
``현금매수``/``현금매도`` with ``mdfy_cncl`` ``정정``/``취소``, 접수구분 ``접수``/``확인``/``거부``,
as in the guide's example).

**Load.** ``trades_per_s`` (``--rate``; ``Simulator.set_rate`` / ``POST /_sim/rate``
``{"trades_per_s": N, "codes": [...]}``) and ``trade_universe`` (``--stocks N``: trade
only the N most traded stocks). ``ws_items_per_frame`` items per REAL frame. At or above
``bulk_min_trades_per_s`` (1,000) the **flood path** runs: per step each trading stock draws
its trade count (Poisson, its share of the rate) and makes them in one loop on a
precomputed tick ladder (same book model; the touch moves a tick when a level empties), then
records them once per batch (``TradeBatch``: columnar ground truth, trade history, minute
bars) and the feed formats 0B text from per-price cached fragments; within a step trades
are emitted stock by stock (each stock in time order), then one 0D per changed stock. The
hub routes entries into ready REAL frames per session (one join per frame); ``gslts sim``
serves with uvicorn's ``websockets-sansio`` (fastest here). Stocks with resting user
orders keep the per-trade path. ``tests/bench/bench_sim.py`` measures the flood.

**Ground truth.** ``sim.market.ground_truth`` keeps every trade of the run (column-wise,
cap ``ground_truth_cap``, overflow counted in ``dropped``); ``GET /_sim/ground-truth``
(alias ``/_sim/trades``) ``?since_seq=&limit=&code=`` pages it as
``[seq, code, venue, date, time(HHMMSSffffff), price, signed volume, cum_volume]`` rows.

**Clock speed.** ``Simulator.set_time_warp`` / ``POST /_sim/clock {"time_warp": W}``
changes the warp from now on (0..10,000; 0 stops the clock: no trades, REST still
answers); the market time never jumps. The soak stops it before comparing the finished day.

**Clock ``krx``.** No continuous trades outside 09:00–15:20; the opening (08:30–09:00) and
closing (15:20–15:30) calls cross at one price at 09:00 / 15:30 (one trade per stock of
``Market.auction_codes``). **VI**: a trade ±``vi_threshold`` (10 %) from the reference
price stops the stock for ``vi_duration_s`` (120 s); rare under ``clock="always"``
(mean reversion) but possible. **Replay**: ``SimConfig.replay`` (``--replay FILE``) feeds
recorded ticks (JSONL/CSV/Parquet with stock_code, trade_time, price, signed volume) through
the same model and protocol at ``replay_speed``.

**Faults.** ``Simulator.set_faults`` or ``POST /_sim/faults`` with
``{"expire_tokens": true, "rate_limit_storm_s": 5, "delay_ms": 200,
"order_delay_ms": 3000, "order_delay_phase": "after"|"before", "order_delay_api_ids":
["kt10000", …], "reject_orders": 2, "drop_connections": true, "stall":
true|false|seconds, "garbage": 6, "reject_login": 1}`` (bad input: 422, nothing changed).
``delay_ms`` holds every REST request before it is handled; ``order_delay_ms`` only the
order APIs (kt10000–kt10003 or the ones listed): ``after`` (default) applies the order at
once, 00 events included, and holds the answer (a client that times out has really placed
the order: the idempotency case), ``before`` holds the request (the order is placed after
the delay); ``reject_orders`` has the exchange refuse the next N new orders after accepting
them (00 접수 → 거부, 919 the reason). ``GET /_sim/state`` (includes ``trades_per_s``, the
faults, ``ground_truth`` counts and ``ws`` stats).

**Modules** (private; each imports only those before it, enforced by lint-imports: no
cycles, and the model never imports a protocol layer). Leaves: ``_config``, ``_fmt``
(wire formatting), ``_universe``, ``_events``, ``_indexes``, ``_orders``. The model:
``_stock`` (one stock's state) → ``_book`` → ``_history`` (ground truth, synthetic
daily bars), ``_sessions`` (phases, auctions, VI), ``_flood`` (batch path),
``_matching`` (user orders) → ``_market`` → ``_accounts`` (the broker), ``_replay``.
Protocols: ``_ws_session`` → ``_ws`` (WebSocket hub); ``_feed_index``, ``_feed_trades``
→ ``_feed`` (events → REAL entries); ``_simulator`` (the facade); ``_app_base`` →
``_app_market``, ``_app_charts``, ``_app_orders``, ``_app_account`` → ``_app_dispatch``,
``_app_admin`` → ``_app``; ``_server``.

**Sector world** (``sector_world``, public, standard library only): synthetic daily bars
of US sector ETFs and linked Korean stocks with a planted, absent or time-reversed
relation, for the sector model's tests and benchmarks (``make_world``).
"""

from gslts_kiwoom.models import BookLevel
from gslts_kiwoom.sim import sector_world
from gslts_kiwoom.sim._app import create_app
from gslts_kiwoom.sim._config import SimConfig
from gslts_kiwoom.sim._events import (
    BookUpdate,
    HoldingUpdate,
    Listener,
    MarketEvent,
    MarketTrade,
    OrderUpdate,
    OrderView,
    PhaseChange,
    ViUpdate,
)
from gslts_kiwoom.sim._server import serve
from gslts_kiwoom.sim._simulator import Simulator
from gslts_kiwoom.sim._universe import Stock, load_universe

#: The old name of :class:`MarketTrade`, kept while tests/e2e and tests/bench import it.
Trade = MarketTrade

__all__ = [
    "BookLevel",
    "BookUpdate",
    "HoldingUpdate",
    "Listener",
    "MarketEvent",
    "MarketTrade",
    "OrderUpdate",
    "OrderView",
    "PhaseChange",
    "SimConfig",
    "Simulator",
    "Stock",
    "Trade",
    "ViUpdate",
    "create_app",
    "load_universe",
    "sector_world",
    "serve",
]
