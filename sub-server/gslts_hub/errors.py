"""The hub's own errors (mapped to ``{"error","detail"}`` by :mod:`gslts_common.errors`)."""

from __future__ import annotations

from gslts_common.errors import AppError, NotFound


class HubError(AppError):
    """Base of the hub's own errors."""


class UnknownStock(NotFound, HubError):
    """The code is not a listed stock (404)."""
