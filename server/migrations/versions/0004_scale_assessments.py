"""scale_assessments: clinical pain scales (PAINAD, CPOT, FLACC) completed by a clinician

One row per completed scale: the patient, who completed it, the scale, each
item's score with whether the camera or the clinician set it, the total, its
band and whether it was taken at rest or after movement. Existing data is untouched.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scale_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('scale', sa.String(length=16), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('band', sa.String(length=16), nullable=False),
    sa.Column('context', sa.String(length=16), nullable=False),
    sa.Column('assessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scale_assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scale_assessments_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('scale_assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scale_assessments_patient_id'))
    op.drop_table('scale_assessments')
