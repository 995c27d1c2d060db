"""``python -m server run``: serve PainScope with eventlet (pages, API, Socket.IO)."""
from __future__ import annotations

import eventlet

eventlet.monkey_patch()  # before anything else imports socket/threading

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m server", description="PainScope server")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="serve the app")
    run.add_argument("--host", help="interface to bind (default PAINSCOPE_HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="port (default PAINSCOPE_PORT / PORT or 5000)")
    args = parser.parse_args(argv)

    from server import create_app, socketio_of
    from server.config import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    settings = settings.replace(host=args.host or settings.host, port=args.port or settings.port)
    app = create_app(settings)
    print(f"PainScope on http://{settings.host}:{settings.port}", flush=True)
    socketio_of(app).run(app, host=settings.host, port=settings.port, log_output=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
