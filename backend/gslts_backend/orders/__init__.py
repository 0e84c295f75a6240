"""orders routes of the main server (see docs/backend.md)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
