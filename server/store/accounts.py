"""Users and API tokens: create, check, revoke. Passwords and tokens are stored hashed. No Flask here.

Passwords use Werkzeug's ``generate_password_hash`` (scrypt, salted). A token is
``ps_`` + 32 random bytes (URL-safe base64); only its SHA-256 is stored, which
is enough for a secret with 256 bits of entropy (no salt or slow hash needed:
nobody can guess it to test against the hash).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from server.store.db import ApiToken, Database, LoginSession, User, utcnow

TOKEN_PREFIX = "ps_"
TOKEN_BYTES = 32
SESSION_ID_BYTES = 32  # a login's id in the signed cookie: as unguessable as a token
GENERATED_PASSWORD_BYTES = 18  # 24 URL-safe characters: printed once for the first admin
MIN_PASSWORD_LENGTH = 10  # NIST SP 800-63B asks for at least 8; 10 leaves a margin
MAX_NAME_LENGTH = 80
FIRST_ADMIN = "admin"  # made on the first `make run` when there is no user at all
# A token's "last used" time is rewritten at most this often: a write per API call would
# cost a synced commit each, and a minute is precise enough to tell a token in use.
LAST_USED_RESOLUTION_S = 60.0


# A hash of no one's password, made once: an unknown name is checked against it, so a login for an unknown
# name costs one scrypt like a known name with a wrong password (issue 25: it hashed twice, 0.196 s against
# 0.100 s, and the difference told which names exist). Made at import, never in the first login's time.
_NOBODYS_HASH = generate_password_hash(secrets.token_urlsafe(GENERATED_PASSWORD_BYTES))


class AccountError(ValueError):
    """A request about accounts that cannot be done (message says why)."""


@dataclass(frozen=True)
class Account:
    """A logged-in person, detached from any database session."""

    id: int
    name: str
    is_admin: bool
    language: str | None = None  # chosen for pages and phrases; None: the browser's Accept-Language


def _account(user: User) -> Account:
    return Account(user.id, user.name, user.is_admin, user.language)


def set_language(db: Database, user_id: int, language: str | None) -> None:
    """Keep an account's language (a code the caller checked; None: follow the browser again)."""
    with db.session() as session:
        user = session.get(User, user_id)
        if user is not None:
            user.language = language


def generate_password() -> str:
    """A random password for an account made without one."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def check_name(name: str) -> str:
    """A user name stripped, 1 to MAX_NAME_LENGTH printable characters (no control characters: a name
    is shown in pages, logs and the audit log, where a NUL or an escape sequence would do harm)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise AccountError(f"A user name has 1 to {MAX_NAME_LENGTH} characters.")
    if not name.isprintable():
        raise AccountError("A user name may not contain control characters.")
    return name


def create_user(db: Database, name: str, password: str, admin: bool = False) -> Account:
    """A new user; the name must be free (whatever its case) and printable, and the password long enough."""
    name = check_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    with db.session() as session:
        # carol and Carol are one name (issue 25); migration 0008's index on lower(name) holds it under a race
        taken = session.scalar(select(User.name).where(func.lower(User.name) == name.lower()))
        if taken is not None:
            raise AccountError(f"There is already a user called {taken!r} (names are the same whatever their case).")
        user = User(name=name, password_hash=generate_password_hash(password), is_admin=admin)
        session.add(user)
        try:
            session.flush()
        except IntegrityError:  # the same name, in some case, made by a request that raced this one
            raise AccountError(f"There is already a user called {name!r}.") from None
        return _account(user)


def ensure_first_admin(db: Database) -> str | None:
    """With no user at all, create ``admin`` with a random password and return it (else None)."""
    if user_count(db) > 0:
        return None
    password = generate_password()
    create_user(db, FIRST_ADMIN, password, admin=True)
    return password


def user_count(db: Database) -> int:
    """How many users exist."""
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def authenticate(db: Database, name: str, password: str) -> Account | None:
    """The user with this name and password, or None."""
    with db.session() as session:
        user = session.scalar(select(User).where(User.name == name.strip()))
        if user is None:
            check_password_hash(_NOBODYS_HASH, password)  # the same work as for a known name
            return None
        return _account(user) if check_password_hash(user.password_hash, password) else None


def account_by_id(db: Database, user_id: int) -> Account | None:
    """The user with this id, or None."""
    with db.session() as session:
        user = session.get(User, user_id)
        return _account(user) if user is not None else None


def start_login_session(db: Database, user_id: int) -> str:
    """A new login of the user: its session id (kept in the signed cookie; only its SHA-256 is stored)."""
    sid = secrets.token_urlsafe(SESSION_ID_BYTES)
    with db.session() as session:
        session.add(LoginSession(user_id=user_id, sid_hash=_token_hash(sid)))
    return sid


def end_login_session(db: Database, sid: str) -> None:
    """Log out: the session id stops working at once (for every copy of the cookie)."""
    with db.session() as session:
        row = session.scalar(select(LoginSession).where(LoginSession.sid_hash == _token_hash(sid)))
        if row is not None and row.ended_at is None:
            row.ended_at = utcnow()


def account_for_login_session(db: Database, user_id: int, sid: str) -> Account | None:
    """The user of a login that has not ended, or None (unknown, ended, or another user's)."""
    with db.session() as session:
        row = session.scalar(select(LoginSession).where(LoginSession.sid_hash == _token_hash(sid)))
        if row is None or row.ended_at is not None or row.user_id != user_id:
            return None
        user = session.get(User, user_id)
        return _account(user) if user is not None else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, user_name: str, label: str = "") -> tuple[int, str]:
    """A new token for a user: (token id, the token). The token is shown once and stored hashed."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    with db.session() as session:
        user = session.scalar(select(User).where(User.name == user_name.strip()))
        if user is None:
            raise AccountError(f"There is no user called {user_name!r}.")
        row = ApiToken(user_id=user.id, name=label or user.name, token_hash=_token_hash(token))
        session.add(row)
        session.flush()
        return row.id, token


def revoke_token(db: Database, token_id: int) -> None:
    """Revoke a token by id; it stops working at once."""
    with db.session() as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise AccountError(f"There is no token {token_id}.")
        if row.revoked_at is None:
            row.revoked_at = utcnow()


def list_tokens(db: Database) -> list[dict[str, object]]:
    """Every token's id, owner, label and dates (never the token)."""
    with db.session() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
        return [
            {"id": r.id, "user": r.user.name, "label": r.name, "created_at": r.created_at,
             "revoked_at": r.revoked_at, "last_used_at": r.last_used_at}
            for r in rows
        ]


def account_for_token(db: Database, token: str) -> Account | None:
    """The owner of a valid (not revoked) token, or None; notes when it was used."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    with db.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
        if row is None or row.revoked_at is not None:
            return None
        now = utcnow()
        last = row.last_used_at
        if last is None or (now - _aware(last)).total_seconds() >= LAST_USED_RESOLUTION_S:
            row.last_used_at = now
        return _account(row.user)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back without their zone; they were stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
