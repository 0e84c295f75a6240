"""The hub API's one error shape ``{"error": "<Name>", "detail": "..."}`` (one module maps all)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class AppError(Exception):
    """Base of API errors: ``status`` + a message safe to show."""

    status = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadInput(AppError):
    status = 422


class NotFound(AppError):
    status = 404


class Unavailable(AppError):
    status = 503


def _body(name: str, detail: str, status: int) -> JSONResponse:
    return JSONResponse({"error": name, "detail": detail}, status_code=status)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(AppError)
    async def app_error(_: Request, exc: AppError) -> JSONResponse:
        return _body(type(exc).__name__, exc.detail, exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return _body("BadInput", "; ".join(parts) or "invalid input", 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        name = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
        return _body(name, str(exc.detail), exc.status_code)
