"""Errors raised by ``gslts_db`` maintenance functions.

::

    GsltsDbError
     ├── ArchiveError   an export did not verify; nothing was dropped
     └── RestoreError   a file is missing, unreadable or not a GSLTS archive
"""

from __future__ import annotations


class GsltsDbError(Exception):
    """Base class of every error raised on purpose by ``gslts_db``."""


class ArchiveError(GsltsDbError):
    """An archive file did not match the rows it was made from; the rows were kept."""


class RestoreError(GsltsDbError):
    """An archive file cannot be restored (missing, unreadable, or not ours)."""
