"""the bot's checks of FLEXUS and of the office: states, transitions, hourly samples

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "check_states",
        sa.Column("name", sa.String(60), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("fails_in_row", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("oks_in_row", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "check_transitions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_check_transitions_name_at", "check_transitions", ["name", "at"])
    op.create_table(
        "check_hours",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total_ms", sa.BigInteger(), nullable=False, server_default="0"),
        sa.UniqueConstraint("name", "hour", name="uq_check_hours_name_hour"),
    )


def downgrade() -> None:
    op.drop_table("check_hours")
    op.drop_index("ix_check_transitions_name_at", table_name="check_transitions")
    op.drop_table("check_transitions")
    op.drop_table("check_states")
