"""update inbox, delivery outbox, card hashes, reachable and migrated team chats

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_inbox_updates")),
    )
    op.create_index(
        "ix_inbox_updates_status_update_id", "inbox_updates", ["status", "update_id"], unique=False
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("card_key", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("uncertain", sa.Boolean(), nullable=False),
        sa.Column("duplicate_risk", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        "ix_outbox_status_priority_id", "outbox", ["status", "priority", "id"], unique=False
    )
    op.create_index(op.f("ix_outbox_card_key"), "outbox", ["card_key"], unique=False)
    with op.batch_alter_table("incident_messages") as batch:
        batch.add_column(sa.Column("shown_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("team_chats") as batch:
        batch.add_column(
            sa.Column("reachable", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch.add_column(sa.Column("unreachable_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("migrated_to", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("team_chats") as batch:
        batch.drop_column("migrated_to")
        batch.drop_column("last_error")
        batch.drop_column("unreachable_since")
        batch.drop_column("reachable")
    with op.batch_alter_table("incident_messages") as batch:
        batch.drop_column("shown_hash")
    op.drop_index(op.f("ix_outbox_card_key"), table_name="outbox")
    op.drop_index("ix_outbox_status_priority_id", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_inbox_updates_status_update_id", table_name="inbox_updates")
    op.drop_table("inbox_updates")
