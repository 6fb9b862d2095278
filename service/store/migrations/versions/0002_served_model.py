"""The served model: the version every worker of every replica serves (``served_model``, one row).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('served_model',
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('version', sa.String(length=200), nullable=False),
    sa.Column('bundle', sa.Text(), nullable=False),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.Column('set_by', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('served_model')
