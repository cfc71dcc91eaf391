"""quiet groups: a message left with support, a ticket reply kept as a note, one reminder a group

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("support_message_left_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("support_note", sa.Text(), nullable=True))
    with op.batch_alter_table("team_chats") as batch:
        batch.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("team_chats") as batch:
        batch.drop_column("reminded_at")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("support_note")
        batch.drop_column("support_message_left_at")
