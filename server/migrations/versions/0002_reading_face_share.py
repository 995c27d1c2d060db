"""readings.face_share; index audit_events.patient_id

A reading summarises the frames of one second; ``face_share`` is the share of
them in which a face was found (``face_found`` says only whether any was).
The audit log is read per patient, hence the index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('face_share', sa.Float(), nullable=True))
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_patient_id'), ['patient_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_patient_id'))
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_column('face_share')
