"""Column types shared by the models and the migrations.

Times are stored as naive KST wall-clock ``DATETIME(6)`` (MySQL/MariaDB) or ISO text
(SQLite): every trade this system records happens in Korea, KST has no daylight saving, and
naive KST keeps ``trade_date`` and the time of day readable in plain SQL. The
:class:`KSTDateTime` decorator makes Python code see only timezone-aware datetimes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect

KST = ZoneInfo("Asia/Seoul")

#: DATETIME with microseconds on MySQL/MariaDB (plain DATETIME there drops them)
DATETIME6: sa.types.TypeEngine[datetime] = sa.DateTime().with_variant(
    mysql.DATETIME(fsp=6), "mysql", "mariadb"
)


def to_naive_kst(value: datetime) -> datetime:
    """Wall-clock KST without tzinfo; naive input is taken to be KST already."""
    if value.tzinfo is None:
        return value
    return value.astimezone(KST).replace(tzinfo=None)


class KSTDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime stored as naive KST (see the module docstring)."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else to_naive_kst(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=KST) if value.tzinfo is None else value.astimezone(KST)
