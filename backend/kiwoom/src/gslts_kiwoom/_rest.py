"""The Kiwoom REST client: token lifecycle, rate limiting, retries, paging, typed calls.

Every call is ``POST <rest_url><path>`` with headers ``api-id``, ``authorization: Bearer
<token>`` and ``Content-Type: application/json;charset=UTF-8``; paging state travels in the
``cont-yn``/``next-key`` headers (PROTOCOL.md §3). Retry policy:

* HTTP 429 / rc 5 [1700…]: exponential backoff, up to ``rate_limit_retries`` times, for
  every API including orders (the server refused the request, so nothing was placed).
* [1634] batch limit: never retried.
* rc 3 / HTTP 401 / [8003|8005|8103]: the token is re-issued once and the call retried.
* Network failures: reads are retried ``transport_retries`` times; orders (kt10000–
  kt10003) only when the failure certainly happened before the request was sent
  (connection refused / connect timeout) — a read timeout may hide a placed order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

import httpx
import orjson

from gslts_kiwoom import _wire
from gslts_kiwoom._apis import REVOKE_API_ID, TOKEN_API_ID, ApiSpec, get_api
from gslts_kiwoom._config import KiwoomConfig
from gslts_kiwoom._errors import (
    ProtocolError,
    RateLimitError,
    RealOrdersDisabledError,
    Timeout,
    TransportError,
    UnknownApiError,
    error_from_response,
    mask_secrets,
    needs_reauth,
    register_secret,
)
from gslts_kiwoom._ratelimit import Limiter, RateLimiter
from gslts_kiwoom._token import MemoryTokenCache, Token, TokenCache, TokenManager
from gslts_kiwoom._token import token_cache_key as _token_cache_key
from gslts_kiwoom.krx import KST
from gslts_kiwoom.models import (
    AmendAck,
    Balance,
    Candle,
    Cash,
    DailyCandle,
    Exchange,
    FilledOrder,
    OpenOrder,
    OrderableQuantity,
    OrderAck,
    OrderBookSnapshot,
    OrderHistoryEntry,
    OrderType,
    Quote,
    SectorIndex,
    SectorInfo,
    Side,
    StockInfo,
    TradingValueRank,
)

logger = logging.getLogger("gslts_kiwoom.rest")

CONTENT_TYPE = "application/json;charset=UTF-8"

#: Which venue a query covers (ka10075/ka10076 ``stex_tp``).
VenueFilter = Literal["all", "KRX", "NXT"]
_VENUE_CODES: dict[str, str] = {"all": "0", "KRX": "1", "NXT": "2"}
#: Which venue an order-history query covers (kt00007 ``dmst_stex_tp``).
HistoryVenue = Literal["all", "KRX", "NXT", "SOR"]
_HISTORY_VENUES: dict[str, str] = {"all": "%", "KRX": "KRX", "NXT": "NXT", "SOR": "SOR"}
_SIDE_CODES: dict[Side | None, str] = {None: "0", Side.SELL: "1", Side.BUY: "2"}

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Response:
    """One page of a Kiwoom REST response.

    Attributes:
        api_id: the api-id called.
        data: the JSON body (Kiwoom field names, string values).
        cont_yn: True when the server has another page (``cont-yn: Y``).
        next_key: the continuation key to pass as ``cont_key`` for the next page.
    """

    api_id: str
    data: dict[str, Any]
    cont_yn: bool
    next_key: str | None

    @property
    def has_next(self) -> bool:
        """True when another page can be requested."""
        return self.cont_yn


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


@dataclass
class ClientStats:
    """What a client has been through (read by status pages; written under no lock: plain
    counters, read racily)."""

    calls: int = 0
    #: answers of 429 / [1700]-style rate limiting (each retried with backoff)
    rate_limited: int = 0
    #: calls that ended in an error (after any retries)
    errors: int = 0
    last_error: str | None = None


class KiwoomClient:
    """Synchronous client of the Kiwoom REST API (also speaks to the simulator).

    Args:
        config: environment, keys and limits.
        token_cache: where tokens are shared (default: in-memory, this client only).
        transport: an ``httpx`` transport, e.g. ``httpx.MockTransport`` in tests.
        http_client: a ready ``httpx.Client`` (the caller closes it); overrides
            ``transport``.
        rate_limiter: shared limiter (default: one built from ``config``).
        sleep: how to wait between retries (injectable for tests).
        now: aware-datetime clock used for token expiry and dating HHMMSS times.
        transport_retries: retries of a read after a network failure.
        backoff_base_s: first rate-limit backoff; doubled on each retry.
        backoff_max_s: cap of one backoff.
        on_close: called by :meth:`close` (e.g. to close the Redis connection behind a
            shared token cache and rate limiter).

    Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        config: KiwoomConfig,
        *,
        token_cache: TokenCache | None = None,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        rate_limiter: Limiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
        transport_retries: int = 1,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._on_close = on_close
        self._app_key = config.app_key.get_secret_value()
        self._secret_key = config.secret_key.get_secret_value()
        register_secret(self._app_key)
        register_secret(self._secret_key)
        self._base_url = config.rest_url.rstrip("/")
        if http_client is not None:
            self._http = http_client
            self._owns_http = False
        else:
            self._http = httpx.Client(timeout=config.timeout_s, transport=transport)
            self._owns_http = True
        self._limiter: Limiter = rate_limiter or RateLimiter(
            config.rate_per_s, config.rate_burst, sleep=sleep
        )
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(KST))
        #: counters of calls, rate limiting and errors (for status pages)
        self.stats = ClientStats()
        self._transport_retries = transport_retries
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        self._tokens = TokenManager(
            self._issue_token,
            token_cache if token_cache is not None else MemoryTokenCache(),
            _token_cache_key(config.mode, self._base_url, self._app_key),
            refresh_margin_s=config.token_refresh_margin_s,
            now=self._now,
        )

    def __repr__(self) -> str:
        return f"KiwoomClient(mode={self.config.mode!r}, rest_url={self._base_url!r})"

    @property
    def token_cache(self) -> TokenCache:
        """Where this client's tokens are shared (e.g. to report whether Redis is in use)."""
        return self._tokens.cache

    @property
    def rate_limiter(self) -> Limiter:
        """The limiter every request waits on."""
        return self._limiter

    # ---------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the HTTP connection pool (if this client created it), then ``on_close``."""
        if self._owns_http:
            self._http.close()
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()

    def __enter__(self) -> KiwoomClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- tokens

    def token(self, force_new: bool = False) -> str:
        """A valid access token, issued through au10001 when needed.

        Args:
            force_new: drop the token held now (e.g. the WebSocket LOGIN rejected it) and
                issue a new one. The shape matches ``KiwoomWebSocket``'s ``get_token``.

        Raises:
            AuthError: the app/secret key were refused.
            ModeMismatchError: the keys belong to the other environment ([8030]).
        """
        if force_new:
            current = self._tokens.current()
            if current is not None:
                self._tokens.invalidate(current.value)
        return self._tokens.get()

    def token_expires_at(self) -> datetime | None:
        """Expiry of the token held now, or None when none is held."""
        current = self._tokens.current()
        return None if current is None else current.expires_at

    def _issue_token(self) -> Token:
        """au10001 접근토큰 발급."""
        body = {
            "grant_type": "client_credentials",
            "appkey": self._app_key,
            "secretkey": self._secret_key,
        }
        resp = self._call(get_api(TOKEN_API_ID), body, cont_key=None, page=1, authed=False)
        value, expires = _wire.parse_token(resp.data)
        register_secret(value)
        return Token(value, expires)

    def revoke_token(self) -> None:
        """au10002 접근토큰 폐기: revoke the held token (no-op when none is held)."""
        current = self._tokens.current()
        if current is None:
            return
        body = {"appkey": self._app_key, "secretkey": self._secret_key, "token": current.value}
        try:
            self._call(get_api(REVOKE_API_ID), body, cont_key=None, page=1, authed=False)
        finally:
            self._tokens.forget()

    # ---------------------------------------------------------------- generic calls

    def request(
        self, api_id: str, body: Mapping[str, Any] | None = None, *, cont_key: str | None = None
    ) -> Response:
        """Call any REST API by api-id and return one page.

        Args:
            api_id: e.g. ``"ka10001"``.
            body: the request JSON (Kiwoom field names, string values).
            cont_key: ``next_key`` of the previous page to fetch the next one.

        Raises:
            UnknownApiError: ``api_id`` is unknown, or a WebSocket message type.
            APIError: (a subclass of) the server's rejection.
            TransportError: the network failed (``Timeout`` for timeouts).
            ProtocolError: the response was not a JSON object.
        """
        spec = self._rest_spec(api_id)
        return self._call(spec, dict(body or {}), cont_key=cont_key, page=1, authed=True)

    def iter_pages(
        self,
        api_id: str,
        body: Mapping[str, Any] | None = None,
        *,
        max_pages: int | None = None,
    ) -> Iterator[Response]:
        """Yield every page (following ``cont-yn``/``next-key``), up to ``max_pages``."""
        spec = self._rest_spec(api_id)
        payload = dict(body or {})
        cont_key: str | None = None
        page = 0
        while True:
            page += 1
            resp = self._call(spec, payload, cont_key=cont_key, page=page, authed=True)
            yield resp
            if not resp.has_next or (max_pages is not None and page >= max_pages):
                return
            cont_key = resp.next_key or ""

    def _rest_spec(self, api_id: str) -> ApiSpec:
        spec = get_api(api_id)
        if spec.transport != "rest":
            raise UnknownApiError(f"{api_id} ({spec.name}) is a WebSocket message, not REST")
        if api_id in (TOKEN_API_ID, REVOKE_API_ID):
            raise UnknownApiError(f"{api_id}: use token() / revoke_token() instead")
        return spec

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(self._backoff_max, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return float(min(self._backoff_max, self._backoff_base * (2**attempt)))

    def _call(
        self,
        spec: ApiSpec,
        body: dict[str, Any],
        *,
        cont_key: str | None,
        page: int,
        authed: bool,
    ) -> Response:
        if spec.is_order and self.config.mode == "real" and not self.config.allow_real_orders:
            raise RealOrdersDisabledError(
                f"{spec.api_id} refused: real-money orders need allow_real_orders"
                " (KIWOOM_ALLOW_REAL_ORDERS=true)"
            )
        start = time.monotonic()
        payload = orjson.dumps(body)
        url = self._base_url + spec.path
        reauthed = False
        rate_retries = 0
        net_retries = 0
        rc: object = None
        http_status = 0
        self.stats.calls += 1
        try:
            while True:
                self._limiter.acquire(spec.api_id)
                headers = {"api-id": spec.api_id, "Content-Type": CONTENT_TYPE}
                token: str | None = None
                if authed:
                    token = self._tokens.get()
                    headers["authorization"] = f"Bearer {token}"
                if cont_key is not None:
                    headers["cont-yn"] = "Y"
                    headers["next-key"] = cont_key
                try:
                    http = self._http.post(url, content=payload, headers=headers)
                except httpx.TransportError as exc:
                    err = self._transport_error(spec, exc)
                    retryable = not spec.is_order or not err.request_sent
                    if retryable and net_retries < self._transport_retries:
                        self._sleep(self._backoff(net_retries, None))
                        net_retries += 1
                        continue
                    raise err from None
                http_status = http.status_code
                data = self._decode(spec, http)
                rc = data.get("return_code") if data is not None else None
                if http_status == 200 and data is not None and rc in (None, 0, "0"):
                    return Response(
                        api_id=spec.api_id,
                        data=data,
                        cont_yn=(http.headers.get("cont-yn") or "").strip().upper() == "Y",
                        next_key=(http.headers.get("next-key") or "").strip() or None,
                    )
                if data is None:
                    if http_status == 429:
                        data = {"return_code": 5, "return_msg": "HTTP 429"}
                    elif http_status == 401:
                        data = {"return_code": 3, "return_msg": "HTTP 401"}
                    else:
                        raise ProtocolError(
                            f"{spec.api_id}: HTTP {http_status} without a JSON object body"
                        )
                error = error_from_response(spec.api_id, http_status, data)
                if isinstance(error, RateLimitError):
                    self.stats.rate_limited += 1
                if (
                    isinstance(error, RateLimitError)
                    and rate_retries < self.config.rate_limit_retries
                ):
                    self._sleep(self._backoff(rate_retries, http.headers.get("retry-after")))
                    rate_retries += 1
                    continue
                if authed and token is not None and not reauthed and needs_reauth(error):
                    self._tokens.invalidate(token)
                    reauthed = True
                    continue
                self.stats.errors += 1
                self.stats.last_error = f"{spec.api_id}: {type(error).__name__}"
                raise error
        finally:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    mask_secrets(
                        f"kiwoom_call api_id={spec.api_id} rc={rc} http={http_status} "
                        f"ms={_ms(start)} pages={page} rate_retries={rate_retries} "
                        f"reauth={int(reauthed)} net_retries={net_retries}"
                    )
                )

    @staticmethod
    def _transport_error(spec: ApiSpec, exc: httpx.TransportError) -> TransportError:
        # Nothing reached the server when the connection itself could not be made.
        not_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        kind = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return Timeout(
                f"{spec.api_id}: {kind}: {exc}", api_id=spec.api_id, request_sent=not not_sent
            )
        return TransportError(
            f"{spec.api_id}: {kind}: {exc}", api_id=spec.api_id, request_sent=not not_sent
        )

    @staticmethod
    def _decode(spec: ApiSpec, http: httpx.Response) -> dict[str, Any] | None:
        if not http.content:
            return None
        try:
            data = orjson.loads(http.content)
        except orjson.JSONDecodeError:
            if http.status_code in (200,):
                raise ProtocolError(
                    f"{spec.api_id}: HTTP {http.status_code} body is not JSON"
                ) from None
            return None
        if not isinstance(data, dict):
            if http.status_code == 200:
                raise ProtocolError(f"{spec.api_id}: response body is not a JSON object")
            return None
        return data

    def _all_pages(self, api_id: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [page.data for page in self.iter_pages(api_id, body)]

    def _today(self) -> date:
        return self._now().astimezone(KST).date()

    # ---------------------------------------------------------------- market data

    def get_quote(self, code: str) -> Quote:
        """Current price and basic info (ka10001 주식기본정보요청).

        Args:
            code: 6-char code, optionally with ``_NX`` (Nextrade) / ``_AL`` (SOR).
        """
        return _wire.parse_quote(self.request("ka10001", {"stk_cd": code}).data, code)

    def get_order_book(self, code: str) -> OrderBookSnapshot:
        """10-level order book (ka10004 주식호가요청)."""
        data = self.request("ka10004", {"stk_cd": code}).data
        return _wire.parse_order_book(data, code, self._today())

    def list_stocks(self, market: str = "0") -> list[StockInfo]:
        """Every instrument of a market, all pages (ka10099 종목정보 리스트).

        Args:
            market: ``mrkt_tp`` — 0 KOSPI, 10 KOSDAQ, 3 ELW, 8 ETF, 30 K-OTC, 50 KONEX,
                5 신주인수권, 4 뮤추얼펀드, 6 리츠, 9 하이일드.
        """
        return [
            s
            for data in self._all_pages("ka10099", {"mrkt_tp": market})
            for s in _wire.parse_stock_list(data)
        ]

    def list_sectors(self, market: str = "0") -> list[SectorInfo]:
        """Sector / index codes (ka10101 업종코드 리스트).

        Args:
            market: 0 KOSPI, 1 KOSDAQ, 2 KOSPI200, 4 KOSPI100, 7 KRX100.
        """
        return [
            s
            for data in self._all_pages("ka10101", {"mrkt_tp": market})
            for s in _wire.parse_sector_list(data)
        ]

    def top_trading_value(
        self,
        market: str = "000",
        *,
        include_managed: bool = True,
        exchange: Literal["KRX", "NXT", "ALL"] = "KRX",
        limit: int | None = None,
    ) -> list[TradingValueRank]:
        """Stocks ranked by today's trading value (ka10032 거래대금상위요청).

        Args:
            market: 000 all, 001 KOSPI, 101 KOSDAQ.
            include_managed: include 관리종목 (administrative-issue stocks).
            exchange: KRX, NXT or ALL (통합).
            limit: stop paging once this many rows are collected (None = every page).
        """
        body = {
            "mrkt_tp": market,
            "mang_stk_incls": "1" if include_managed else "0",
            "stex_tp": {"KRX": "1", "NXT": "2", "ALL": "3"}[exchange],
        }
        rows: list[TradingValueRank] = []
        for page in self.iter_pages("ka10032", body):
            rows.extend(_wire.parse_trading_value_ranking(page.data))
            if limit is not None and len(rows) >= limit:
                return rows[:limit]
        return rows

    def get_sector_index(self, market: str = "0", sector_code: str = "001") -> SectorIndex:
        """Current value of a sector index (ka20001 업종현재가요청).

        Args:
            market: 0 KOSPI, 1 KOSDAQ, 2 KOSPI200.
            sector_code: 3-digit code, e.g. 001 종합(KOSPI), 101 종합(KOSDAQ).
        """
        data = self.request("ka20001", {"mrkt_tp": market, "inds_cd": sector_code}).data
        return _wire.parse_sector_index(data, market, sector_code)

    # ---------------------------------------------------------------- charts

    def _chart(
        self,
        api_id: str,
        body: dict[str, Any],
        parse: Callable[[Mapping[str, Any]], list[_T]],
        key: Callable[[_T], Any],
        max_pages: int | None,
        since: Any,
    ) -> list[_T]:
        # Pages come newest first; with ``since`` keep paging until a row older than it.
        limit = max_pages if max_pages is not None else (1 if since is None else None)
        rows: list[_T] = []
        for page in self.iter_pages(api_id, body, max_pages=limit):
            page_rows = parse(page.data)
            rows.extend(page_rows)
            if since is not None and (not page_rows or min(key(r) for r in page_rows) < since):
                break
        if since is not None:
            rows = [r for r in rows if key(r) >= since]
        # Oldest first, one row per timestamp (pages may overlap at their boundary).
        unique = {key(r): r for r in reversed(rows)}
        return [unique[k] for k in sorted(unique)]

    def get_tick_chart(
        self,
        code: str,
        tick_scope: int = 1,
        *,
        adjusted: bool = True,
        max_pages: int | None = None,
        since: datetime | None = None,
    ) -> list[Candle]:
        """Tick bars, oldest first (ka10079 주식틱차트조회요청).

        With ``tick_scope=1`` each row is one trade; trades in the same second are all
        kept (in the server's order), so the gap backfill can rebuild every trade.

        Args:
            code: stock code.
            tick_scope: ticks per bar: 1, 3, 5, 10 or 30.
            adjusted: adjusted prices (``upd_stkpc_tp=1``).
            max_pages: pages to fetch; default 1, or as many as needed for ``since``.
            since: keep paging back until bars older than this appear; drop those.
        """
        limit = max_pages if max_pages is not None else (1 if since is None else None)
        pages = self.iter_tick_chart(
            code, tick_scope, adjusted=adjusted, since=since, max_pages=limit
        )
        rows = [r for page in pages for r in page if since is None or r.time >= since]
        # several trades share a second, so the time is no identity: keep every row
        return rows[::-1]

    def iter_tick_chart(
        self,
        code: str,
        tick_scope: int = 1,
        *,
        adjusted: bool = True,
        since: datetime | None = None,
        max_pages: int | None = None,
    ) -> Iterator[list[Candle]]:
        """Tick bars page by page, each page newest first as the server sends it (ka10079).

        Paging stops after the first page reaching back before ``since`` (that page's
        older rows are left for the caller to drop). Unlike :meth:`get_tick_chart` nothing
        is collected: a walk back over a long stretch of a busy stock keeps only what it
        needs (the hub's gap backfill).
        """
        body = {"stk_cd": code, "tic_scope": str(tick_scope), "upd_stkpc_tp": _yn(adjusted)}
        for page in self.iter_pages("ka10079", body, max_pages=max_pages):
            rows = _wire.parse_tick_chart(page.data)
            yield rows
            if since is not None and (not rows or min(r.time for r in rows) < since):
                return

    def get_minute_chart(
        self,
        code: str,
        minutes: int = 1,
        base_date: date | None = None,
        *,
        adjusted: bool = True,
        max_pages: int | None = None,
        since: datetime | None = None,
    ) -> list[Candle]:
        """Minute bars, oldest first (ka10080 주식분봉차트조회요청).

        Args:
            code: stock code.
            minutes: 1, 3, 5, 10, 15, 30, 45 or 60.
            base_date: the day to start from (newest); default the latest.
            adjusted: adjusted prices.
            max_pages: pages to fetch; default 1, or as many as needed for ``since``.
            since: keep paging back until bars older than this appear; drop those.
        """
        body = {"stk_cd": code, "tic_scope": str(minutes), "upd_stkpc_tp": _yn(adjusted)}
        if base_date is not None:
            body["base_dt"] = base_date.strftime("%Y%m%d")
        return self._chart(
            "ka10080", body, _wire.parse_minute_chart, lambda c: c.time, max_pages, since
        )

    def get_daily_chart(
        self,
        code: str,
        base_date: date | None = None,
        *,
        adjusted: bool = True,
        max_pages: int | None = None,
        since: date | None = None,
    ) -> list[DailyCandle]:
        """Daily bars up to ``base_date``, oldest first (ka10081 주식일봉차트조회요청).

        Args:
            code: stock code.
            base_date: newest day wanted (default today, KST).
            adjusted: adjusted prices.
            max_pages: pages to fetch (about 600 days each); default 1, or as many as
                needed for ``since``.
            since: keep paging back until days before this appear; drop those.
        """
        day = base_date or self._today()
        body = {"stk_cd": code, "base_dt": day.strftime("%Y%m%d"), "upd_stkpc_tp": _yn(adjusted)}
        return self._chart(
            "ka10081", body, _wire.parse_daily_chart, lambda c: c.date, max_pages, since
        )

    # ---------------------------------------------------------------- orders

    def _place(
        self,
        api_id: str,
        code: str,
        qty: int,
        price: int | None,
        order_type: OrderType,
        exchange: Exchange,
        stop_price: int | None,
    ) -> OrderAck:
        if qty <= 0:
            raise ValueError("order quantity must be positive")
        if order_type.needs_price:
            if price is None or price <= 0:
                raise ValueError(f"{order_type.name} orders need a positive price")
        elif price is not None:
            raise ValueError(f"{order_type.name} orders take no price (it is sent as empty)")
        if order_type.needs_stop_price and (stop_price is None or stop_price <= 0):
            raise ValueError(f"{order_type.name} orders need a positive stop_price")
        body = {
            "dmst_stex_tp": exchange,
            "stk_cd": code,
            "ord_qty": str(qty),
            "ord_uv": str(price) if price is not None else "",
            "trde_tp": order_type.value,
            "cond_uv": str(stop_price) if stop_price is not None else "",
        }
        return _wire.parse_order_ack(self.request(api_id, body).data)

    def buy(
        self,
        code: str,
        qty: int,
        price: int | None = None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        exchange: Exchange = "KRX",
        stop_price: int | None = None,
    ) -> OrderAck:
        """Place a buy order (kt10000 주식 매수주문). Never retried after a timeout.

        Args:
            code: stock code.
            qty: shares.
            price: limit price in KRW; required for priced types, None for market-like
                types (sent as ``ord_uv ""``).
            order_type: :class:`OrderType` (``trde_tp``).
            exchange: KRX, NXT or SOR (mock supports KRX only).
            stop_price: stop price for STOP_LIMIT (``cond_uv``).

        Returns:
            The accepted order's number. Acceptance is not a fill.

        Raises:
            ValueError: inconsistent arguments (checked before sending).
            OrderRejectedError: the back office rejected it (e.g. insufficient cash).
            TransportError: network failure — the order may or may not have been placed;
                check :meth:`open_orders` before placing it again.
        """
        return self._place("kt10000", code, qty, price, order_type, exchange, stop_price)

    def sell(
        self,
        code: str,
        qty: int,
        price: int | None = None,
        *,
        order_type: OrderType = OrderType.LIMIT,
        exchange: Exchange = "KRX",
        stop_price: int | None = None,
    ) -> OrderAck:
        """Place a sell order (kt10001 주식 매도주문). Same arguments as :meth:`buy`."""
        return self._place("kt10001", code, qty, price, order_type, exchange, stop_price)

    def modify_order(
        self,
        order_no: str,
        code: str,
        qty: int,
        price: int,
        *,
        exchange: Exchange = "KRX",
        stop_price: int | None = None,
    ) -> AmendAck:
        """Modify price/quantity of an open order (kt10002 주식 정정주문).

        Returns:
            The new order number and the root order of the chain.
        """
        if qty <= 0 or price <= 0:
            raise ValueError("modify needs a positive quantity and price")
        body = {
            "dmst_stex_tp": exchange,
            "orig_ord_no": order_no,
            "stk_cd": code,
            "mdfy_qty": str(qty),
            "mdfy_uv": str(price),
            "mdfy_cond_uv": str(stop_price) if stop_price is not None else "",
        }
        return _wire.parse_amend_ack(self.request("kt10002", body).data, "mdfy_qty")

    def cancel_order(
        self, order_no: str, code: str, qty: int = 0, *, exchange: Exchange = "KRX"
    ) -> AmendAck:
        """Cancel an open order (kt10003 주식 취소주문). ``qty=0`` cancels all that is open."""
        if qty < 0:
            raise ValueError("cancel quantity must be >= 0 (0 = everything open)")
        body = {
            "dmst_stex_tp": exchange,
            "orig_ord_no": order_no,
            "stk_cd": code,
            "cncl_qty": str(qty),
        }
        return _wire.parse_amend_ack(self.request("kt10003", body).data, "cncl_qty")

    # ---------------------------------------------------------------- account

    def open_orders(
        self, code: str | None = None, *, side: Side | None = None, venue: VenueFilter = "all"
    ) -> list[OpenOrder]:
        """Orders with an unfilled quantity, all pages (ka10075 미체결요청)."""
        body = {
            "all_stk_tp": "1" if code else "0",
            "trde_tp": _SIDE_CODES[side],
            "stk_cd": code or "",
            "stex_tp": _VENUE_CODES[venue],
        }
        today = self._today()
        return [
            o
            for data in self._all_pages("ka10075", body)
            for o in _wire.parse_open_orders(data, today)
        ]

    def filled_orders(
        self,
        code: str | None = None,
        *,
        side: Side | None = None,
        before_order_no: str | None = None,
        venue: VenueFilter = "all",
    ) -> list[FilledOrder]:
        """Today's orders with fills, all pages (ka10076 체결요청).

        Args:
            before_order_no: only orders older than this order number.
        """
        body = {
            "stk_cd": code or "",
            "qry_tp": "1" if code else "0",
            "sell_tp": _SIDE_CODES[side],
            "ord_no": before_order_no or "",
            "stex_tp": _VENUE_CODES[venue],
        }
        today = self._today()
        return [
            o
            for data in self._all_pages("ka10076", body)
            for o in _wire.parse_filled_orders(data, today)
        ]

    def order_history(
        self,
        code: str | None = None,
        *,
        side: Side | None = None,
        order_no_from: str | None = None,
        venue: HistoryVenue = "all",
        day: date | None = None,
    ) -> list[OrderHistoryEntry]:
        """The day's orders including filled, cancelled, modified and refused ones, in
        order-number order, all pages (kt00007 계좌별주문체결내역상세요청).

        Use it to learn what became of an order that :meth:`open_orders` no longer lists
        (filled or cancelled while a call timed out or the service was down).

        Args:
            code: one stock (blank = all).
            side: only buys or sells.
            order_no_from: start at this order number (it and later ones).
            venue: ``all`` (``%``), ``KRX``, ``NXT`` or ``SOR``.
            day: the order date; None (default) sends it blank: the server's today.
        """
        on = day or self._today()
        body = {
            "ord_dt": day.strftime("%Y%m%d") if day else "",
            "qry_tp": "1",
            "stk_bond_tp": "1",
            "sell_tp": _SIDE_CODES[side],
            "stk_cd": code or "",
            "fr_ord_no": order_no_from or "",
            "dmst_stex_tp": _HISTORY_VENUES[venue],
        }
        return [
            o
            for data in self._all_pages("kt00007", body)
            for o in _wire.parse_order_history(data, on)
        ]

    def find_order(
        self, order_no: str, code: str | None = None, *, venue: HistoryVenue = "all"
    ) -> OrderHistoryEntry | None:
        """What became of today's order ``order_no`` (kt00007), or None if the server does
        not know it: the order service's question after a timeout or a restart.

        Reads from ``order_no`` on (``fr_ord_no``) and stops at the page that has it; if
        that finds nothing it reads the whole day once, in case the server's reading of
        ``fr_ord_no`` differs from ours [I: the guide says only 시작주문번호].
        """
        wanted = order_no.strip().zfill(7)
        on = self._today()
        for start in (wanted, ""):
            body = {
                "ord_dt": "",
                "qry_tp": "1",
                "stk_bond_tp": "1",
                "sell_tp": "0",
                "stk_cd": code or "",
                "fr_ord_no": start,
                "dmst_stex_tp": _HISTORY_VENUES[venue],
            }
            for page in self.iter_pages("kt00007", body):
                for entry in _wire.parse_order_history(page.data, on):
                    if entry.order_no.zfill(7) == wanted:
                        return entry
        return None

    def orderable_quantity(self, code: str, price: int, side: Side = Side.BUY) -> OrderableQuantity:
        """How many shares an order at ``price`` may have: 현금(미수불가) and 최대(미수발생).

        Buys: kt00011 증거금율별주문가능수량조회요청 (``uv`` = ``price``). Sells: the shares
        that can be sold now (kt00018 ``trde_able_qty``: held minus those in open sells).

        Args:
            code: 6-char stock code.
            price: the order's price in KRW (for a market order, the price it would take,
                e.g. the upper limit for a buy).
            side: buy or sell.

        Raises:
            ValueError: a price that is not positive (checked before sending).
        """
        if price <= 0:
            raise ValueError("orderable_quantity needs a positive price")
        if side == Side.SELL:
            held = next((h for h in self.get_balance().holdings if h.code == code), None)
            qty = held.sellable_qty if held is not None else 0
            return OrderableQuantity(
                code=code,
                side=Side.SELL,
                price=price,
                cash_qty=qty,
                max_qty=qty,
                cash_amount=0,
                max_amount=0,
                stock_margin_rate=None,
                account_margin_rate=None,
                applied_margin_rate=None,
                by_margin_rate={},
            )
        data = self.request("kt00011", {"stk_cd": code, "uv": str(price)}).data
        return _wire.parse_orderable_quantity(data, code, price)

    def get_balance(
        self, *, per_lot: bool = False, exchange: Literal["KRX", "NXT"] = "KRX"
    ) -> Balance:
        """Holdings with P&L, all pages (kt00018 계좌평가잔고내역요청).

        Args:
            per_lot: 개별 (one row per lot) instead of 합산 (aggregated).
            exchange: KRX or NXT.
        """
        body = {"qry_tp": "2" if per_lot else "1", "dmst_stex_tp": exchange}
        return _wire.parse_balance(self._all_pages("kt00018", body))

    def get_cash(self, *, estimated: bool = True) -> Cash:
        """Cash and orderable amounts (kt00001 예수금상세현황요청).

        Args:
            estimated: 추정조회 (qry_tp 3) instead of 일반조회 (qry_tp 2).
        """
        return _wire.parse_cash(self.request("kt00001", {"qry_tp": "3" if estimated else "2"}).data)


def _yn(flag: bool) -> str:
    return "1" if flag else "0"
