"""Orders keep their open quantity and the modify/cancel requests their parent order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("open_quantity", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("parent_id", ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_orders_parent_id_orders"), "orders", ["parent_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index(op.f("ix_orders_parent_id"), ["parent_id"])
        batch.create_index(op.f("ix_orders_state_created_at"), ["state", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index(op.f("ix_orders_state_created_at"))
        batch.drop_constraint(op.f("fk_orders_parent_id_orders"), type_="foreignkey")
        batch.drop_index(op.f("ix_orders_parent_id"))
        batch.drop_column("parent_id")
        batch.drop_column("open_quantity")
