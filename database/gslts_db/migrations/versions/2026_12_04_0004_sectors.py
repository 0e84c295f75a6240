"""The global sector link's tables: US bars and instruments, Korean daily bars, the link
map and the stored recommendations.

``us_sector_data`` and ``sector_links`` of 0001 were placeholders nothing ever wrote; they
are dropped and created in the shape the sector link uses (downgrade restores the
placeholders, empty). The generic ``recommendations`` table of 0001 is left alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

MYSQL_OPTS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
DT = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
PRICE = sa.Numeric(20, 6)


def upgrade() -> None:
    op.drop_index(op.f("ix_sector_links_stock_code"), table_name="sector_links")
    op.drop_table("sector_links")
    op.drop_table("us_sector_data")
    op.create_table(
        "us_sector_data",
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("open", PRICE, nullable=False),
        sa.Column("high", PRICE, nullable=False),
        sa.Column("low", PRICE, nullable=False),
        sa.Column("close", PRICE, nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "trade_date", name=op.f("pk_us_sector_data")),
        **MYSQL_OPTS,
    )
    op.create_table(
        "us_instruments",
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('etf', 'index', 'market')", name=op.f("ck_us_instruments_kind")
        ),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_us_instruments")),
        **MYSQL_OPTS,
    )
    op.create_table(
        "kr_daily_bars",
        sa.Column("stock_code", sa.String(12), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("open", sa.BigInteger(), nullable=False),
        sa.Column("high", sa.BigInteger(), nullable=False),
        sa.Column("low", sa.BigInteger(), nullable=False),
        sa.Column("close", sa.BigInteger(), nullable=False),
        sa.Column("volume", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("stock_code", "trade_date", name=op.f("pk_kr_daily_bars")),
        **MYSQL_OPTS,
    )
    op.create_table(
        "sector_links",
        sa.Column("us_symbol", sa.String(16), nullable=False),
        sa.Column("kr_code", sa.String(12), nullable=False),
        sa.Column("kr_name", sa.String(100), nullable=False),
        sa.Column("confidence", sa.String(1), nullable=False),
        sa.Column("rationale", sa.String(500), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.CheckConstraint(
            "confidence IN ('H', 'M', 'L')", name=op.f("ck_sector_links_confidence")
        ),
        sa.PrimaryKeyConstraint("us_symbol", "kr_code", name=op.f("pk_sector_links")),
        **MYSQL_OPTS,
    )
    op.create_index(op.f("ix_sector_links_kr_code"), "sector_links", ["kr_code"])
    op.create_table(
        "sector_recommendations",
        sa.Column("for_date", sa.Date(), nullable=False),
        sa.Column("kr_code", sa.String(12), nullable=False),
        sa.Column("rank_no", sa.Integer(), nullable=False),
        sa.Column("kr_name", sa.String(100), nullable=False),
        sa.Column("score", sa.Double(), nullable=True),
        sa.Column("expected_gap", sa.Double(), nullable=True),
        sa.Column("expected_day", sa.Double(), nullable=True),
        sa.Column("beta_gap", sa.Double(), nullable=True),
        sa.Column("beta_gap_se", sa.Double(), nullable=True),
        sa.Column("beta_day", sa.Double(), nullable=True),
        sa.Column("hit_rate", sa.Double(), nullable=True),
        sa.Column("history_days", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("created_at", DT, nullable=False),
        sa.PrimaryKeyConstraint("for_date", "kr_code", name=op.f("pk_sector_recommendations")),
        **MYSQL_OPTS,
    )


def downgrade() -> None:
    op.drop_table("sector_recommendations")
    op.drop_index(op.f("ix_sector_links_kr_code"), table_name="sector_links")
    op.drop_table("sector_links")
    op.drop_table("kr_daily_bars")
    op.drop_table("us_instruments")
    op.drop_table("us_sector_data")
    # the placeholders of 0001, empty
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
