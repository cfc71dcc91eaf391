"""several copies on one PostgreSQL: the lease, each copy's sign of life, outbox claims

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    lease = op.create_table(
        "bot_lease",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("holder", sa.String(120), nullable=True),
        sa.Column("host", sa.String(120), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("epoch", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.bulk_insert(lease, [{"name": "active", "epoch": 0, "released": False}])
    op.create_table(
        "bot_copies",
        sa.Column("copy_id", sa.String(120), primary_key=True),
        sa.Column("host", sa.String(120), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claimed_epoch", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("claimed_epoch")
    op.drop_table("bot_copies")
    op.drop_table("bot_lease")
