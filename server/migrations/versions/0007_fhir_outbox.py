"""fhir_outbox: each saved scale assessment waiting to reach the FHIR server (PAINSCOPE_FHIR_URL)

A row is written in the same transaction as its scale assessment, so none is
lost; it is marked sent once the FHIR server accepted it, and retried with
back-off until then (server/store/fhir_outbox.py). Existing data is untouched.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fhir_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scale_assessment_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['scale_assessment_id'], ['scale_assessments.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('fhir_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fhir_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fhir_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fhir_outbox_next_attempt_at'))
    op.drop_table('fhir_outbox')
