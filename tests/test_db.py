"""Storage on SQLite and on a real PostgreSQL server: schema upgrades keep data, accounts and the app work on both."""
from __future__ import annotations

import sqlite3

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from server.store.accounts import account_for_token, authenticate, create_token, create_user, revoke_token
from server.config import Settings
from server.store.db import Database, Patient, User, alembic_config, database_url
from tests import synthetic
from tests.conftest import authed_client, create_test_app
from tests.postgres_server import postgres_server

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path):
    """A fresh, empty database of each kind (PostgreSQL always runs: in CI it must be there)."""
    if request.param == "sqlite":
        return database_url("", str(tmp_path))
    return request.getfixturevalue("postgres").new_database()


def test_the_schema_is_created_and_an_upgrade_keeps_the_data(url):
    first = alembic_config(url)
    command.upgrade(first, "0001")  # the first release's schema, with data in it
    db = Database(url)
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO users (name, password_hash, is_admin, created_at) "
                                "VALUES ('old nurse', 'x', false, CURRENT_TIMESTAMP)"))
    db.upgrade()  # to the newest revision
    db.upgrade()  # and again: nothing to do, nothing lost
    with db.session() as session:
        assert session.scalars(select(User.name)).all() == ["old nurse"]
        revision = session.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert [revision] == ScriptDirectory.from_config(first).get_heads()
    db.dispose()


def test_accounts_and_tokens_work_and_a_revoked_token_does_not(url):
    db = Database(url)
    db.upgrade()
    create_user(db, "nurse", "a long enough password")
    assert authenticate(db, "nurse", "a long enough password").name == "nurse"
    assert authenticate(db, "nurse", "wrong password here") is None
    token_id, token = create_token(db, "nurse", "ward tablet")
    assert account_for_token(db, token).name == "nurse"
    revoke_token(db, token_id)
    assert account_for_token(db, token) is None
    db.dispose()


def test_a_committed_row_is_seen_by_another_connection(url):
    writer, reader = Database(url), Database(url)
    writer.upgrade()
    with writer.session() as session:
        session.add(Patient(identifier="bed-7", display_name="Test Patient"))
    with reader.session() as session:
        assert session.scalar(select(Patient.display_name).where(Patient.identifier == "bed-7")) == "Test Patient"
    writer.dispose()
    reader.dispose()


def test_the_app_serves_an_analysis_with_its_records_on_each_database(url, tmp_path):
    app = create_test_app(Settings(database_url=url, instance_dir=str(tmp_path)))
    client = authed_client(app)
    response = client.post("/api/v1/analyze/image", data=synthetic.encode(synthetic.astronaut_face()),
                           content_type="image/jpeg")
    assert response.status_code == 200 and response.get_json()["face"]["found"] is True
    assert client.get("/api/v1/users").get_json()[0]["name"] == "tester"
    app.extensions["painscope"].db.dispose()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    db = Database(database_url("", str(tmp_path)))
    db.upgrade()
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()
    assert sqlite3.connect(tmp_path / "painscope.db").execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_new_instance_folder_is_readable_by_its_owner_only(tmp_path):
    import os
    import stat

    folder = tmp_path / "instance"
    Database(database_url("", str(folder))).upgrade()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700  # the database holds health data
