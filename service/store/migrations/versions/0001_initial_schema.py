"""The first schema: the tables the store had before migrations (what ``create_all`` made).

A store created then (tables, no ``alembic_version``) is stamped at this revision by ``upgrade_schema``.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('hash', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('key_id'),
    sa.UniqueConstraint('hash')
    )
    op.create_table('enterprises',
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('sector', sa.String(length=64), nullable=False),
    sa.Column('region', sa.Text(), nullable=False),
    sa.Column('employees', sa.Integer(), nullable=False),
    sa.Column('annual_revenue', sa.Double(), nullable=True),
    sa.Column('founded', sa.Integer(), nullable=False),
    sa.CheckConstraint("sector IN ('manufacturing', 'agriculture', 'construction', 'wholesale_retail', "
                       "'transport_warehousing_postal', 'catering_accommodation', 'information_services', "
                       "'real_estate_property', 'leasing_business_services', 'other')", name='sector_known'),
    sa.CheckConstraint('annual_revenue >= 0', name='annual_revenue_not_negative'),
    sa.CheckConstraint('employees >= 0', name='employees_not_negative'),
    sa.PrimaryKeyConstraint('enterprise_id')
    )
    op.create_table('institutions',
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('sectors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('regions', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('min_amount', sa.Double(), nullable=True),
    sa.Column('max_amount', sa.Double(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("kind IN ('bank', 'guarantee', 'microcredit', 'research_institute', 'college', "
                       "'government')", name='kind_known'),
    sa.CheckConstraint('capacity >= 0', name='capacity_not_negative'),
    sa.CheckConstraint('min_amount <= max_amount', name='amount_range_ordered'),
    sa.CheckConstraint('min_amount >= 0 AND max_amount >= 0', name='amounts_not_negative'),
    sa.PrimaryKeyConstraint('institution_id')
    )
    op.create_table('recommendations',
    sa.Column('recommendation_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('problem_id', sa.String(length=64), nullable=True),
    sa.Column('enterprise_id', sa.String(length=64), nullable=True),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=200), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('recommendation_id')
    )
    with op.batch_alter_table('recommendations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recommendations_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendations_enterprise_id'), ['enterprise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recommendations_problem_id'), ['problem_id'], unique=False)

    op.create_table('problems',
    sa.Column('problem_id', sa.String(length=64), nullable=False),
    sa.Column('enterprise_id', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('amount', sa.Double(), nullable=True),
    sa.Column('stated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('amount >= 0', name='problem_amount_not_negative'),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.enterprise_id'], ),
    sa.PrimaryKeyConstraint('problem_id')
    )
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_problems_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('recommendation_items',
    sa.Column('recommendation_id', sa.String(length=64), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('score', sa.Double(), nullable=False),
    sa.Column('propensity', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['recommendation_id'], ['recommendations.recommendation_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('recommendation_id', 'rank')
    )
    with op.batch_alter_table('recommendation_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recommendation_items_institution_id'), ['institution_id'], unique=False)

    op.create_table('outcomes',
    sa.Column('outcome_id', sa.String(length=64), nullable=False),
    sa.Column('problem_id', sa.String(length=64), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Double(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('contacted', 'accepted', 'declined', 'solved', 'failed')", name='status_known'),
    sa.CheckConstraint('amount >= 0', name='outcome_amount_not_negative'),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.institution_id'], ),
    sa.ForeignKeyConstraint(['problem_id'], ['problems.problem_id'], ),
    sa.PrimaryKeyConstraint('outcome_id')
    )
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcomes_institution_id'), ['institution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcomes_problem_id'), ['problem_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcomes_recorded_at'), ['recorded_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcomes_recorded_at'))
        batch_op.drop_index(batch_op.f('ix_outcomes_problem_id'))
        batch_op.drop_index(batch_op.f('ix_outcomes_institution_id'))

    op.drop_table('outcomes')
    with op.batch_alter_table('recommendation_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recommendation_items_institution_id'))

    op.drop_table('recommendation_items')
    with op.batch_alter_table('problems', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_problems_enterprise_id'))

    op.drop_table('problems')
    with op.batch_alter_table('recommendations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recommendations_problem_id'))
        batch_op.drop_index(batch_op.f('ix_recommendations_enterprise_id'))
        batch_op.drop_index(batch_op.f('ix_recommendations_created_at'))

    op.drop_table('recommendations')
    op.drop_table('institutions')
    op.drop_table('enterprises')
    op.drop_table('api_keys')
