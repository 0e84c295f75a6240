"""The order service: placing, modifying and cancelling orders exactly once, and keeping
their state right from the ``00`` stream the hub relays and from Kiwoom's lists.

Exactly once
------------
* The order row is committed (state ``pending``, ``submitted_at`` set) **before** the broker
  call. ``client_order_id`` is unique: the same id again returns the stored order (the same
  request) or 409 (another request), and never reaches the broker a second time — two
  concurrent identical POSTs race for one insert, and the loser answers with the winner's
  row.
* A broker call that times out (or a backend that dies during it) leaves the order
  ``unknown``. It is **never sent again**: the service looks for it in ka10075/ka10076 (and
  kt00007 when the client offers it) and in the ``00`` stream (a 접수 of the same stock, side,
  quantity and price that no order claims); found, it takes that number; not found
  ``ORDER_UNKNOWN_SETTLE_S`` after the call, it is ``rejected`` ("not at the broker").
* Modify and cancel requests are rows too (``action`` modify/cancel, ``parent_id`` the
  order): one at a time per order; while one is unresolved the order refuses another (409).

State
-----
``pending → accepted → partially_filled → filled / cancelled / rejected`` (and ``unknown``
until resolved), recomputed by :func:`gslts_backend.orders.ledger.summarize` from the
order's events after every change. Every event is an ``order_events`` row, idempotent on
its key (a relayed event twice is stored once); every change of state or quantity is
pushed to the owner's browsers (``order`` on ``/ws``). At start-up (pending orders of a
dead process become ``unknown``) and after every gap of the relay, the open orders are
reconciled with ka10075/ka10076.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gslts_backend.auth import record_audit
from gslts_backend.auth.session_info import orders_refusal
from gslts_backend.deps import Principal
from gslts_backend.metrics import ORDER_LATENCY
from gslts_backend.orders import ledger
from gslts_backend.orders.rules import (
    NAME_OF,
    TYPE_NAMES,
    Funds,
    SessionRules,
    Venue,
    bad,
    buy_cost,
    check_fields,
    check_funds,
    check_price,
    check_session,
    check_venue,
)
from gslts_backend.orders.schemas import ModifyIn, OrderIn
from gslts_backend.services import Services
from gslts_common.bus import GAP_CHANNEL, ORDER_CHANNEL, Event
from gslts_common.errors import (
    AppError,
    BadGateway,
    BadInput,
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unavailable,
)
from gslts_db.models import Order, OrderEvent, StockMaster, User
from gslts_kiwoom import (
    APIError,
    KiwoomError,
    OrderRejectedError,
    OrderType,
    RateLimitError,
    TransportError,
)
from gslts_kiwoom.krx import KST

log = logging.getLogger(__name__)

OPEN_STATES = ("accepted", "partially_filled")
UNRESOLVED = ("pending", "unknown")
LIVE_STATES = (*UNRESOLVED, *OPEN_STATES)
TERMINAL = ("filled", "cancelled", "rejected")
#: the 00 stream's 주문상태 (FID 913) → event type
STREAM_TYPES = {
    "접수": "accepted",
    "체결": "fill",
    "확인": "confirmed",
    "취소": "cancelled",
    "거부": "rejected",
}
#: Kiwoom's back-office codes meaning "nothing open to modify/cancel" (sim and live)
NOTHING_OPEN = frozenset({"800049", "800050"})
RESOLVE_EVERY_S = 2.0
GAP_DEBOUNCE_S = 0.5


class OrderRefused(BadInput):
    """The broker refused the order (Kiwoom ``return_code`` 20: e.g. margin, price);
    the order is stored as ``rejected`` with the reason."""

    status = 422


def now_kst() -> datetime:
    return datetime.now(KST)


def today_start(now: datetime | None = None) -> datetime:
    n = (now or now_kst()).astimezone(KST)
    return datetime(n.year, n.month, n.day, tzinfo=KST)


def request_hash(body: OrderIn) -> str:
    data = body.model_dump(exclude={"client_order_id"})
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


class OrderService:
    """See the module docstring. ``account`` gives the account snapshot (cash, holdings)
    the checks use; ``live_price`` a stock's latest traded price (or None)."""

    def __init__(
        self,
        svc: Services,
        account: Callable[[], Any],
        live_price: Callable[[str], int | None],
        *,
        clock: Callable[[], datetime] = now_kst,
    ) -> None:
        self.svc = svc
        self.settings = svc.settings
        self._account = account
        self._live_price = live_price
        self._clock = clock
        self._queue: queue.Queue[tuple[str, Event] | None] = queue.Queue()
        self._lock = threading.RLock()
        self._limits: dict[tuple[str, date], tuple[int, int, int, int]] = {}
        self._stop = threading.Event()
        self._reconcile = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = self._clock()
        #: counters (tests, status)
        self.stream_events = 0
        self.reconciles = 0
        self.broker_calls = 0

    @property
    def session_rules(self) -> SessionRules:
        rules = self.settings.order_session_rules
        if rules == "auto":
            return "always" if self.settings.kiwoom_mode == "sim" else "krx"
        return rules

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="orders", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(10)

    def on_bus(self, channel: str, event: Event) -> None:
        """The bus follower's callback (its thread: hand over only)."""
        if (channel == ORDER_CHANNEL and event.get("kind") == "order") or channel == GAP_CHANNEL:
            self._queue.put((channel, event))

    def _run(self) -> None:
        try:
            self.recover()
        except Exception:
            log.exception("orders_recover_failed")
            self._reconcile.set()
        last_resolve = time.monotonic()
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=RESOLVE_EVERY_S)
            except queue.Empty:
                item = None
            if self._stop.is_set():
                return
            if item is not None:
                channel, event = item
                try:
                    if channel == GAP_CHANNEL:
                        self._reconcile.set()
                    else:
                        self.stream_events += 1
                        self.on_stream(event)
                except Exception:
                    log.exception("orders_stream_event_failed")
            due = time.monotonic() - last_resolve >= RESOLVE_EVERY_S
            if self._reconcile.is_set() or (due and self._has_unresolved()):
                if self._reconcile.is_set():
                    self._stop.wait(GAP_DEBOUNCE_S)
                self._reconcile.clear()
                last_resolve = time.monotonic()
                try:
                    self.reconcile()
                except KiwoomError as exc:
                    log.warning("orders_reconcile_failed error=%s", type(exc).__name__)
                    self._reconcile.set()
                    self._stop.wait(RESOLVE_EVERY_S)
                except Exception:
                    log.exception("orders_reconcile_failed")
            elif due:
                last_resolve = time.monotonic()

    # ------------------------------------------------------------------ recovery
    def recover(self) -> None:
        """At start-up: orders a dead process left ``pending`` (the broker call may or may
        not have happened) become ``unknown``; then reconcile everything open today."""
        with self._lock, self.svc.sessions.begin() as db:
            stale = db.scalars(
                sa.select(Order).where(
                    Order.state == "pending",
                    Order.created_at >= today_start(self._clock()) - timedelta(days=1),
                    Order.submitted_at < self._started_at,
                )
            ).all()
            for row in stale:
                row.state = "unknown"
                row.updated_at = self._clock()
                self._add_event(
                    db,
                    row.parent_id or row.id,
                    "unknown",
                    row.broker_order_no,
                    message="the backend stopped during the broker call: checking the broker",
                )
        if stale:
            log.warning("orders_recovered_pending n=%d", len(stale))
        self.reconcile()

    def _has_unresolved(self) -> bool:
        with self.svc.sessions() as db:
            n = db.scalar(
                sa.select(sa.func.count())
                .select_from(Order)
                .where(Order.state == "unknown", Order.created_at >= today_start(self._clock()))
            )
        return bool(n)

    # ------------------------------------------------------------------ reads
    def get(self, order_id: int, *, events: bool = False) -> dict[str, Any]:
        with self.svc.sessions() as db:
            row = db.get(Order, order_id)
            if row is None or row.parent_id is not None:
                raise NotFound(f"no order {order_id}", field="order_id")
            return self._doc(db, row, events=events)

    def list_orders(
        self,
        *,
        status: str,
        stock_code: str | None,
        day_from: date | None,
        day_to: date | None,
        cursor: int | None,
        limit: int,
    ) -> dict[str, Any]:
        q = sa.select(Order).where(Order.parent_id.is_(None))
        groups = {
            "open": LIVE_STATES,
            "filled": ("filled",),
            "cancelled": ("cancelled",),
            "rejected": ("rejected",),
        }
        if status in groups:
            q = q.where(Order.state.in_(groups[status]))
        if stock_code:
            q = q.where(Order.stock_code == stock_code)
        if day_from:
            q = q.where(Order.created_at >= datetime.combine(day_from, datetime.min.time(), KST))
        if day_to:
            end = datetime.combine(day_to + timedelta(days=1), datetime.min.time(), KST)
            q = q.where(Order.created_at < end)
        if cursor is not None:
            q = q.where(Order.id < cursor)
        q = q.order_by(Order.id.desc()).limit(limit + 1)
        with self.svc.sessions() as db:
            rows = list(db.scalars(q).all())
            more = len(rows) > limit
            rows = rows[:limit]
            users = self._usernames(db, rows)
            docs = [self._doc(db, r, users=users) for r in rows]
        return {"orders": docs, "next_cursor": str(rows[-1].id) if more and rows else None}

    def _usernames(self, db: Session, rows: Iterable[Order]) -> dict[int, str]:
        ids = {r.user_id for r in rows if r.user_id is not None}
        if not ids:
            return {}
        return dict(db.execute(sa.select(User.id, User.username).where(User.id.in_(ids))).all())

    def _doc(
        self,
        db: Session,
        row: Order,
        *,
        events: bool = False,
        users: dict[int, str] | None = None,
    ) -> dict[str, Any]:
        if users is None:
            users = self._usernames(db, [row])
        t = TYPE_NAMES.get(row.order_type)
        busy = False
        if row.state in OPEN_STATES:
            busy = bool(
                db.scalar(
                    sa.select(sa.func.count())
                    .select_from(Order)
                    .where(Order.parent_id == row.id, Order.state.in_(UNRESOLVED))
                )
            )
        can = row.state in OPEN_STATES and row.open_quantity > 0 and not busy
        doc: dict[str, Any] = {
            "id": row.id,
            "client_order_id": row.client_order_id,
            "broker_order_no": row.broker_order_no,
            "root_order_no": row.root_order_no,
            "stock_code": row.stock_code,
            "venue": row.venue,
            "side": row.side,
            "order_type": row.order_type,
            "order_type_label": t.label if t else row.order_type,
            "price": row.price,
            "stop_price": row.stop_price,
            "quantity": row.quantity,
            "filled_quantity": row.filled_quantity,
            "open_quantity": row.open_quantity,
            "avg_fill_price": (
                row.filled_amount // row.filled_quantity if row.filled_quantity else None
            ),
            "state": row.state,
            "reject_reason": row.reject_reason,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "username": users.get(row.user_id) if row.user_id is not None else None,
            "actions": {"modify": can, "cancel": can},
        }
        if events:
            evs = db.scalars(
                sa.select(OrderEvent).where(OrderEvent.order_id == row.id).order_by(OrderEvent.id)
            ).all()
            doc["events"] = [
                {
                    "at": e.event_time,
                    "type": e.event_type,
                    "broker_order_no": e.broker_order_no,
                    "fill_no": e.fill_no,
                    "fill_price": e.fill_price,
                    "fill_qty": e.fill_qty,
                    "open_qty": e.open_qty,
                    "message": e.message,
                }
                for e in evs
            ]
        return doc

    def _publish(self, order_id: int) -> None:
        with self.svc.sessions() as db:
            row = db.get(Order, order_id)
            if row is None:
                return
            doc = self._doc(db, row)
            user = row.user_id
        self.svc.events.publish("order", user, orjson.loads(orjson.dumps(doc)))

    # ------------------------------------------------------------------ checks
    def _refuse_if_disabled(self) -> None:
        refusal = orders_refusal(self.settings)
        if refusal is not None:
            raise Forbidden(refusal, detail_ko="실전 주문이 비활성화되어 있습니다")

    def _stock(self, code: str) -> StockMaster | None:
        with self.svc.sessions() as db:
            row = db.get(StockMaster, code)
            if row is None and db.scalar(sa.select(sa.func.count()).select_from(StockMaster)):
                raise bad("stock_code", f"{code} is not a listed stock", "상장 종목이 아닙니다")
            if row is not None:
                db.expunge(row)
        if row is not None and row.state and "거래정지" in row.state:
            raise bad("stock_code", f"{code} is suspended (거래정지)", "거래정지 종목입니다")
        return row

    def limits(self, code: str) -> tuple[int, int, int, int]:
        """``(lower, upper, base, last)`` of today (ka10001, asked once per stock and day;
        ``last`` from the live data when the hub has it)."""
        key = (code, self._clock().date())
        cached = self._limits.get(key)
        if cached is None:
            try:
                q = self.svc.kiwoom().get_quote(code)
            except APIError as exc:
                if exc.detail_code in ("1902", "1903"):
                    raise bad(
                        "stock_code", f"Kiwoom does not know {code}", "존재하지 않는 종목입니다"
                    ) from exc
                raise _kiwoom_failure(exc, "quote (ka10001)") from exc
            except KiwoomError as exc:
                raise _kiwoom_failure(exc, "quote (ka10001)") from exc
            cached = (q.lower_limit, q.upper_limit, q.base_price, q.price)
            self._limits[key] = cached
        live = self._live_price(code)
        return (*cached[:3], live or cached[3])

    def _funds(self, db: Session, code: str) -> Funds:
        snap = self._account()
        held = next((h for h in snap.balance.holdings if h.code == code), None)
        # orders accepted since the snapshot are not in its figures yet
        newer = db.scalars(
            sa.select(Order).where(
                Order.parent_id.is_(None),
                Order.state.in_(LIVE_STATES),
                Order.submitted_at >= snap.fetched_at,
            )
        ).all()
        cash = snap.cash.orderable
        sellable = held.sellable_qty if held else 0
        for o in newer:
            qty = o.quantity if o.state in UNRESOLVED else o.open_quantity
            if o.side == "buy":
                _, upper, _, _ = self._limits.get((o.stock_code, self._clock().date()), (0,) * 4)
                px = o.price if o.price else upper
                cash -= buy_cost(px or 0, qty, self.settings.order_fee_rate)
            elif o.stock_code == code:
                sellable -= qty
        return Funds(orderable_cash=max(0, cash), sellable=max(0, sellable))

    def validate(self, body: OrderIn) -> OrderType:
        t = TYPE_NAMES[body.order_type]
        check_fields(
            t, body.quantity, body.price, body.stop_price, self.settings.order_max_quantity
        )
        stock = self._stock(body.stock_code)
        check_venue(t, body.venue, stock.nxt_enabled if stock is not None else None)
        check_session(t, body.venue, self._clock(), self.session_rules)
        lower, upper, _, last = self.limits(body.stock_code)
        if body.price is not None:
            if t.pricing == "single_price":
                lo, hi = max(lower, _pct(last, -10)), min(upper, _pct(last, 10))
                check_price("price", body.price, lo, hi)
            else:
                check_price("price", body.price, lower, upper)
        if body.stop_price is not None:
            check_price("stop_price", body.stop_price, lower, upper)
            above = body.stop_price > last if body.side == "buy" else body.stop_price < last
            if not above:
                word = "above" if body.side == "buy" else "below"
                raise bad(
                    "stop_price",
                    f"a {body.side} stop must be {word} the current price {last:,}",
                    f"스톱가격이 현재가({last:,}원) 조건에 맞지 않습니다",
                )
        limit_price = body.price if t.needs_price and body.price else upper
        with self.svc.sessions() as db:
            funds = self._funds(db, body.stock_code)
        check_funds(body.side, body.quantity, limit_price, funds, self.settings.order_fee_rate)
        return t

    # ------------------------------------------------------------------ place
    def place(self, p: Principal, body: OrderIn) -> tuple[dict[str, Any], int]:
        """``(order document, HTTP status)``: 201 placed now, 200 the same request again,
        202 the broker did not answer (``unknown``: being checked, never sent twice)."""
        self._refuse_if_disabled()
        cid = body.client_order_id or f"gen-{uuid.uuid4().hex}"
        digest = request_hash(body)
        existing = self._by_client_id(cid)
        if existing is not None:
            return self._replay(existing, digest)
        t = self.validate(body)
        now = self._clock()
        try:
            with self.svc.sessions.begin() as db:
                row = _pending(
                    p,
                    now,
                    client_order_id=cid,
                    mode=self.settings.kiwoom_mode,
                    action="new",
                    stock_code=body.stock_code,
                    venue=body.venue,
                    side=body.side,
                    order_type=body.order_type,
                    price=body.price,
                    stop_price=body.stop_price,
                    quantity=body.quantity,
                    request_hash=digest,
                )
                db.add(row)
                db.flush()
                order_id = row.id
                self._add_event(db, order_id, "request", None, message=f"{p.username}")
                record_audit(
                    db,
                    p,
                    "order.place",
                    str(order_id),
                    "requested",
                    body.model_dump(exclude={"client_order_id"}),
                )
        except IntegrityError:
            existing = self._by_client_id(cid)
            if existing is None:
                raise
            return self._replay(existing, digest)
        client = self.svc.kiwoom()
        call = client.buy if body.side == "buy" else client.sell
        t0 = time.perf_counter()
        try:
            self.broker_calls += 1
            ack = call(
                body.stock_code,
                body.quantity,
                body.price,
                order_type=t,
                exchange=body.venue,
                stop_price=body.stop_price,
            )
        except Exception as exc:
            ORDER_LATENCY.labels("place", type(exc).__name__).observe(time.perf_counter() - t0)
            self._failed_call(p, order_id, "order.place", exc)
            return self.get(order_id), 202
        ORDER_LATENCY.labels("place", "ok").observe(time.perf_counter() - t0)
        self._acked(order_id, ack.order_no, open_qty=body.quantity)
        with self.svc.sessions.begin() as db:
            record_audit(db, p, "order.place", str(order_id), "ok", {"order_no": ack.order_no})
        return self.get(order_id), 201

    def _by_client_id(self, cid: str) -> int | None:
        with self.svc.sessions() as db:
            return db.scalar(sa.select(Order.id).where(Order.client_order_id == cid))

    def _replay(self, order_id: int, digest: str) -> tuple[dict[str, Any], int]:
        with self.svc.sessions() as db:
            row = db.get(Order, order_id)
            row = _must(row)
            if row.parent_id is not None or row.request_hash != digest:
                raise Conflict(
                    "client_order_id was used for another request",
                    field="client_order_id",
                    detail_ko="이미 다른 주문에 사용된 client_order_id 입니다",
                )
        return self.get(order_id), 200

    def _failed_call(self, p: Principal, row_id: int, action: str, exc: Exception) -> None:
        """After a broker call raised: store what it means and raise the API's answer
        (or return, for ``unknown``: the caller answers 202)."""
        with self.svc.sessions() as db:
            row = db.get(Order, row_id)
            row = _must(row)
            parent_id = row.parent_id or row.id
        if isinstance(exc, OrderRejectedError):
            reason = (exc.reason or exc.server_message)[:255]
            self._set_state(row_id, "rejected", "broker_rejected", reason)
            self._audit(p, action, row_id, "rejected", {"kiwoom_code": exc.detail_code})
            if row_id != parent_id and exc.detail_code in NOTHING_OPEN:
                self._reconcile.set()
                raise Conflict(
                    "the order has nothing open any more (filled or cancelled meanwhile)",
                    detail_ko="정정/취소 가능수량이 없습니다 (이미 체결 또는 취소됨)",
                    kiwoom_code=exc.detail_code,
                ) from exc
            raise OrderRefused(
                f"Kiwoom refused the order: {reason}",
                detail_ko=reason,
                kiwoom_code=exc.detail_code,
            ) from exc
        if isinstance(exc, TransportError) and not exc.request_sent:
            self._set_state(row_id, "rejected", "broker_rejected", "Kiwoom unreachable: not sent")
            self._audit(p, action, row_id, "failed", {"error": type(exc).__name__})
            raise Unavailable(
                f"Kiwoom unreachable ({type(exc).__name__}): nothing was sent",
                detail_ko="키움 서버에 연결할 수 없어 주문이 전송되지 않았습니다",
            ) from exc
        if isinstance(exc, RateLimitError):
            self._set_state(row_id, "rejected", "broker_rejected", "Kiwoom rate limit: not placed")
            self._audit(p, action, row_id, "failed", {"error": "RateLimitError"})
            raise TooManyRequests(
                "Kiwoom rate limit: the order was not placed, try again",
                kiwoom_code=exc.detail_code,
            ) from exc
        if isinstance(exc, APIError):
            reason = exc.server_message[:255]
            self._set_state(row_id, "rejected", "broker_rejected", reason)
            self._audit(p, action, row_id, "failed", {"kiwoom_code": exc.detail_code})
            raise BadGateway(f"Kiwoom refused: {reason}", kiwoom_code=exc.detail_code) from exc
        if isinstance(exc, ValueError):
            self._set_state(row_id, "rejected", "broker_rejected", str(exc)[:255])
            raise BadInput(str(exc)) from exc
        # a timeout, a broken connection, an unreadable answer: it may have been placed
        if not isinstance(exc, KiwoomError):
            log.exception("order_call_failed id=%d", row_id, exc_info=exc)
        self._set_state(
            row_id,
            "unknown",
            "unknown",
            f"no answer from Kiwoom ({type(exc).__name__}): checking, never sent twice",
        )
        self._audit(p, action, row_id, "unknown", {"error": type(exc).__name__})
        self._reconcile.set()

    def _audit(
        self, p: Principal, action: str, row_id: int, outcome: str, detail: dict[str, Any]
    ) -> None:
        try:
            with self.svc.sessions.begin() as db:
                record_audit(db, p, action, str(row_id), outcome, detail)
        except Exception:
            log.exception("audit_write_failed action=%s", action)

    def _set_state(self, row_id: int, state: str, ev_type: str, message: str) -> None:
        with self._lock, self.svc.sessions.begin() as db:
            row = db.get(Order, row_id)
            row = _must(row)
            row.state = state
            if state == "rejected":
                row.reject_reason = message[:255]
                row.open_quantity = 0
            row.updated_at = self._clock()
            parent_id = row.parent_id or row.id
            self._add_event(db, parent_id, ev_type, row.broker_order_no, message=message[:255])
        self._publish(parent_id)

    def _acked(self, row_id: int, number: str, *, open_qty: int | None) -> None:
        """The broker gave ``row_id`` the number ``number``: record it, adopt the stream's
        events of that number that arrived first, recompute."""
        with self._lock:
            with self.svc.sessions.begin() as db:
                row = db.get(Order, row_id)
                row = _must(row)
                parent_id = row.parent_id or row.id
                row.broker_order_no = number
                if row.parent_id is None:
                    row.root_order_no = number
                if row.state in UNRESOLVED:
                    row.state = "accepted"
                row.updated_at = self._clock()
                self._add_event(
                    db,
                    parent_id,
                    "acked",
                    number,
                    open_qty=open_qty,
                    key=f"ack:{row_id}",
                )
                db.execute(
                    sa.update(OrderEvent)
                    .where(
                        OrderEvent.order_id.is_(None),
                        OrderEvent.broker_order_no == number,
                        OrderEvent.event_time >= today_start(self._clock()),
                    )
                    .values(order_id=parent_id)
                )
            self._recompute(parent_id)

    # ------------------------------------------------------------------ modify / cancel
    def amend(self, p: Principal, order_id: int, body: ModifyIn) -> tuple[dict[str, Any], int]:
        self._refuse_if_disabled()
        if body.price is None and body.quantity is None and body.stop_price is None:
            raise bad(
                "price", "give a new price and/or quantity", "정정할 가격 또는 수량을 입력하세요"
            )
        parent = self._open_parent(order_id)
        t = TYPE_NAMES[parent["order_type"]]
        if body.stop_price is not None and not t.needs_stop_price:
            raise bad(
                "stop_price",
                "only 스톱지정가 orders have a stop price",
                "스톱지정가만 스톱가격이 있습니다",
            )
        open_qty = parent["open_quantity"]
        if body.quantity is not None and body.quantity >= open_qty:
            raise bad(
                "quantity",
                f"must be below the open quantity {open_qty:,} (an order cannot grow: place "
                "another)",
                f"정정수량은 미체결수량({open_qty:,}주)보다 작아야 합니다",
            )
        if body.price is not None:
            lower, upper, _, _ = self.limits(parent["stock_code"])
            check_price("price", body.price, lower, upper)
            check_session(
                t if t.needs_price else OrderType.LIMIT,
                parent["venue"],
                self._clock(),
                self.session_rules,
            )
            if body.quantity is None and body.price == parent["price"] and body.stop_price is None:
                raise bad(
                    "price", "the order is at that price already", "이미 그 가격의 주문입니다"
                )
            if parent["side"] == "buy" and body.price > (parent["price"] or 0):
                with self.svc.sessions() as db:
                    funds = self._funds(db, parent["stock_code"])
                extra = buy_cost(
                    body.price - (parent["price"] or 0),
                    body.quantity or open_qty,
                    self.settings.order_fee_rate,
                )
                if extra > funds.orderable_cash:
                    raise bad(
                        "price",
                        f"the higher price needs {extra:,} won more, "
                        f"{funds.orderable_cash:,} orderable",
                        "주문가능금액이 부족합니다",
                    )
        status = 200
        if body.quantity is not None:
            status = max(
                status,
                self._amend_step(p, order_id, "cancel", open_qty - body.quantity, None, None),
            )
            parent = self._open_parent(order_id)
        if body.price is not None or body.stop_price is not None:
            price = body.price if body.price is not None else parent["price"]
            status = max(
                status,
                self._amend_step(
                    p, order_id, "modify", parent["open_quantity"], price, body.stop_price
                ),
            )
        return self.get(order_id), status

    def cancel(self, p: Principal, order_id: int) -> tuple[dict[str, Any], int]:
        self._refuse_if_disabled()
        parent = self._open_parent(order_id)
        status = self._amend_step(
            p, order_id, "cancel", parent["open_quantity"], None, None, all_open=True
        )
        return self.get(order_id), status

    def _open_parent(self, order_id: int) -> dict[str, Any]:
        doc = self.get(order_id)
        if doc["state"] in UNRESOLVED:
            raise Conflict(
                f"the order is {doc['state']}: wait until the broker confirms it",
                detail_ko="주문 접수 확인 중입니다. 잠시 후 다시 시도하세요",
            )
        if doc["state"] in TERMINAL or doc["open_quantity"] <= 0:
            raise Conflict(
                f"the order is {doc['state']}: nothing open to change",
                detail_ko="정정/취소 가능수량이 없습니다 (이미 체결 또는 취소됨)",
            )
        if not doc["actions"]["cancel"]:
            raise Conflict(
                "a modify or cancel of this order is still being confirmed",
                detail_ko="이전 정정/취소 요청을 확인 중입니다",
            )
        return doc

    def _amend_step(
        self,
        p: Principal,
        order_id: int,
        action: str,
        qty: int,
        price: int | None,
        stop_price: int | None,
        *,
        all_open: bool = False,
    ) -> int:
        now = self._clock()
        with self._lock, self.svc.sessions.begin() as db:
            parent = db.get(Order, order_id, with_for_update=True)
            parent = _must(parent)
            busy = db.scalar(
                sa.select(sa.func.count())
                .select_from(Order)
                .where(Order.parent_id == order_id, Order.state.in_(UNRESOLVED))
            )
            if busy:
                raise Conflict(
                    "a modify or cancel of this order is still being confirmed",
                    detail_ko="이전 정정/취소 요청을 확인 중입니다",
                )
            target = parent.broker_order_no
            row = _pending(
                p,
                now,
                parent_id=order_id,
                client_order_id=f"{action}-{uuid.uuid4().hex}",
                mode=parent.mode,
                action=action,
                original_order_no=target,
                root_order_no=parent.root_order_no,
                stock_code=parent.stock_code,
                venue=parent.venue,
                side=parent.side,
                order_type=parent.order_type if action == "cancel" else _modified_type(parent),
                price=price,
                stop_price=stop_price,
                quantity=qty,
            )
            db.add(row)
            db.flush()
            row_id = row.id
            code, venue = parent.stock_code, parent.venue
            self._add_event(
                db, order_id, f"{action}_request", None, message=f"{p.username}: {qty} @ {price}"
            )
            record_audit(
                db, p, f"order.{action}", str(order_id), "requested", {"qty": qty, "price": price}
            )
        if target is None:
            raise Conflict("the order has no broker number yet")
        client = self.svc.kiwoom()
        t0 = time.perf_counter()
        try:
            self.broker_calls += 1
            if action == "cancel":
                ack = client.cancel_order(
                    target, code, 0 if all_open else qty, exchange=cast(Venue, venue)
                )
            else:
                if price is None:
                    raise BadInput("price: a modify needs a price", field="price")
                ack = client.modify_order(
                    target, code, qty, price, exchange=cast(Venue, venue), stop_price=stop_price
                )
        except Exception as exc:
            ORDER_LATENCY.labels(action, type(exc).__name__).observe(time.perf_counter() - t0)
            self._failed_call(p, row_id, f"order.{action}", exc)
            return 202
        ORDER_LATENCY.labels(action, "ok").observe(time.perf_counter() - t0)
        moved = ack.qty if ack.qty > 0 else qty
        with self.svc.sessions.begin() as db:
            r = _must(db.get(Order, row_id))
            r.quantity = moved
            if action == "modify":  # the order now works at the new price
                parent = _must(db.get(Order, order_id))
                parent.price = price
                if stop_price is not None:
                    parent.stop_price = stop_price
        self._acked(row_id, ack.order_no, open_qty=moved if action == "modify" else None)
        self._audit(p, f"order.{action}", order_id, "ok", {"order_no": ack.order_no})
        return 200

    # ------------------------------------------------------------------ the 00 stream
    def on_stream(self, ev: Event) -> None:
        """One relayed 00 event: store it (once), attach it to its order, recompute."""
        number = str(ev.get("order_no") or "").strip()
        ev_type = STREAM_TYPES.get(str(ev.get("state") or ""))
        if not number or ev_type is None:
            return
        try:
            at = datetime.fromisoformat(str(ev.get("time")))
        except ValueError:
            at = self._clock()
        fill_no = (str(ev.get("fill_no") or "").strip() or None) if ev_type == "fill" else None
        key = f"00:{at.astimezone(KST).date():%Y%m%d}:{number}:{ev_type}:{fill_no or '-'}"
        if ev_type == "fill" and fill_no is None:
            key += f":{ev.get('open_qty')}"
        with self._lock:
            with self.svc.sessions.begin() as db:
                row = db.scalars(
                    sa.select(Order).where(
                        Order.broker_order_no == number,
                        Order.created_at >= today_start(at) - timedelta(hours=1),
                    )
                ).first()
                if row is None and ev_type == "accepted":
                    row = self._adopt_unknown(db, ev, number)
                parent_id = None if row is None else (row.parent_id or row.id)
                inserted = self._add_event(
                    db,
                    parent_id,
                    ev_type,
                    number,
                    key=key,
                    at=at,
                    open_qty=_int(ev.get("open_qty")),
                    fill_no=fill_no,
                    fill_qty=_int(ev.get("fill_qty")) if ev_type == "fill" else None,
                    fill_price=_int(ev.get("fill_price")) if ev_type == "fill" else None,
                    message=(str(ev.get("reject_reason") or "") or None),
                )
                if inserted and row is not None and row.parent_id is not None:
                    if ev_type == "confirmed" and row.state in UNRESOLVED:
                        row.state = "accepted"
                    elif ev_type == "rejected":
                        row.state = "rejected"
                        row.reject_reason = (str(ev.get("reject_reason") or "") or "거부")[:255]
            if inserted and parent_id is not None:
                self._recompute(parent_id)

    def _adopt_unknown(self, db: Session, ev: Event, number: str) -> Order | None:
        """An order whose broker call went unanswered, matched by its 접수 (or a modify/
        cancel by the number it targets). Only ``unknown`` rows: a ``pending`` one gets its
        number from its own answer."""
        orig = str(ev.get("orig_order_no") or "").strip() or None
        since = today_start(self._clock())
        if orig is not None:
            row = db.scalars(
                sa.select(Order).where(
                    Order.state == "unknown",
                    Order.parent_id.is_not(None),
                    Order.original_order_no == orig,
                    Order.broker_order_no.is_(None),
                    Order.created_at >= since,
                )
            ).first()
        else:
            side = "buy" if str(ev.get("side")) in ("buy", "Side.BUY") else "sell"
            code = str(ev.get("code") or "")
            q = sa.select(Order).where(
                Order.state == "unknown",
                Order.parent_id.is_(None),
                Order.broker_order_no.is_(None),
                Order.stock_code == code,
                Order.side == side,
                Order.quantity == _int(ev.get("qty")),
                Order.created_at >= since,
            )
            row = None
            for cand in db.scalars(q.order_by(Order.id)).all():
                if _price_matches(cand, _int(ev.get("price"))):
                    row = cand
                    break
        if row is None:
            return None
        row.broker_order_no = number
        if row.parent_id is None:
            row.root_order_no = number
        row.state = "accepted"
        row.updated_at = self._clock()
        self._add_event(
            db, row.parent_id or row.id, "resolved", number, message="found on the 00 stream"
        )
        log.warning("order_resolved id=%d number=%s via=stream", row.id, number)
        return row

    # ------------------------------------------------------------------ reconcile
    def reconcile(self) -> None:
        """Bring every live order of today in line with ka10075/ka10076 (and kt00007 when
        the client has it): unknown orders found or given up, each chain number's open and
        filled quantity as the broker has it."""
        since = today_start(self._clock())
        with self.svc.sessions() as db:
            live = db.scalars(
                sa.select(Order).where(Order.state.in_(LIVE_STATES), Order.created_at >= since)
            ).all()
            if not live:
                return
            for r in live:
                db.expunge(r)
        client = self.svc.kiwoom()
        opens = {o.order_no: o for o in client.open_orders()}
        fills = {f.order_no: f for f in client.filled_orders()}
        history: dict[str, Any] = {}
        order_history = getattr(client, "order_history", None)
        if callable(order_history):
            try:
                history = {h.order_no: h for h in order_history()}
            except KiwoomError as exc:
                log.info("order_history_unavailable error=%s", type(exc).__name__)
        self.reconciles += 1
        now = self._clock()
        touched: set[int] = set()
        with self._lock:
            with self.svc.sessions.begin() as db:
                claimed = set(
                    db.scalars(
                        sa.select(Order.broker_order_no).where(
                            Order.broker_order_no.is_not(None), Order.created_at >= since
                        )
                    ).all()
                )
                for r in live:
                    row = db.get(Order, r.id)
                    if row is None or row.broker_order_no is not None:
                        continue
                    if (
                        row.state == "pending"
                        and row.submitted_at
                        and row.submitted_at >= self._started_at
                    ):
                        continue  # its own call is still running
                    number = _find_at_broker(row, opens, fills, history, claimed)
                    parent_id = row.parent_id or row.id
                    if number is not None:
                        claimed.add(number)
                        row.broker_order_no = number
                        if row.parent_id is None:
                            row.root_order_no = number
                        row.state = "accepted"
                        row.updated_at = now
                        self._add_event(
                            db, parent_id, "resolved", number, message="found in ka10075/ka10076"
                        )
                        log.warning("order_resolved id=%d number=%s via=rest", row.id, number)
                        touched.add(parent_id)
                    elif (
                        row.submitted_at is None
                        or (now - row.submitted_at).total_seconds()
                        > self.settings.order_unknown_settle_s
                    ):
                        row.state = "rejected"
                        row.reject_reason = (
                            "not at the broker after the call timed out: never placed"
                        )
                        row.open_quantity = 0
                        row.updated_at = now
                        self._add_event(db, parent_id, "resolved", None, message=row.reject_reason)
                        log.warning("order_given_up id=%d", row.id)
                        touched.add(parent_id)
                parents = db.scalars(
                    sa.select(Order).where(
                        Order.parent_id.is_(None),
                        Order.state.in_(LIVE_STATES),
                        Order.broker_order_no.is_not(None),
                        Order.created_at >= since,
                    )
                ).all()
                for parent in parents:
                    numbers = [
                        parent.root_order_no,
                        *db.scalars(
                            sa.select(Order.broker_order_no).where(
                                Order.parent_id == parent.id,
                                Order.action == "modify",
                                Order.broker_order_no.is_not(None),
                            )
                        ).all(),
                    ]
                    for number in numbers:
                        if number is None:
                            continue
                        o = opens.get(number)
                        f = fills.get(number)
                        open_qty = o.open_qty if o is not None else 0
                        cum = max(o.filled_qty if o else 0, f.filled_qty if f else 0)
                        px = (f.filled_price if f else None) or (o.filled_price if o else None)
                        if self._add_event(
                            db,
                            parent.id,
                            "rest",
                            number,
                            key=f"rest:{since:%Y%m%d}:{number}:{cum}:{open_qty}",
                            open_qty=open_qty,
                            cum_filled=cum,
                            fill_price=px,
                        ):
                            touched.add(parent.id)
            for parent_id in touched:
                self._recompute(parent_id)

    # ------------------------------------------------------------------ state
    def _recompute(self, parent_id: int) -> None:
        with self._lock:
            with self.svc.sessions.begin() as db:
                parent = db.get(Order, parent_id)
                if parent is None or parent.root_order_no is None:
                    return
                if (
                    parent.state == "rejected"
                    and parent.filled_quantity == 0
                    and parent.open_quantity == 0
                    and parent.broker_order_no is None
                ):
                    return
                amends = [
                    ledger.Amend(a.broker_order_no, a.original_order_no or "", a.action, a.quantity)  # type: ignore[arg-type]
                    for a in db.scalars(
                        sa.select(Order).where(
                            Order.parent_id == parent_id,
                            Order.broker_order_no.is_not(None),
                            Order.state != "rejected",
                        )
                    ).all()
                    if a.broker_order_no is not None
                ]
                evs = [
                    ledger.Ev(
                        e.id,
                        e.broker_order_no or "",
                        e.event_type,
                        e.open_qty,
                        e.fill_no,
                        e.fill_qty,
                        e.fill_price,
                        e.cum_filled_qty,
                    )
                    for e in db.scalars(
                        sa.select(OrderEvent).where(
                            OrderEvent.order_id == parent_id,
                            OrderEvent.event_type.in_(ledger.LEDGER_TYPES),
                        )
                    ).all()
                ]
                s = ledger.summarize(parent.quantity, parent.root_order_no, amends, evs)
                before = (
                    parent.state,
                    parent.filled_quantity,
                    parent.open_quantity,
                    parent.broker_order_no,
                )
                parent.state = s.state
                parent.filled_quantity = s.filled
                parent.filled_amount = s.filled_amount
                parent.open_quantity = s.open
                if s.live_number is not None:
                    parent.broker_order_no = s.live_number
                if s.state == "rejected" and not parent.reject_reason:
                    parent.reject_reason = "거부 (rejected by the exchange)"
                after = (
                    parent.state,
                    parent.filled_quantity,
                    parent.open_quantity,
                    parent.broker_order_no,
                )
                if before == after:
                    return
                parent.updated_at = self._clock()
            log.info(
                "order_state id=%d state=%s filled=%d open=%d", parent_id, s.state, s.filled, s.open
            )
            self._publish(parent_id)

    def _add_event(
        self,
        db: Session,
        order_id: int | None,
        ev_type: str,
        number: str | None,
        *,
        key: str | None = None,
        at: datetime | None = None,
        open_qty: int | None = None,
        fill_no: str | None = None,
        fill_qty: int | None = None,
        fill_price: int | None = None,
        cum_filled: int | None = None,
        message: str | None = None,
    ) -> bool:
        """Add one ``order_events`` row; False when its key is stored already."""
        if key is not None and db.scalar(
            sa.select(OrderEvent.id).where(OrderEvent.event_key == key)
        ):
            return False
        now = self._clock()
        try:
            with db.begin_nested():
                db.add(
                    OrderEvent(
                        order_id=order_id,
                        event_key=key,
                        broker_order_no=number,
                        event_type=ev_type,
                        event_time=at or now,
                        fill_no=fill_no,
                        fill_price=fill_price,
                        fill_qty=fill_qty,
                        open_qty=open_qty,
                        cum_filled_qty=cum_filled,
                        message=message[:255] if message else None,
                        received_at=now,
                    )
                )
        except IntegrityError:
            return False
        return True


