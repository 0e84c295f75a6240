"""The services' one error shape ``{"error": "<Name>", "detail": "..."}`` (one module maps
all; :func:`install` registers it on a FastAPI app).

Every error an API can answer goes through here, so routes need no try/except:

* the :class:`AppError` family (``BadInput`` 422, ``NotFound`` 404, ``Conflict`` 409 (a
  cap or the state refuses it; the detail says why), ``Unavailable`` 503 with
  ``Retry-After``), raised by routes and by service code (the hub's ``UnknownStock``
  is a ``NotFound``); a database that cannot be reached
  (``sa.exc.OperationalError``/``InterfaceError``) → 503;
* request validation → 422 ``BadInput`` naming the field (``limit: …``, ``body: Field
  required``), never echoing more than :data:`ECHO_CHARS` of the input;
* Starlette's HTTP errors (404 unknown path, 405 with its ``Allow`` header, 413 body over
  the limit) → their status with a name (``MethodNotAllowed``, ``ContentTooLarge``);
* anything else → 500 ``InternalError`` with no detail (the traceback goes to the log).

Details never carry a secret: the database and Kiwoom errors are named by their class,
not their message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from gslts_kiwoom.krx import STOCK_CODE_PATTERN

log = logging.getLogger(__name__)

#: at most this much of a client's input is quoted back in an error
ECHO_CHARS = 100
#: and no detail is longer than this
DETAIL_CHARS = 500
#: seconds a 503 suggests waiting before the retry
RETRY_AFTER_S = 1
#: the methods :func:`allowed_methods` tries on a route that does not list its own
PROBED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

HTTP_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "ContentTooLarge",
    415: "UnsupportedMediaType",
    422: "BadInput",
    429: "TooManyRequests",
    502: "BadGateway",
    503: "Unavailable",
}


class ErrorBody(BaseModel):
    """Every error response of a GSLTS API."""

    error: str = Field(examples=["BadInput"], description="the error's name")
    detail: str = Field(examples=["limit: Input should be less than or equal to 10000"])
    field: str | None = Field(
        default=None, examples=["price"], description="the input field at fault, if one is"
    )
    detail_ko: str | None = Field(
        default=None,
        examples=["호가단위에 맞지 않는 가격입니다"],
        description="the detail in Korean (order validation)",
    )
    kiwoom_code: str | None = Field(
        default=None,
        examples=["1501"],
        description="Kiwoom's return code when Kiwoom refused or failed",
    )


class AppError(Exception):
    """Base of API errors: ``status`` + a message safe to show (+ response ``headers``);
    optionally the ``field`` at fault, the message in Korean and Kiwoom's return code."""

    status = 400
    headers: Mapping[str, str] = {}

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        detail_ko: str | None = None,
        kiwoom_code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.detail_ko = detail_ko
        self.kiwoom_code = kiwoom_code


class BadInput(AppError):
    status = 422


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    """The request is valid but the current state refuses it (e.g. a cap is reached)."""

    status = 409


class Unauthorized(AppError):
    """No valid session or token."""

    status = 401


class Forbidden(AppError):
    """Authenticated, but the role (or the Origin / CSRF token) does not allow it."""

    status = 403


class TooManyRequests(AppError):
    status = 429
    headers: Mapping[str, str] = {"Retry-After": str(RETRY_AFTER_S)}


class BadGateway(AppError):
    """Kiwoom answered with an error (its code in ``kiwoom_code``)."""

    status = 502


class Unavailable(AppError):
    status = 503
    headers: Mapping[str, str] = {"Retry-After": str(RETRY_AFTER_S)}


