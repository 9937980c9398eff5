"""llm_calls: finish reason, HTTP retries, the provider's request id and the reasoning of each call

Revision ID: 0002_23
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_23"
down_revision = "0002_24"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("finish_reason", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("retries", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("retry_statuses", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("request_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("reasoning", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("llm_calls", schema=None) as batch_op:
        for name in ("reasoning", "request_id", "retry_statuses", "retries", "finish_reason"):
            batch_op.drop_column(name)
