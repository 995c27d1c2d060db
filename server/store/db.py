"""The database: SQLAlchemy 2 models and session handling. SQLite by default, PostgreSQL by URL.

Tables (the schema is created and upgraded by Alembic, ``server/migrations``):

- ``users``: clinicians and admins (passwords hashed, never stored);
- ``api_tokens``: Bearer tokens for devices and scripts (only a SHA-256 of each);
- ``login_sessions``: browser logins, ended at logout (only a SHA-256 of each session id);
- ``patients``: an identifier chosen by the ward, a display name, notes;
- ``assessments``: one upload or one live session, by whom, when, with what;
- ``readings``: the time series of an assessment (PSPI, level, AUs, heart rate, respiration rate);
- ``scale_assessments``: a clinical scale (PAINAD, CPOT, FLACC) completed by a clinician;
- ``fhir_outbox``: scale assessments waiting to be sent to a FHIR server (PAINSCOPE_FHIR_URL);
- ``audit_events``: who viewed, exported or changed which patient.

No Flask here: the web layer holds a :class:`Database` and asks it for sessions.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any, Iterator

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import NullPool

from server.config import private_file, private_folder

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"  # server/migrations, where Alembic keeps them
SQLITE_FILE = "painscope.db"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")  # what SQLite keeps beside the database file
# SQLite: WAL lets the page read while a live stream writes; synchronous=FULL makes
# every commit durable against power loss as well as a killed process (a reading a
# clinician was shown as recorded must survive); a busy writer is waited for, not failed.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=5000")


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC (stored as UTC everywhere)."""
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {dt.datetime: DateTime(timezone=True)}


class User(Base):
    """A person who logs in."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The language of the pages and phrases (a code of server/assess/catalogs.py); None: the browser's.
    language: Mapped[str | None] = mapped_column(String(8), default=None)


class ApiToken(Base):
    """A Bearer token; only its SHA-256 is kept, the token itself is shown once."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    user: Mapped[User] = relationship()


class LoginSession(Base):
    """One browser login. The signed cookie names it; logout ends it, so a copied cookie dies with it."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    sid_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Patient(Base):
    """A patient, known to the ward by its own identifier."""

    __tablename__ = "patients"
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)


class Assessment(Base):
    """One upload (photo or video) or one live session of a patient."""

    __tablename__ = "assessments"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(16))  # photo | video | live
    estimator: Mapped[str] = mapped_column(String(32))
    modalities: Mapped[list[str]] = mapped_column(JSON, default=list)  # face, rppg, ecg, body
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    readings: Mapped[list["Reading"]] = relationship(back_populates="assessment", order_by="Reading.t")


class Reading(Base):
    """One point of an assessment's time series (a photo has one; a live session one per second)."""

    __tablename__ = "readings"
    id: Mapped[int] = mapped_column(primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id", ondelete="CASCADE"), index=True)
    t: Mapped[dt.datetime] = mapped_column()  # wall-clock time of the reading (UTC)
    offset_s: Mapped[float] = mapped_column(Float)  # seconds from the start of the assessment
    pspi: Mapped[float | None] = mapped_column(Float, default=None)
    level: Mapped[str | None] = mapped_column(String(16), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    action_units: Mapped[dict[str, float] | None] = mapped_column(JSON, default=None)
    heart_rate_bpm: Mapped[float | None] = mapped_column(Float, default=None)
    heart_rate_quality: Mapped[str | None] = mapped_column(String(16), default=None)
    face_found: Mapped[bool] = mapped_column(Boolean, default=True)
    frames: Mapped[int] = mapped_column(Integer, default=1)  # frames summarised in this reading
    # Share of those frames in which a face was found (0-1); None for rows older than revision 0002.
    face_share: Mapped[float | None] = mapped_column(Float, default=None)
    # Breaths per minute measured by the camera in that second (revision 0005); None when not measured.
    respiration_rate_bpm: Mapped[float | None] = mapped_column(Float, default=None)
    assessment: Mapped[Assessment] = relationship(back_populates="readings")


class ScaleAssessment(Base):
    """A clinical pain scale completed for a patient: each item's score and who set it, the total, its band."""

    __tablename__ = "scale_assessments"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    scale: Mapped[str] = mapped_column(String(16))  # painad | cpot | flacc (server/pain/clinical/scales.py)
    # {item: {"value": 0-2, "source": "camera" | "clinician", "evidence": text or null}}
    items: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(16))
    context: Mapped[str] = mapped_column(String(16))  # rest | movement
    assessed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FhirOutbox(Base):
    """A saved scale assessment on its way to the FHIR server (PAINSCOPE_FHIR_URL): sent, or retried."""

    __tablename__ = "fhir_outbox"
    id: Mapped[int] = mapped_column(primary_key=True)
    scale_assessment_id: Mapped[int] = mapped_column(ForeignKey("scale_assessments.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class AuditEvent(Base):
    """Who did what to which patient, and when."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    action: Mapped[str] = mapped_column(String(32))  # view | export | create | change | record
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="SET NULL"), default=None, index=True
    )
    detail: Mapped[str] = mapped_column(Text, default="")


def database_url(setting: str, instance_dir: str) -> str:
    """The configured URL, or a SQLite file in the instance folder (folder 0700, file and its WAL 0600)."""
    if setting:
        return setting
    folder = private_folder(Path(instance_dir).resolve())
    # SQLite makes its -wal and -shm files with the database file's permissions, so a private database
    # file keeps them private too (issue 25: all three were 0644 in an existing folder).
    private_file(folder / SQLITE_FILE)
    for suffix in SQLITE_SIDE_FILES:
        side = folder / (SQLITE_FILE + suffix)
        if side.exists():
            private_file(side)
    return f"sqlite:///{folder / SQLITE_FILE}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


class Database:
    """An engine, a session factory and the schema upgrade for one database URL."""

    def __init__(self, url: str, pooled: bool = True) -> None:
        """``pooled=False``: a new connection per session, no connection pool (see :meth:`unpooled`)."""
        self.url = url
        if pooled:
            self.engine: Engine = create_engine(url, pool_pre_ping=True)
        else:
            self.engine = create_engine(url, poolclass=NullPool)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Made now, not on first use: first use may be on an OS thread, racing another.
        self._unpooled: Database = Database(url, pooled=False) if pooled else self

    def unpooled(self) -> "Database":
        """The same database without a connection pool, for work on a real OS thread (``server.offload``).

        Under eventlet the pool's locks are green locks, and a green lock that an
        OS thread (eventlet.tpool) and the event loop contend for hangs both. A
        session of this twin opens its own connection and closes it at the end:
        no lock is shared. It costs a connect per session (SQLite: a file open;
        PostgreSQL: a login), so use it for a write per second, not per frame.
        """
        return self._unpooled

    def upgrade(self) -> None:
        """Bring the schema to the newest Alembic revision (keeps the data)."""
        from alembic import command

        with self.engine.begin() as connection:
            config = alembic_config(self.url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._unpooled is not self:
            self._unpooled.dispose()


def alembic_config(url: str) -> Any:
    """An Alembic config for ``url`` with the migrations shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
