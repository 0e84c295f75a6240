"""SQLAlchemy 2 typed models: the one definition of the GSLTS schema.

The Alembic history in ``gslts_db/migrations`` builds exactly this schema (a test compares
them). Conventions:

* times are timezone-aware in Python, naive KST in the database (:mod:`gslts_db._types`);
* prices and amounts in KRW are integers; rates and US prices are ``Decimal``;
* ``tick_data`` and ``orderbook_snapshots`` are partitioned by ``trade_date`` on
  MySQL/MariaDB (one partition per day, see :mod:`gslts_db.partitions`). Their primary key
  starts with ``stock_code`` so InnoDB clusters one stock's day together and a tick page is
  a short range scan; every unique key contains ``trade_date`` as partitioning requires.
* names that are reserved words in MySQL 8 (``interval``, ``rank``) are avoided
  (``bar_interval``, ``rank_no``) so raw SQL needs no quoting.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gslts_db._types import KSTDateTime

#: constraint names are deterministic so migrations can refer to them on every engine
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: InnoDB + utf8mb4 everywhere on MySQL/MariaDB (names and reasons are Korean text)
MYSQL_TABLE_ARGS: dict[str, str] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}

#: tables partitioned by RANGE COLUMNS(trade_date) on MySQL/MariaDB
PARTITIONED_TABLES: tuple[str, ...] = ("tick_data", "orderbook_snapshots")

VENUES = ("KRX", "NXT")
TICK_SOURCES = ("live", "backfill", "replay")


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class TickData(Base):
    """One trade (real-time 0B 주식체결), exactly once per (stock, day, venue, cum. volume).

    ``cum_volume`` (FID 13 누적거래량) grows with every trade of a stock on a venue on a day,
    so it identifies the trade; re-inserting a trade is a no-op (:func:`gslts_db.insert_ticks`).
    ``volume`` is this trade's quantity, positive when buy-initiated, negative when
    sell-initiated (FID 15). ``cum_value`` is the cumulative traded value in **KRW million**
    exactly as FID 14 reports it. ``price``/``best_ask``/``best_bid`` are absolute KRW (the
    wire's direction sign is dropped). ``trade_time`` is the exchange's trade time (FID 20,
    whole seconds from Kiwoom), ``recv_time`` when the hub received it.
    """

    __tablename__ = "tick_data"
    __table_args__ = (
        sa.CheckConstraint(_in("venue", VENUES), name="venue"),
        sa.CheckConstraint(_in("source", TICK_SOURCES), name="source"),
        MYSQL_TABLE_ARGS,
    )

    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    trade_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    venue: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    cum_volume: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    trade_time: Mapped[datetime] = mapped_column(KSTDateTime)
    recv_time: Mapped[datetime] = mapped_column(KSTDateTime)
    price: Mapped[int] = mapped_column(sa.BigInteger)
    volume: Mapped[int] = mapped_column(sa.BigInteger)
    cum_value: Mapped[int] = mapped_column(sa.BigInteger)
    best_ask: Mapped[int | None] = mapped_column(sa.BigInteger)
    best_bid: Mapped[int | None] = mapped_column(sa.BigInteger)
    change_rate: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 2))
    strength: Mapped[Decimal | None] = mapped_column(sa.Numeric(9, 2))
    session: Mapped[str | None] = mapped_column(sa.String(8))
    source: Mapped[str] = mapped_column(sa.String(8), server_default="live")


class OrderbookSnapshot(Base):
    """A sampled 10-level order book (real-time 0D 주식호가잔량), at most one per second.

    The key is (stock, day, venue, ``book_time``) where ``book_time`` is the book's own time
    (FID 21, whole seconds): the writer keeps the first snapshot it offers for a second and
    ignores the rest, so replays are no-ops. ``levels`` holds the 40 numbers of the ladder
    packed by :func:`gslts_db.pack_levels` (320 bytes instead of 40 columns).
    """

    __tablename__ = "orderbook_snapshots"
    __table_args__ = (sa.CheckConstraint(_in("venue", VENUES), name="venue"), MYSQL_TABLE_ARGS)

    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    trade_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    venue: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    book_time: Mapped[datetime] = mapped_column(KSTDateTime, primary_key=True)
    recv_time: Mapped[datetime] = mapped_column(KSTDateTime)
    levels: Mapped[bytes] = mapped_column(
        sa.LargeBinary().with_variant(mysql.VARBINARY(320), "mysql", "mariadb")
    )
    total_ask_qty: Mapped[int] = mapped_column(sa.BigInteger)
    total_bid_qty: Mapped[int] = mapped_column(sa.BigInteger)
    expected_price: Mapped[int | None] = mapped_column(sa.BigInteger)
    expected_qty: Mapped[int | None] = mapped_column(sa.BigInteger)


class Candle(Base):
    """An OHLCV bar built from stored ticks (``bar_interval`` e.g. ``1m``, ``5m``, ``1d``).

    ``start_time`` is the bar's opening instant; ``value`` is traded value in KRW.
    """

    __tablename__ = "candles"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    bar_interval: Mapped[str] = mapped_column(sa.String(4), primary_key=True)
    start_time: Mapped[datetime] = mapped_column(KSTDateTime, primary_key=True)
    open: Mapped[int] = mapped_column(sa.BigInteger)
    high: Mapped[int] = mapped_column(sa.BigInteger)
    low: Mapped[int] = mapped_column(sa.BigInteger)
    close: Mapped[int] = mapped_column(sa.BigInteger)
    volume: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[int] = mapped_column(sa.BigInteger)
    trade_count: Mapped[int] = mapped_column(sa.Integer)


class StockMaster(Base):
    """One listed stock (ka10099 종목정보 리스트), refreshed daily.

    ``chosung`` holds the initial consonants of ``name`` (삼성전자 → ``ㅅㅅㅈㅈ``) for 초성
    search; ``order_warning`` is 0 none, 1 ETF 투자주의, 2 정리매매, 3 단기과열, 4 투자위험,
    5 투자경고.
    """

    __tablename__ = "stock_master"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), index=True)
    chosung: Mapped[str] = mapped_column(sa.String(100), index=True)
    market: Mapped[str] = mapped_column(sa.String(16))
    sector: Mapped[str | None] = mapped_column(sa.String(100))
    size_class: Mapped[str | None] = mapped_column(sa.String(32))
    listed_shares: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_price: Mapped[int | None] = mapped_column(sa.BigInteger)
    listed_on: Mapped[date | None] = mapped_column(sa.Date)
    audit_info: Mapped[str | None] = mapped_column(sa.String(64))
    state: Mapped[str | None] = mapped_column(sa.String(255))
    order_warning: Mapped[int] = mapped_column(sa.SmallInteger, server_default="0")
    nxt_enabled: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    updated_at: Mapped[datetime] = mapped_column(KSTDateTime)


class Order(Base):
    """An order this system placed (kt10000 매수 / kt10001 매도 / kt10002 정정 / kt10003 취소).

    ``client_order_id`` is ours and unique: a retried request with the same id is the same
    order, never a second one. ``broker_order_no`` is Kiwoom's 7-digit number (unique per
    day only), ``original_order_no`` the order a modify/cancel targets and ``root_order_no``
    the first order of the chain (``base_orig_ord_no``).
    """

    __tablename__ = "orders"
    __table_args__ = (
        sa.CheckConstraint(_in("side", ("buy", "sell")), name="side"),
        sa.CheckConstraint(_in("action", ("new", "modify", "cancel")), name="action"),
        sa.Index(None, "stock_code", "created_at"),
        sa.Index(None, "state", "created_at"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    #: a modify/cancel request's order (the user's order it changes); None for a new order
    parent_id: Mapped[int | None] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        sa.ForeignKey("orders.id", ondelete="CASCADE"),
        index=True,
    )
    client_order_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    broker_order_no: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    original_order_no: Mapped[str | None] = mapped_column(sa.String(16))
    root_order_no: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    mode: Mapped[str] = mapped_column(sa.String(8))
    action: Mapped[str] = mapped_column(sa.String(8), server_default="new")
    stock_code: Mapped[str] = mapped_column(sa.String(12))
    venue: Mapped[str] = mapped_column(sa.String(3))
    side: Mapped[str] = mapped_column(sa.String(4))
    order_type: Mapped[str] = mapped_column(sa.String(24))
    price: Mapped[int | None] = mapped_column(sa.BigInteger)
    stop_price: Mapped[int | None] = mapped_column(sa.BigInteger)
    quantity: Mapped[int] = mapped_column(sa.BigInteger)
    filled_quantity: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    filled_amount: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    #: what is still working at the exchange (quantity − filled − cancelled)
    open_quantity: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    state: Mapped[str] = mapped_column(sa.String(16), index=True)
    reject_reason: Mapped[str | None] = mapped_column(sa.String(255))
    #: who placed it and from where (the audit trail has every action on it)
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_by_ip: Mapped[str | None] = mapped_column(sa.String(45))
    #: SHA-256 of the request that created it: the same ``client_order_id`` with another
    #: request is refused (409), never a second order
    request_hash: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(KSTDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(KSTDateTime)
    updated_at: Mapped[datetime] = mapped_column(KSTDateTime)


class OrderEvent(Base):
    """One order/fill event (real-time 00 주문체결, or the REST result of a request).

    ``order_id`` is empty for events of orders placed outside GSLTS (e.g. from the HTS).
    ``event_key`` is a dedupe key chosen by the writer (e.g. date+order no+fill no) so a
    replayed event is stored once.
    """

    __tablename__ = "order_events"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    order_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    event_key: Mapped[str | None] = mapped_column(sa.String(96), unique=True)
    broker_order_no: Mapped[str | None] = mapped_column(sa.String(16), index=True)
    event_type: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str | None] = mapped_column(sa.String(16))
    event_time: Mapped[datetime] = mapped_column(KSTDateTime)
    fill_no: Mapped[str | None] = mapped_column(sa.String(16))
    fill_price: Mapped[int | None] = mapped_column(sa.BigInteger)
    fill_qty: Mapped[int | None] = mapped_column(sa.BigInteger)
    open_qty: Mapped[int | None] = mapped_column(sa.BigInteger)
    cum_filled_qty: Mapped[int | None] = mapped_column(sa.BigInteger)
    message: Mapped[str | None] = mapped_column(sa.String(255))
    received_at: Mapped[datetime] = mapped_column(KSTDateTime)


class WatchlistItem(Base):
    """A stock the user asked the hub to collect every day (besides the top 50)."""

    __tablename__ = "watchlist"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    note: Mapped[str | None] = mapped_column(sa.String(255))
    sort_order: Mapped[int] = mapped_column(sa.Integer, server_default="0")
    added_at: Mapped[datetime] = mapped_column(KSTDateTime)


class UniverseEntry(Base):
    """Which stocks were collected on a day and why (``top50`` by ka10032 거래대금상위,
    ``watchlist`` or ``manual``); ``rank_no`` is the top-50 rank where applicable."""

    __tablename__ = "universe_history"
    __table_args__ = (
        sa.CheckConstraint(_in("reason", ("top50", "watchlist", "manual")), name="reason"),
        MYSQL_TABLE_ARGS,
    )

    trade_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    reason: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    rank_no: Mapped[int | None] = mapped_column(sa.Integer)
    added_at: Mapped[datetime] = mapped_column(KSTDateTime)


SECTOR_CONFIDENCE = ("H", "M", "L")
US_INSTRUMENT_KINDS = ("etf", "index", "market")


class UsSectorData(Base):
    """An adjusted daily bar of a US instrument (sector ETF, index or market factor) of
    the sector link, ``trade_date`` the NYSE session (US Eastern). Prices are USD,
    ``close`` adjusted for splits and distributions; ``source`` names where it came from
    (``csv``, ``sim``, ``yfinance``)."""

    __tablename__ = "us_sector_data"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    symbol: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    trade_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    open: Mapped[Decimal] = mapped_column(sa.Numeric(20, 6))
    high: Mapped[Decimal] = mapped_column(sa.Numeric(20, 6))
    low: Mapped[Decimal] = mapped_column(sa.Numeric(20, 6))
    close: Mapped[Decimal] = mapped_column(sa.Numeric(20, 6))
    volume: Mapped[int] = mapped_column(sa.BigInteger)
    source: Mapped[str] = mapped_column(sa.String(16))


class UsInstrument(Base):
    """A US instrument the sector link uses (the list is data, editable): ``kind`` ``etf``,
    ``index`` or ``market`` (a market factor such as EWY or SPY)."""

    __tablename__ = "us_instruments"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", US_INSTRUMENT_KINDS), name="kind"),
        MYSQL_TABLE_ARGS,
    )

    symbol: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    kind: Mapped[str] = mapped_column(sa.String(8))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())


class KrDailyBar(Base):
    """A daily bar of a Korean stock for the sector link (ka10081 일봉, or imported), KRW."""

    __tablename__ = "kr_daily_bars"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    trade_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    open: Mapped[int] = mapped_column(sa.BigInteger)
    high: Mapped[int] = mapped_column(sa.BigInteger)
    low: Mapped[int] = mapped_column(sa.BigInteger)
    close: Mapped[int] = mapped_column(sa.BigInteger)
    volume: Mapped[int] = mapped_column(sa.BigInteger)
    source: Mapped[str] = mapped_column(sa.String(16))


class SectorLink(Base):
    """A link of the sector map: a US instrument → a Korean stock, with its confidence
    (``H`` same industry and cycle, ``M`` plausible channel, ``L`` weak) and rationale."""

    __tablename__ = "sector_links"
    __table_args__ = (
        sa.CheckConstraint(_in("confidence", SECTOR_CONFIDENCE), name="confidence"),
        MYSQL_TABLE_ARGS,
    )

    us_symbol: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    kr_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True, index=True)
    kr_name: Mapped[str] = mapped_column(sa.String(100))
    confidence: Mapped[str] = mapped_column(sa.String(1))
    rationale: Mapped[str] = mapped_column(sa.String(500))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())


class SectorRecommendation(Base):
    """One stock of the sector link's ranked list for the KRX session ``for_date``.

    The figures are fractions (0.012 = +1.2 %; None where undefined); ``explanation`` is
    the whole recommendation as JSON (drivers with their US moves, betas and SEs).
    """

    __tablename__ = "sector_recommendations"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    for_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    kr_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    rank_no: Mapped[int] = mapped_column(sa.Integer)
    kr_name: Mapped[str] = mapped_column(sa.String(100))
    score: Mapped[float | None] = mapped_column(sa.Double)
    expected_gap: Mapped[float | None] = mapped_column(sa.Double)
    expected_day: Mapped[float | None] = mapped_column(sa.Double)
    beta_gap: Mapped[float | None] = mapped_column(sa.Double)
    beta_gap_se: Mapped[float | None] = mapped_column(sa.Double)
    beta_day: Mapped[float | None] = mapped_column(sa.Double)
    hit_rate: Mapped[float | None] = mapped_column(sa.Double)
    history_days: Mapped[int] = mapped_column(sa.Integer)
    explanation: Mapped[str] = mapped_column(sa.Text)
    model_version: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(KSTDateTime)


class Recommendation(Base):
    """A ranked recommendation of a strategy for a KRX trading day.

    ``reasons`` is a JSON array of human-readable strings (stored as text so both engines
    agree on the type).
    """

    __tablename__ = "recommendations"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    rec_date: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    strategy: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    stock_code: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    score: Mapped[Decimal] = mapped_column(sa.Numeric(12, 6))
    rank_no: Mapped[int] = mapped_column(sa.Integer)
    reasons: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(KSTDateTime)


USER_ROLES = ("admin", "trader", "viewer")


class User(Base):
    """A dashboard login. ``password_hash`` is a salted slow hash (Argon2), never the
    password. ``role``: ``admin`` (users, the Kiwoom token, trading), ``trader`` (trading)
    or ``viewer`` (read only)."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(_in("role", USER_ROLES), name="role"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(8), server_default="viewer")
    is_active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(KSTDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(KSTDateTime)


class AuthSession(Base):
    """A login session (browser cookie or API bearer token). ``token_hash`` is the SHA-256
    of the token (the token itself is never stored); ``csrf_hash`` the SHA-256 of the
    session's CSRF token (cookie sessions). Logout or expiry ends it (``revoked_at``)."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        sa.CheckConstraint(_in("kind", ("cookie", "bearer")), name="kind"),
        MYSQL_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    csrf_hash: Mapped[str | None] = mapped_column(sa.String(64))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))
    created_at: Mapped[datetime] = mapped_column(KSTDateTime)
    expires_at: Mapped[datetime] = mapped_column(KSTDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(KSTDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(KSTDateTime)
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))


class AuditEntry(Base):
    """Who did what, when and from where: every order action, login and admin action.

    ``username`` is kept beside ``user_id`` so the trail still reads after a user is
    removed; ``detail`` is JSON text (never a password, token or key)."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index(None, "user_id", "at"), MYSQL_TABLE_ARGS)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(KSTDateTime, index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(32), index=True)
    target: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    detail: Mapped[str | None] = mapped_column(sa.Text)
