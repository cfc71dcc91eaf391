"""real groups: the alert topic of a forum, groups that refuse reactions, late reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("team_chats") as batch:
        batch.add_column(sa.Column("alert_topic_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("alert_topic_name", sa.String(length=128), nullable=True))
        batch.add_column(
            sa.Column("reactions_ok", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("received_at")
    with op.batch_alter_table("team_chats") as batch:
        batch.drop_column("reactions_ok")
        batch.drop_column("alert_topic_name")
        batch.drop_column("alert_topic_id")