def _pending(p: Principal, now: datetime, **fields: Any) -> Order:
    """A request's row as it is committed before its broker call: ``pending``, nothing
    filled, placed by ``p`` now."""
    return Order(
        filled_quantity=0,
        filled_amount=0,
        open_quantity=0,
        state="pending",
        user_id=p.user_id,
        created_by_ip=p.ip,
        created_at=now,
        submitted_at=now,
        updated_at=now,
        **fields,
    )


def _must(row: Order | None) -> Order:
    if row is None:
        raise RuntimeError("the order row vanished")
    return row


def _pct(price: int, pct: int) -> int:
    return price + price * pct // 100


def _price_matches(row: Order, price: int | None) -> bool:
    t = TYPE_NAMES.get(row.order_type)
    if t is None or not t.needs_price or row.price is None:
        return True
    return price is None or price == 0 or price == row.price


def _modified_type(parent: Order) -> str:
    """A modify keeps a priced day type; 시장가/최유리/최우선/IOC/FOK become 보통 (the
    simulator's and Kiwoom's rule [I])."""
    t = TYPE_NAMES.get(parent.order_type)
    if (
        t is not None
        and t.pricing in ("limit", "single_price", "stop")
        and t.time_in_force == "day"
    ):
        return parent.order_type
    return NAME_OF[OrderType.LIMIT]


