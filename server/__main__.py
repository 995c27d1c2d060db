"""``python -m server``: ``run`` serves PainScope with eventlet; ``users`` and ``tokens`` manage accounts."""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # before anything else imports socket/threading

import argparse  # noqa: E402
import getpass  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m server", description="PainScope server")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the app")
    run.add_argument("--host", help="interface to bind (default PAINSCOPE_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default PAINSCOPE_PORT / PORT or 5000)")
    users = commands.add_parser("users", help="manage user accounts").add_subparsers(dest="action", required=True)
    create_user = users.add_parser("create", help="create a user")
    create_user.add_argument("name")
    create_user.add_argument("--admin", action="store_true", help="may create users")
    create_user.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    users.add_parser("list", help="list users")
    tokens = commands.add_parser("tokens", help="manage API tokens").add_subparsers(dest="action", required=True)
    create_token = tokens.add_parser("create", help="create a token for a user (printed once)")
    create_token.add_argument("name", help="the user the token acts as")
    create_token.add_argument("--label", default="", help="what the token is for (e.g. ward-3 tablet)")
    revoke = tokens.add_parser("revoke", help="revoke a token")
    revoke.add_argument("id", type=int, help="the token's id (printed at creation, or by 'tokens list')")
    tokens.add_parser("list", help="list tokens (never the tokens themselves)")
    args = parser.parse_args(argv)

    from server.config import Settings

    settings = Settings.from_env()
    if args.command == "run":
        return _run(settings.replace(host=args.host or settings.host, port=args.port or settings.port))
    return _accounts(settings, args)


def _run(settings: Any) -> int:
    from server import create_app, socketio_of
    from server.vision.face_model import FaceModelMissing

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except FaceModelMissing as problem:  # a clear start-up message, never a silent fallback
        print(f"PainScope cannot start: {problem}", file=sys.stderr, flush=True)
        return 2
    _first_admin(app.extensions["painscope"].db)
    print(f"PainScope on http://{settings.host}:{settings.port}", flush=True)
    socketio_of(app).run(app, host=settings.host, port=settings.port, log_output=False)
    return 0


def _first_admin(db: Any) -> None:
    """With no user at all, make the first admin and print its password once."""
    from server.store.accounts import FIRST_ADMIN, ensure_first_admin

    password = ensure_first_admin(db)
    if password is not None:
        print(f"Created the first account: name '{FIRST_ADMIN}', password '{password}'. "
              "It is shown only now; change it by creating your own admin account.", flush=True)


def _accounts(settings: Any, args: argparse.Namespace) -> int:
    from server.store.accounts import AccountError, create_token, create_user, list_tokens, revoke_token
    from server.services import open_database

    db = open_database(settings)
    try:
        if args.command == "users" and args.action == "create":
            create_user(db, args.name, _password(args.password_stdin), admin=args.admin)
            print(f"Created user {args.name!r}{' (admin)' if args.admin else ''}.")
        elif args.command == "users":
            from sqlalchemy import select

            from server.store.db import User

            with db.session() as session:
                for user in session.scalars(select(User).order_by(User.id)):
                    print(f"{user.id}\t{user.name}\t{'admin' if user.is_admin else 'user'}")
        elif args.action == "create":
            token_id, token = create_token(db, args.name, args.label)
            print(f"Token {token_id} for {args.name!r} (shown only now, keep it safe):\n{token}")
        elif args.action == "revoke":
            revoke_token(db, args.id)
            print(f"Token {args.id} revoked.")
        else:
            for row in list_tokens(db):
                state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
                print(f"{row['id']}\t{row['user']}\t{row['label']}\t{state}")
    except AccountError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


def _password(from_stdin: bool) -> str:
    """The new user's password: one line of standard input, or asked twice at the terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("error: the passwords differ")
    return first


if __name__ == "__main__":
    sys.exit(main())
