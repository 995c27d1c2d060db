"""Scale assessments stored on SQLite and PostgreSQL (server/store/scale_records.py), CSV and reassessment."""
from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.problems import InputProblem
from server.store import records
from server.store.accounts import create_user
from server.store.db import Base, Database, alembic_config, database_url
from server.store.scale_records import (
    list_scale_assessments, reassessment, record_scale_assessment, scale_csv,
)
from tests.postgres_server import postgres_server

PAINAD_SEVERE = {"breathing": 2, "vocalization": 1, "face": {"value": 2, "source": "camera", "evidence": "AU4 2.0"},
                 "body_language": 1, "consolability": 1}
T0 = dt.datetime(2026, 12, 6, 8, 0, tzinfo=dt.timezone.utc)
INTERVAL = dt.timedelta(minutes=30)


@pytest.fixture(scope="module")
def postgres():
    with postgres_server() as server:
        yield server


@pytest.fixture(params=("sqlite", "postgresql"))
def db(request, tmp_path):
    url = database_url("", str(tmp_path)) if request.param == "sqlite" else request.getfixturevalue("postgres").new_database()
    database = Database(url)
    database.upgrade()
    yield database
    database.dispose()


def _patient(db) -> tuple[int, int]:
    user = create_user(db, "nurse", "a long enough password")
    return records.create_patient(db, "bed-4", "Test Patient").id, user.id


def test_a_completed_scale_is_stored_with_sources_total_band_and_context(db):
    patient_id, user_id = _patient(db)
    saved = record_scale_assessment(db, patient_id, user_id, "painad", PAINAD_SEVERE, "movement", T0)
    assert (saved.total, saved.band, saved.context, saved.user) == (7, "severe", "movement", "nurse")
    assert saved.items["face"] == {"value": 2, "source": "camera", "evidence": "AU4 2.0"}
    assert saved.items["breathing"] == {"value": 2, "source": "clinician", "evidence": None}
    record_scale_assessment(db, patient_id, user_id, "CPOT", dict.fromkeys(("face", "body_movements",
                            "ventilator_or_vocalization", "muscle_tension"), 0), "rest", T0 + INTERVAL)
    listed = list_scale_assessments(db, patient_id)
    assert [(a.scale, a.total, a.band) for a in listed] == [("painad", 7, "severe"), ("cpot", 0, "none")]
    assert listed[0].assessed_at == T0
    assert any("PAINAD 7" in e.detail for e in records.list_audit(db, patient_id))
    text = scale_csv(listed)
    assert text.splitlines()[0] == "time,scale,total,band,context,user,items"
    assert "face=2(camera)" in text.splitlines()[1]


def test_bad_forms_are_refused_and_nothing_is_stored(db):
    patient_id, user_id = _patient(db)
    for scale, items, context, code in [
        ("nrs", PAINAD_SEVERE, "rest", "unknown_scale"),
        ("painad", {**PAINAD_SEVERE, "breathing": 3}, "rest", "scale_value_out_of_range"),
        ("painad", {k: v for k, v in PAINAD_SEVERE.items() if k != "breathing"}, "rest", "scale_incomplete"),
        ("painad", PAINAD_SEVERE, "sitting", "bad_parameter"),
        ("painad", {**PAINAD_SEVERE, "face": {"value": 1, "source": "robot"}}, "rest", "bad_parameter"),
    ]:
        with pytest.raises(InputProblem) as caught:
            record_scale_assessment(db, patient_id, user_id, scale, items, context)
        assert caught.value.code == code
    with pytest.raises(InputProblem) as caught:
        record_scale_assessment(db, 999, user_id, "painad", PAINAD_SEVERE, "rest")
    assert caught.value.code == "patient_not_found"
    assert list_scale_assessments(db, patient_id) == []


def test_reassessment_is_scheduled_then_due_then_overdue_and_cleared_by_a_new_one(db):
    patient_id, user_id = _patient(db)
    assert reassessment([], INTERVAL, T0) is None
    record_scale_assessment(db, patient_id, user_id, "flacc", {"face": 2, "legs": 2, "activity": 0, "cry": 0,
                            "consolability": 0}, "rest", T0)
    listed = list_scale_assessments(db, patient_id)
    assert reassessment(listed, INTERVAL, T0 + dt.timedelta(minutes=29)).state == "scheduled"
    assert reassessment(listed, INTERVAL, T0 + INTERVAL).state == "due"
    assert reassessment(listed, INTERVAL, T0 + 2 * INTERVAL).state == "overdue"
    record_scale_assessment(db, patient_id, user_id, "flacc", dict.fromkeys(("face", "legs", "activity", "cry",
                            "consolability"), 0), "rest", T0 + 2 * INTERVAL)
    assert reassessment(list_scale_assessments(db, patient_id), INTERVAL, T0 + 3 * INTERVAL) is None


def test_the_migrations_create_the_tables_the_models_describe(tmp_path):
    url = database_url("", str(tmp_path))
    command.upgrade(alembic_config(url), "head")
    database = Database(url)
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert [d for d in diff if "scale_assessments" in repr(d)] == []