def _find_at_broker(
    row: Order,
    opens: dict[str, Any],
    fills: dict[str, Any],
    history: dict[str, Any],
    claimed: set[str | None],
) -> str | None:
    """The broker number of an order whose call went unanswered, from Kiwoom's lists:
    same stock, side, quantity and price (a modify/cancel: the number it targets), not
    claimed by another order, placed at or after the call (minus a minute of clock skew)."""
    since = (row.submitted_at or row.created_at) - timedelta(seconds=60)
    for source in (opens, fills, history):
        for number, o in sorted(source.items()):
            if number in claimed:
                continue
            t = getattr(o, "time", None)
            if isinstance(t, datetime) and t < since:
                continue
            orig = getattr(o, "original_order_no", None) or getattr(o, "orig_order_no", None)
            if row.parent_id is not None:
                if orig == row.original_order_no:
                    return str(number)
                continue
            if orig not in (None, "", "0000000"):
                continue
            side = getattr(o, "side", None)
            if getattr(o, "code", None) != row.stock_code or str(side) != row.side:
                continue
            qty = getattr(o, "order_qty", None)
            if qty is not None and qty != row.quantity:
                continue
            price = getattr(o, "order_price", None)
            if _price_matches(row, price):
                return str(number)
    return None


def _kiwoom_failure(exc: KiwoomError, what: str) -> AppError:
    from gslts_backend.account.service import kiwoom_failure

    return kiwoom_failure(exc, what)
