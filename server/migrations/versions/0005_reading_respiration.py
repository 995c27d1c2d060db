"""readings.respiration_rate_bpm

The camera's breathing rate (server/vitals/respiration.py) of the second a
reading summarises, so that it reaches the record and its FHIR export
(server/store/fhir.py) like the heart rate. Older rows have none (NULL).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('respiration_rate_bpm', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_column('respiration_rate_bpm')
