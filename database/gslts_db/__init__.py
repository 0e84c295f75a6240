"""GSLTS database package: SQLAlchemy models, the single Alembic history, partition maintenance.

Never reads environment variables and never imports a service: callers pass URLs/engines in.

Typical use by a service::

    engine = gslts_db.make_engine(settings.resolved_database_url())
    gslts_db.upgrade(engine)                        # migrations to head
    gslts_db.ensure_partitions(engine, 14, today)   # day partitions ahead (MySQL)
    with engine.begin() as conn:
        gslts_db.insert_ticks(conn, rows)           # idempotent bulk insert
"""

from gslts_db._types import KST, KSTDateTime
from gslts_db.archive import (
    ArchivedDay,
    RestoredFile,
    archive_before,
    arrow_schema,
    inspect_archive,
    restore_files,
)
from gslts_db.engine import is_mysql, make_engine, make_session_factory, session_scope
from gslts_db.errors import ArchiveError, GsltsDbError, RestoreError
from gslts_db.migrate import current_revision, downgrade, head_revision, schema_drift, upgrade
from gslts_db.models import (
    PARTITIONED_TABLES,
    USER_ROLES,
    AuditEntry,
    AuthSession,
    Base,
    Candle,
    KrDailyBar,
    Order,
    OrderbookSnapshot,
    OrderEvent,
    Recommendation,
    SectorLink,
    SectorRecommendation,
    StockMaster,
    TickData,
    UniverseEntry,
    User,
    UsInstrument,
    UsSectorData,
    WatchlistItem,
)
from gslts_db.partitions import (
    DEFAULT_DAYS_AHEAD,
    PartitionInfo,
    ensure_day_partition,
    ensure_partitions,
    list_partitions,
    partition_name,
)
from gslts_db.store import (
    CANDLE_COLUMNS,
    ORDERBOOK_COLUMNS,
    TICK_COLUMNS,
    BookLevels,
    CandleRow,
    OrderbookRow,
    TickRow,
    count_day_ticks,
    fetch_ticks,
    insert_ignore,
    insert_orderbook_snapshots,
    insert_ticks,
    pack_levels,
    tick_range_query,
    unpack_levels,
    upsert_candles,
)

__all__ = [
    "CANDLE_COLUMNS",
    "DEFAULT_DAYS_AHEAD",
    "KST",
    "ORDERBOOK_COLUMNS",
    "PARTITIONED_TABLES",
    "TICK_COLUMNS",
    "USER_ROLES",
    "ArchiveError",
    "ArchivedDay",
    "AuditEntry",
    "AuthSession",
    "Base",
    "BookLevels",
    "Candle",
    "CandleRow",
    "GsltsDbError",
    "KSTDateTime",
    "KrDailyBar",
    "Order",
    "OrderEvent",
    "OrderbookRow",
    "OrderbookSnapshot",
    "PartitionInfo",
    "Recommendation",
    "RestoreError",
    "RestoredFile",
    "SectorLink",
    "SectorRecommendation",
    "StockMaster",
    "TickData",
    "TickRow",
    "UniverseEntry",
    "UsInstrument",
    "UsSectorData",
    "User",
    "WatchlistItem",
    "archive_before",
    "arrow_schema",
    "count_day_ticks",
    "current_revision",
    "downgrade",
    "ensure_day_partition",
    "ensure_partitions",
    "fetch_ticks",
    "head_revision",
    "insert_ignore",
    "insert_orderbook_snapshots",
    "insert_ticks",
    "inspect_archive",
    "is_mysql",
    "list_partitions",
    "make_engine",
    "make_session_factory",
    "pack_levels",
    "partition_name",
    "restore_files",
    "schema_drift",
    "session_scope",
    "tick_range_query",
    "unpack_levels",
    "upgrade",
    "upsert_candles",
]
