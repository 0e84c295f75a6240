"""Exceptions raised by the Kiwoom client, and the secret masking applied to them.

The tree (catch the narrowest you can handle)::

    KiwoomError
    ├── UnknownApiError        api-id not in the table of 207 APIs (a programming error)
    ├── RealOrdersDisabledError an order in ``real`` mode without ``allow_real_orders``
    │                          (refused before anything is sent)
    ├── TransportError         the request failed on the network; it may or may not have
    │   │                      reached the server
    │   └── Timeout            connect/read/write timed out
    ├── ProtocolError          the server answered something unparseable / unexpected
    └── APIError               the server answered with return_code != 0 (or HTTP 429/401)
        ├── AuthError          rc 3, [8001/8002] bad keys, [8003/8005/8103] bad token, …
        ├── ModeMismatchError  [8030]/[8031]: real key/token used on mock or vice versa
        ├── RateLimitError     HTTP 429 / rc 5 [1700]/[1701]/[1702] (retried with backoff)
        ├── BatchLimitError    rc 5 [1634]: too many items in one call (never retried)
        ├── InputError         rc 2 / [15xx], [1687], [19xx], [8020]: fix the request
        ├── NotSupportedError  [8104]/[8200]/[RC9000]: API not offered in this environment
        └── OrderRejectedError rc 20 [2000](855056:…): back-office rejection of an order

``APIError`` carries ``api_id``, ``return_code`` (the small category code), ``detail_code``
(the four-digit code from the bracket in ``return_msg``, or the back-office code of a
``[2000](855056:…)`` rejection), ``message`` (the server's text) and ``http_status``.

Secrets: every app key, secret key and token the client handles is registered with
:func:`register_secret`; :func:`mask_secrets` replaces them in any text, and every
``KiwoomError`` message passes through it.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

_MASK = "***"
_MIN_SECRET_LEN = 6  # masking tiny strings would mangle ordinary text
_MAX_SECRETS = 256  # tokens rotate daily; keep the registry bounded

_secrets_lock = threading.Lock()
_secrets: OrderedDict[str, None] = OrderedDict()


def register_secret(value: str | None) -> None:
    """Remember ``value`` so that :func:`mask_secrets` hides it from now on (process-wide)."""
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    with _secrets_lock:
        _secrets[value] = None
        _secrets.move_to_end(value)
        while len(_secrets) > _MAX_SECRETS:
            _secrets.popitem(last=False)


def mask_secrets(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, _MASK)
    return text


class KiwoomError(Exception):
    """Base of every error raised by ``gslts_kiwoom``. Its message is secret-masked."""

    def __init__(self, message: str) -> None:
        super().__init__(mask_secrets(message))

    @property
    def message(self) -> str:
        """The (masked) message."""
        return str(self.args[0]) if self.args else ""


class UnknownApiError(KiwoomError, LookupError):
    """The api-id is not one of the catalogued Kiwoom APIs."""


class RealOrdersDisabledError(KiwoomError):
    """An order was attempted in ``real`` mode without ``KiwoomConfig.allow_real_orders``."""


class TransportError(KiwoomError):
    """The HTTP request failed (connection refused, reset, TLS, …).

    ``request_sent`` is False only when the failure certainly happened before any byte of
    the request reached the server (e.g. connection refused) — the one case where even an
    order may be retried.
    """

    def __init__(self, message: str, *, api_id: str = "", request_sent: bool = True) -> None:
        super().__init__(message)
        self.api_id = api_id
        self.request_sent = request_sent


class Timeout(TransportError):
    """Connect, read or write timed out."""


class ProtocolError(KiwoomError):
    """The response could not be parsed or does not have the documented shape."""


class APIError(KiwoomError):
    """The server rejected the call (``return_code`` != 0, or HTTP 429/401).

    Attributes:
        api_id: the api-id called.
        return_code: the body's ``return_code`` (category code; None if absent).
        detail_code: the code in brackets of ``return_msg`` (e.g. ``"8005"``, ``"1511"``,
            or ``"855056"`` for ``[2000](855056:…)``); None when there is none.
        server_message: ``return_msg`` as received (secret-masked).
        http_status: the HTTP status code.
    """

    def __init__(
        self,
        api_id: str,
        return_code: int | None,
        detail_code: str | None,
        server_message: str,
        *,
        http_status: int = 200,
    ) -> None:
        self.api_id = api_id
        self.return_code = return_code
        self.detail_code = detail_code
        self.server_message = mask_secrets(server_message)
        self.http_status = http_status
        super().__init__(
            f"{api_id}: return_code={return_code} detail={detail_code} "
            f"http={http_status}: {server_message}"
        )


class AuthError(APIError):
    """Authentication failed: bad app/secret key, or a token the server refuses."""


class ModeMismatchError(APIError):
    """A real-trading key/token was used on the mock server or vice versa ([8030]/[8031])."""


class RateLimitError(APIError):
    """Too many requests (HTTP 429, [1700]/[1701]/[1702]) and retries are exhausted."""


class BatchLimitError(APIError):
    """Too many items in one request ([1634]); retrying the same call never succeeds."""


class InputError(APIError):
    """The request was invalid (missing/invalid parameter, unknown stock or market code)."""


class NotSupportedError(APIError):
    """The API is not offered in this environment (e.g. on the mock server)."""


class OrderRejectedError(APIError):
    """The order was rejected by the back office (rc 20), e.g. insufficient margin.

    ``detail_code`` holds the back-office code (``"855056"``) and ``reason`` its text
    (``"매수증거금이 부족합니다. 2주 매수가능"``).
    """

    def __init__(
        self,
        api_id: str,
        return_code: int | None,
        detail_code: str | None,
        server_message: str,
        *,
        http_status: int = 200,
        reason: str = "",
    ) -> None:
        super().__init__(api_id, return_code, detail_code, server_message, http_status=http_status)
        self.reason = mask_secrets(reason)


# ``…[1511:필수입력 파라미터=cncl_qty]`` / ``[CODE=8005, MESSAGE=…]`` / ``[2000](855056:…)``
_BRACKET_RE = re.compile(r"\[(?:CODE=)?\s*([0-9A-Za-z]+)\s*[:,\]]")
_BACKOFFICE_RE = re.compile(r"\[(\d+)\]\s*\(\s*([0-9A-Za-z]+)\s*:\s*([^)]*)\)")

_AUTH_CODES = frozenset(
    {"8001", "8002", "8003", "8005", "8006", "8009", "8010", "8011", "8012"}
    | {"8015", "8016", "8040", "8050", "8103"}
)
#: Token problems that a fresh token can fix (the official SDK retries on these).
REAUTH_CODES = frozenset({"8003", "8005", "8103"})
_MODE_CODES = frozenset({"8030", "8031"})
_RATE_CODES = frozenset({"1700", "1701", "1702"})
_BATCH_CODES = frozenset({"1634"})
_UNSUPPORTED_CODES = frozenset({"8104", "8200", "RC9000"})


def parse_detail(message: str) -> tuple[str | None, str]:
    """The detail code and its text from a ``return_msg``.

    >>> parse_detail("입력 값 오류입니다[1511:필수입력 파라미터=cncl_qty]")
    ('1511', '필수입력 파라미터=cncl_qty')
    >>> parse_detail("[2000](855056:매수증거금이 부족합니다. 2주 매수가능)")
    ('855056', '매수증거금이 부족합니다. 2주 매수가능')
    """
    m = _BACKOFFICE_RE.search(message)
    if m:
        return m.group(2), m.group(3).strip()
    m = _BRACKET_RE.search(message)
    if m:
        rest = message[m.end() :]
        end = rest.find("]")
        text = (rest[:end] if end >= 0 else rest).strip(" ,")
        if text.startswith("MESSAGE="):
            text = text[len("MESSAGE=") :]
        return m.group(1), text
    return None, message.strip()


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def error_from_response(api_id: str, http_status: int, body: dict[str, object]) -> APIError:
    """The :class:`APIError` subclass for a failed call's HTTP status and JSON body."""
    rc = _as_int(body.get("return_code"))
    msg = str(body.get("return_msg") or "")
    detail, reason = parse_detail(msg)
    args = (api_id, rc, detail, msg)
    if http_status == 429 or detail in _RATE_CODES:
        return RateLimitError(*args, http_status=http_status)
    if detail in _BATCH_CODES:
        return BatchLimitError(*args, http_status=http_status)
    if detail in _MODE_CODES:
        return ModeMismatchError(*args, http_status=http_status)
    if detail in _UNSUPPORTED_CODES:
        return NotSupportedError(*args, http_status=http_status)
    if rc == 3 or http_status == 401 or detail in _AUTH_CODES:
        return AuthError(*args, http_status=http_status)
    if rc == 20:
        return OrderRejectedError(*args, http_status=http_status, reason=reason)
    if rc == 5:
        # Same category as 1700 but without a recognised code: treat as a rate limit.
        return RateLimitError(*args, http_status=http_status)
    if rc == 2 or (
        detail is not None and (detail.startswith(("15", "16", "19")) or detail == "8020")
    ):
        return InputError(*args, http_status=http_status)
    return APIError(*args, http_status=http_status)


def needs_reauth(error: APIError) -> bool:
    """True when a fresh token may fix ``error`` (rc 3 / HTTP 401 / [8003|8005|8103])."""
    if not isinstance(error, AuthError):
        return False
    if error.detail_code in REAUTH_CODES:
        return True
    # rc 3 without a recognised credential code: the token is the likely culprit.
    return error.detail_code is None or error.detail_code not in _AUTH_CODES
