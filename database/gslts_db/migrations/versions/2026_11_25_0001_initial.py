"""Initial schema: ticks, order books, candles, stock master, orders, universe, sectors, users.

``tick_data`` and ``orderbook_snapshots`` are created with the portable DDL of
``op.create_table`` and then, on MySQL/MariaDB only, turned into ``RANGE COLUMNS(trade_date)``
tables holding just the catch-all ``p_future`` partition (an ALTER on an empty table is
instant). Day partitions are cut out of ``p_future`` by ``gslts_db.partitions`` — never by
migrations, which cannot know the date.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

MYSQL_OPTS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
DT = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LEVELS = sa.LargeBinary().with_variant(mysql.VARBINARY(320), "mysql", "mariadb")
PARTITIONED = ("tick_data", "orderbook_snapshots")


def _is_mysql() -> bool:
    return op.get_bind().dialect.name in ("mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "tick_data",
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("venue", sa.String(3), nullable=False),
        sa.Column("cum_volume", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("trade_time", DT, nullable=False),
        sa.Column("recv_time", DT, nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("cum_value", sa.BigInteger(), nullable=False),
        sa.Column("best_ask", sa.BigInteger(), nullable=True),
        sa.Column("best_bid", sa.BigInteger(), nullable=True),
        sa.Column("change_rate", sa.Numeric(9, 2), nullable=True),
        sa.Column("strength", sa.Numeric(9, 2), nullable=True),
        sa.Column("session", sa.String(8), nullable=True),
        sa.Column("source", sa.String(8), server_default="live", nullable=False),
        sa.CheckConstraint("venue IN ('KRX', 'NXT')", name=op.f("ck_tick_data_venue")),
        sa.CheckConstraint(
            "source IN ('live', 'backfill', 'replay')", name=op.f("ck_tick_data_source")
        ),
        sa.PrimaryKeyConstraint(
            "stock_code", "trade_date", "venue", "cum_volume", name=op.f("pk_tick_data")
        ),
        **MYSQL_OPTS,
    )
    op.create_table(
        "orderbook_snapshots",
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("venue", sa.String(3), nullable=False),
        sa.Column("book_time", DT, nullable=False),
        sa.Column("recv_time", DT, nullable=False),
        sa.Column("levels", LEVELS, nullable=False),
        sa.Column("total_ask_qty", sa.BigInteger(), nullable=False),
        sa.Column("total_bid_qty", sa.BigInteger(), nullable=False),
        sa.Column("expected_price", sa.BigInteger(), nullable=True),
        sa.Column("expected_qty", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("venue IN ('KRX', 'NXT')", name=op.f("ck_orderbook_snapshots_venue")),
        sa.PrimaryKeyConstraint(
            "stock_code", "trade_date", "venue", "book_time", name=op.f("pk_orderbook_snapshots")
        ),
        **MYSQL_OPTS,
    )
    if _is_mysql():
        for table in PARTITIONED:
            op.execute(
                f"ALTER TABLE {table} PARTITION BY RANGE COLUMNS(trade_date) "
                "(PARTITION p_future VALUES LESS THAN (MAXVALUE))"
            )

    op.create_table(
        "candles",
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("bar_interval", sa.String(4), nullable=False),
        sa.Column("start_time", DT, nullable=False),
        sa.Column("open", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("close", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("trade_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "stock_code", "bar_interval", "start_time", name=op.f("pk_candles")
        ),
        **MYSQL_OPTS,
    )
    op.create_table(
        "stock_master",
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("chosung", sa.String(100), nullable=False),
        sa.Column("market", sa.String(16), nullable=False),
        sa.Column("sector", sa.String(100), nullable=True),
        sa.Column("size_class", sa.String(32), nullable=True),
        sa.Column("listed_shares", sa.BigInteger(), nullable=True),
        sa.Column("last_price", sa.BigInteger(), nullable=True),
        sa.Column("listed_on", sa.Date(), nullable=True),
        sa.Column("audit_info", sa.String(64), nullable=True),
        sa.Column("state", sa.String(255), nullable=True),
        sa.Column("order_warning", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("nxt_enabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", DT, nullable=False),
        sa.PrimaryKeyConstraint("stock_code", name=op.f("pk_stock_master")),
        **MYSQL_OPTS,
    )
    op.create_index(op.f("ix_stock_master_name"), "stock_master", ["name"])
    op.create_index(op.f("ix_stock_master_chosung"), "stock_master", ["chosung"])

    op.create_table(
        "orders",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("client_order_id", sa.String(64), nullable=False),
        sa.Column("broker_order_no", sa.String(16), nullable=True),
        sa.Column("original_order_no", sa.String(16), nullable=True),
        sa.Column("root_order_no", sa.String(16), nullable=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("action", sa.String(8), server_default="new", nullable=False),
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("venue", sa.String(3), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("order_type", sa.String(24), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=True),
        sa.Column("stop_price", sa.BigInteger(), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("filled_quantity", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("filled_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reject_reason", sa.String(255), nullable=True),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("submitted_at", DT, nullable=True),
        sa.Column("updated_at", DT, nullable=False),
        sa.CheckConstraint("side IN ('buy', 'sell')", name=op.f("ck_orders_side")),
        sa.CheckConstraint("action IN ('new', 'modify', 'cancel')", name=op.f("ck_orders_action")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("client_order_id", name=op.f("uq_orders_client_order_id")),
        **MYSQL_OPTS,
    )
    op.create_index(op.f("ix_orders_broker_order_no"), "orders", ["broker_order_no"])
    op.create_index(op.f("ix_orders_root_order_no"), "orders", ["root_order_no"])
    op.create_index(op.f("ix_orders_state"), "orders", ["state"])
    op.create_index(op.f("ix_orders_stock_code_created_at"), "orders", ["stock_code", "created_at"])

    op.create_table(
        "order_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("event_key", sa.String(96), nullable=True),
        sa.Column("broker_order_no", sa.String(16), nullable=True),
        sa.Column("event_type", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=True),
        sa.Column("event_time", DT, nullable=False),
        sa.Column("fill_no", sa.String(16), nullable=True),
        sa.Column("fill_price", sa.BigInteger(), nullable=True),
        sa.Column("fill_qty", sa.BigInteger(), nullable=True),
        sa.Column("open_qty", sa.BigInteger(), nullable=True),
        sa.Column("cum_filled_qty", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.String(255), nullable=True),
        sa.Column("received_at", DT, nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_events_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_order_events_event_key")),
        **MYSQL_OPTS,
    )
    op.create_index(op.f("ix_order_events_order_id"), "order_events", ["order_id"])
    op.create_index(op.f("ix_order_events_broker_order_no"), "order_events", ["broker_order_no"])

    op.create_table(
        "watchlist",
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("note", sa.String(255), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("added_at", DT, nullable=False),
        sa.PrimaryKeyConstraint("stock_code", name=op.f("pk_watchlist")),
        **MYSQL_OPTS,
    )
    op.create_table(
        "universe_history",
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("rank_no", sa.Integer(), nullable=True),
        sa.Column("added_at", DT, nullable=False),
        sa.CheckConstraint(
            "reason IN ('top50', 'watchlist', 'manual')", name=op.f("ck_universe_history_reason")
        ),
        sa.PrimaryKeyConstraint(
            "trade_date", "stock_code", "reason", name=op.f("pk_universe_history")
        ),
        **MYSQL_OPTS,
    )
    op.create_table(
        "us_sector_data",
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("sector", sa.String(64), nullable=True),
        sa.Column("open", sa.Numeric(18, 4), nullable=False),
        sa.Column("high", sa.Numeric(18, 4), nullable=False),
        sa.Column("low", sa.Numeric(18, 4), nullable=False),
        sa.Column("close", sa.Numeric(18, 4), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("change_pct", sa.Numeric(9, 4), nullable=True),
        sa.PrimaryKeyConstraint("trade_date", "symbol", name=op.f("pk_us_sector_data")),
        **MYSQL_OPTS,
    )
    op.create_table(
        "sector_links",
        sa.Column("us_symbol", sa.String(16), nullable=False),
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("sector", sa.String(64), nullable=False),
        sa.Column("weight", sa.Numeric(6, 4), nullable=False),
        sa.Column("note", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("us_symbol", "stock_code", name=op.f("pk_sector_links")),
        **MYSQL_OPTS,
    )
    op.create_index(op.f("ix_sector_links_stock_code"), "sector_links", ["stock_code"])
    op.create_table(
        "recommendations",
        sa.Column("rec_date", sa.Date(), nullable=False),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("score", sa.Numeric(12, 6), nullable=False),
        sa.Column("rank_no", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.PrimaryKeyConstraint(
            "rec_date", "strategy", "stock_code", name=op.f("pk_recommendations")
        ),
        **MYSQL_OPTS,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.Column("last_login_at", DT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
        **MYSQL_OPTS,
    )


def downgrade() -> None:
    for table in (
        "users",
        "recommendations",
        "sector_links",
        "us_sector_data",
        "universe_history",
        "watchlist",
        "order_events",
        "orders",
        "stock_master",
        "candles",
        "orderbook_snapshots",
        "tick_data",
    ):
        op.drop_table(table)
