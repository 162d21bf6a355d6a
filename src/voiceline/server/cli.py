"""``voiceline serve`` and ``voiceline user``: run the server, manage who may use it."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from voiceline.cli import UserError
from voiceline.server.config import DEFAULT_DATA_DIR, STORE_FILE, ConfigError, load_config


def run_serve(args: argparse.Namespace) -> int:
    from voiceline.server.run import serve

    try:
        config = load_config(args.config, data_dir=args.data, host=args.host, port=args.port,
                             ingest_port=getattr(args, "ingest_port", None),
                             audiosocket_port=args.audiosocket_port)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    store, _ = _open(str(config.data_dir))  # a damaged or newer store: one line, not a
    store.close()                           # traceback from inside the server's start-up
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        logging.getLogger("voiceline.server").warning(
            "listening on %s: reachable from other machines; use TLS in front of it",
            config.host)
    ingest = (f", websocket ingest also on ws://{config.host}:{config.ingest_port}/ingest/..."
              if config.ingest_port else "")
    audiosocket = (f", AudioSocket on {config.host}:{config.audiosocket_port}"
                   if config.audiosocket_port else "")
    print(f"voiceline: serving http://{config.host}:{config.port}/ (data in "
          f"{config.data_dir}){ingest}{audiosocket}; Ctrl-C stops", file=sys.stderr)
    serve(config)
    return 0


def open_store(data: str | None):
    """The store in ``data`` (default :data:`DEFAULT_DATA_DIR`), made if new."""
    from voiceline.store import SchemaError, Store

    directory = Path(data) if data else DEFAULT_DATA_DIR
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return Store(directory / STORE_FILE)
    except SchemaError as exc:
        raise UserError(str(exc)) from None


def _open(data: str | None):
    from voiceline.auth import Auth

    store = open_store(data)
    return store, Auth(store)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UserError("the two passwords differ; nothing was changed")
    return password


def run_user(args: argparse.Namespace) -> int:
    from voiceline.auth import check_password_policy
    from voiceline.store import StoreError

    if getattr(args, "user_command", None) not in ("add", "token"):
        raise UserError("say what to do: 'voiceline user add NAME --role ROLE' or "
                        "'voiceline user token --ingest LABEL'")
    store, auth = _open(args.data)
    try:
        if args.user_command == "add":
            password = check_password_policy(_password(args))
            if args.role == "agent" and args.agent is not None and args.agent not in {
                    a["agent_id"] for a in store.list_agents()}:
                store.upsert_agent(args.agent)
                print(f"registered agent {args.agent}", file=sys.stderr)
            user = auth.add_user(args.name, args.role, password, args.agent)
            store.audit(None, "add_user", f"user:{user.name}",
                        {"role": user.role, "agent_id": user.agent_id, "via": "cli"})
            print(f"added user {user.name} ({user.role}"
                  f"{', agent ' + user.agent_id if user.agent_id else ''})")
        else:
            token = auth.issue_ingest_token(args.ingest)
            store.audit(None, "issue_ingest_token", None, {"label": args.ingest, "via": "cli"})
            print(token)
    except (StoreError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    return 0

