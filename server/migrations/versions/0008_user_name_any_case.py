"""users: a name is unique whatever its case (carol and Carol are one name)

Issue 25: ``carol`` and ``Carol`` could both exist, while the login throttle
counted them as one; a person reading the audit log could not tell them apart.
A unique index on ``lower(name)`` (SQLite and PostgreSQL both index an
expression) keeps a second one out even when two requests race past the
check in ``server/store/accounts.py``. A database that already holds two such
names keeps them (renaming an account is a person's decision, not a
migration's): the index is then not made, and a warning names them and says how
to make it by hand.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

INDEX = 'ix_users_name_lower'
log = logging.getLogger('alembic.runtime.migration')


def upgrade() -> None:
    clashes = op.get_bind().execute(sa.text(
        'SELECT lower(name) FROM users GROUP BY lower(name) HAVING count(*) > 1')).scalars().all()
    if clashes:
        log.warning('users whose names differ only in case: %s; new accounts are still checked, but the index '
                    'is not made: rename one of each, then CREATE UNIQUE INDEX %s ON users (lower(name))',
                    ', '.join(sorted(clashes)), INDEX)
        return
    op.create_index(INDEX, 'users', [sa.text('lower(name)')], unique=True)


def downgrade() -> None:
    op.execute(sa.text(f'DROP INDEX IF EXISTS {INDEX}'))