def clip(text: str, limit: int = ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters (marked with ``…``)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_response(
    name: str,
    detail: str,
    status: int,
    headers: Mapping[str, str] | None = None,
    **extra: str | None,
) -> JSONResponse:
    """The one error shape (also used by the middleware in front of the routes);
    ``extra``: the optional fields of :class:`ErrorBody` (left out when None)."""
    body: dict[str, str] = {"error": name, "detail": clip(detail, DETAIL_CHARS)}
    body.update({k: clip(v, DETAIL_CHARS) for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, headers=dict(headers) if headers else None)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring :class:`ErrorBody` for ``statuses``."""
    text = {
        400: "Host not allowed (HUB_ALLOWED_HOSTS) or a malformed request",
        401: "Not logged in (no valid session cookie or bearer token)",
        403: "The role, Origin or CSRF token does not allow it",
        404: "Not found",
        409: "Refused by the current state (e.g. a cap reached); the detail says why",
        413: "Request body over HUB_MAX_BODY_BYTES",
        422: "Invalid input",
        429: "Too many requests; retry after Retry-After seconds",
        502: "Kiwoom refused or failed (its code in kiwoom_code)",
        503: "Database or Kiwoom unavailable, or the watchlist busy; retry",
    }
    return {s: {"model": ErrorBody, "description": text.get(s, HTTP_NAMES.get(s, "Error"))}
            for s in statuses}  # fmt: skip


def allowed_methods(request: Request) -> str:
    """Every method the routes of ``request``'s path answer (``HEAD`` with ``GET``:
    :class:`~gslts_hub.middleware.HeadAsGet`), for a 405's ``Allow``.

    A route with ``methods`` names them; one without (FastAPI keeps an included
    ``APIRouter`` as one route standing for all of its own) is asked with each method of
    :data:`PROBED_METHODS` in turn. A mounted app (static files) answers its own 405s."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Mount):
            continue
        known = getattr(route, "methods", None)
        if known is not None:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= known
            continue
        for method in PROBED_METHODS:
            match, _ = route.matches({**request.scope, "method": method})
            if match is Match.FULL:
                methods.add(method)
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _loc(loc: tuple[Any, ...]) -> str:
    """``("query", "limit")`` → ``limit``; ``("body",)`` (the body itself) → ``body``."""
    parts = [str(x) for x in loc]
    if len(parts) > 1 and parts[0] in ("query", "path", "body", "header", "cookie"):
        parts = parts[1:]
    return clip(".".join(parts), ECHO_CHARS) or "request"


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors():
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "string_pattern_mismatch" and e.get("ctx", {}).get("pattern") == (
            STOCK_CODE_PATTERN
        ):
            msg = "must be 6 characters like 005930: a digit, then 5 digits or capital letters"
        # pydantic's messages name the constraint, not the input; a few quote it
        # ("Input should be 'json' or 'csv'"); cap them all the same
        parts.append(f"{_loc(tuple(e.get('loc', ())))}: {clip(msg, ECHO_CHARS * 2)}")
    return "; ".join(parts) or "invalid input"


def install(app: FastAPI, *, name_the_field: bool = False) -> None:
    """Register the handlers on ``app``.

    ``name_the_field``: a request validation error (422) also carries ``field`` (the
    first failing input's location: ``limit``, ``body.quantity``) and a ``detail_ko``, as
    the main server's clients show them by the input; the hub's answers stay
    ``{"error", "detail"}``."""

    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        # the family's public name (NotFound, Unavailable …), not a service's subclass
        name = next(c.__name__ for c in type(exc).__mro__ if c.__module__ == __name__)
        return error_response(
            name,
            exc.detail,
            exc.status,
            exc.headers,
            field=exc.field,
            detail_ko=exc.detail_ko,
            kiwoom_code=exc.kiwoom_code,
        )

    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("api_database_error error=%s", type(exc).__name__)
        return error_response(
            "Unavailable",
            f"database unavailable ({type(exc).__name__}); try again",
            503,
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    app.add_exception_handler(sa.exc.OperationalError, database_unavailable)
    app.add_exception_handler(sa.exc.InterfaceError, database_unavailable)
    app.add_exception_handler(sa.exc.TimeoutError, database_unavailable)  # pool exhausted

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        if not name_the_field:
            return error_response("BadInput", _validation_detail(exc), 422)
        field = _loc(tuple(errs[0].get("loc", ()))) if errs else None
        return error_response(
            "BadInput",
            _validation_detail(exc),
            422,
            field=field,
            detail_ko=f"입력값이 올바르지 않습니다: {field}"
            if field
            else "입력값이 올바르지 않습니다",
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = HTTP_NAMES.get(exc.status_code, "HTTPError")
        # keep the exception's headers: 405 carries Allow (RFC 9110) …
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # … listing every method of the path: Starlette names only the first route's
            headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
        return error_response(name, str(exc.detail), exc.status_code, headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "api_internal_error %s %s error=%s",
            request.method,
            request.url.path,
            type(exc).__name__,
            exc_info=exc,
        )
        return error_response("InternalError", "internal error (logged on the hub)", 500)


#: methods a cookie session needs the CSRF token on (a 403 without it)
_UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})


def declare_one_error_shape(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document say what :func:`install` does.

    FastAPI declares its own ``HTTPValidationError`` for the 422 of every operation with
    parameters that does not declare one; the answer is :class:`ErrorBody`, so this
    replaces it (and drops the unused ``HTTPValidationError`` / ``ValidationError``
    schemas). An operation with a request body also declares 400 (a body Starlette cannot
    parse, e.g. not UTF-8) and 413 (over the app's body limit), one with a ``security``
    requirement (a session) 401, and on a state-changing method 403 (the CSRF token of a
    cookie session), when it does not already: a client generated from the document then
    knows every status it can get.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = build()
        error_ref = {"$ref": "#/components/schemas/ErrorBody"}
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        if "ErrorBody" not in schemas:
            schemas["ErrorBody"] = ErrorBody.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )

        def error(status: int, text: str | None = None) -> dict[str, Any]:
            text = text or responses(status)[status]["description"]
            return {"description": text, "content": {"application/json": {"schema": error_ref}}}

        for ops in doc.get("paths", {}).values():
            for method, op in ops.items():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                answers = op["responses"]
                declared = answers.get("422", {}).get("content", {}).get("application/json", {})
                if declared.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                    answers["422"] = error(422)
                if "requestBody" in op:  # Starlette's answer to a body it cannot parse
                    answers.setdefault("400", error(400, "a body that is not UTF-8 JSON"))
                    answers.setdefault("413", error(413, "a body over the size limit"))
                if op.get("security"):
                    answers.setdefault("401", error(401))
                    if method in _UNSAFE_METHODS:
                        answers.setdefault("403", error(403))
        text = str(doc.get("paths"))
        for unused in ("HTTPValidationError", "ValidationError"):
            if f"/{unused}'" not in text:
                schemas.pop(unused, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
