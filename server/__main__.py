"""``python -m server``: ``run`` serves PainScope with eventlet; ``users`` and ``tokens`` manage accounts."""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # before anything else imports socket/threading

import argparse  # noqa: E402
import getpass  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


# SIGTERM's grace: ending the streams takes a commit each; systemd and the tests' ServerProcess wait 10 s
# before SIGKILL, so this leaves them time to see a clean exit.
SHUTDOWN_TIMEOUT_S = 5.0
SIGNAL_POLL_S = 0.2  # how soon a stop signal is acted on


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
    db = app.extensions["painscope"].db
    _first_admin(db)
    if settings.end_open_assessments_at_start:
        _end_open_assessments(db)
    if settings.fhir_url:
        _push_fhir_forever(db, settings)
    socketio = socketio_of(app)
    _stop_cleanly_on((signal.SIGTERM, signal.SIGINT), socketio)
    tls: dict[str, str] = {}
    if settings.tls:
        for path in (settings.tls_cert, settings.tls_key):
            if not os.path.isfile(path):
                print(f"PainScope cannot start: no TLS file {path}", file=sys.stderr, flush=True)
                return 2
        tls = {"certfile": settings.tls_cert, "keyfile": settings.tls_key}
        if settings.http_redirect_port:
            _serve_redirect(settings.host, settings.http_redirect_port, settings.port)
    scheme = "https" if tls else "http"
    print(f"PainScope on {scheme}://{settings.host}:{settings.port}", flush=True)
    socketio.run(app, host=settings.host, port=settings.port, log_output=False, **tls)
    return 0


def _push_fhir_forever(db: Any, settings: Any) -> None:
    """Every ``fhir_poll_s``, send the FHIR outbox's due scale assessments (server/assess/fhir_push.py)."""
    from server.assess.fhir_push import FhirPusher

    pusher = FhirPusher(db, settings.fhir_url, settings.fhir_timeout_s)

    def loop() -> None:
        while True:
            try:
                pusher.run_once()
            except Exception:  # the database away for a moment: try again at the next poll
                logging.getLogger(__name__).exception("FHIR outbox not sent this time")
            eventlet.sleep(settings.fhir_poll_s)

    eventlet.spawn(loop)
    print(f"PainScope sends saved scale assessments to {settings.fhir_url}", flush=True)


def _serve_redirect(host: str, port: int, https_port: int) -> None:
    """Plain HTTP on ``port``, every request redirected to HTTPS on ``https_port`` (server/web/security/https.py)."""
    from eventlet import wsgi

    from server.web.security.https import redirect_to_https

    listener = eventlet.listen((host, port))
    eventlet.spawn(wsgi.server, listener, redirect_to_https(https_port), log_output=False)
    print(f"PainScope redirects http://{host}:{port} to HTTPS", flush=True)


def _end_open_assessments(db: Any) -> None:
    """Assessments a killed server left open are ended where their record ends (docs/user-guide.md "Patient records")."""
    from server.store.records import end_open_assessments

    ended = end_open_assessments(db)
    if ended:
        logging.getLogger("server").warning("%d assessment(s) left open by the last run marked ended", ended)


def _stop_cleanly_on(signals: tuple[int, ...], socketio: Any) -> None:
    """On these signals, end every live stream (each recorded one commits its last second and ends its
    assessment), then exit. The handler only schedules the work: it may interrupt the event loop itself,
    where nothing may wait."""
    log = logging.getLogger("server")
    stopping: list[bool] = []

    def shut_down() -> None:
        from server.web.routes.live import close_live_streams

        try:
            with eventlet.Timeout(SHUTDOWN_TIMEOUT_S):
                close_live_streams(socketio)
        except BaseException:  # noqa: BLE001 - a stuck close must not keep the server from stopping
            log.exception("live streams not all closed at shutdown")
        log.info("stopped")
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)  # every commit is already durable; nothing else needs an orderly exit

    def on_signal(signum: int, _frame: Any) -> None:
        if not stopping:
            stopping.append(True)
            log.info("signal %d: closing live streams, then stopping", signum)

    def watch() -> None:
        # Polled, not spawned from the handler: a signal that arrives while the event loop waits in
        # epoll resumes that wait (PEP 475), so a greenlet spawned there would wait for the next event.
        while not stopping:
            eventlet.sleep(SIGNAL_POLL_S)
        shut_down()

    for signum in signals:
        signal.signal(signum, on_signal)
    eventlet.spawn(watch)


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
