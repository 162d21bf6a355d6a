"""``voiceline serve`` and ``voiceline user``: run the server, manage who may use it."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import time
from pathlib import Path

from voiceline.cli import UserError, cli_user
from voiceline.server.config import (
    DEFAULT_DATA_DIR,
    LOCK_FILE,
    STORE_FILE,
    ConfigError,
    load_config,
)
from voiceline.spreadsheet import SafeWriter


def run_serve(args: argparse.Namespace) -> int:
    from voiceline.server.run import serve

    try:
        config = load_config(args.config, data_dir=args.data, host=args.host, port=args.port,
                             ingest_port=getattr(args, "ingest_port", None),
                             audiosocket_port=args.audiosocket_port,
                             tls_certfile=getattr(args, "tls_cert", None),
                             tls_keyfile=getattr(args, "tls_key", None))
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    from voiceline.server.run import check_ports_free, hold_data_dir

    try:  # before the store is touched: a second server once ended the first one's calls
        check_ports_free(config)
        hold_data_dir(Path(config.data_dir))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    store, _ = _open(str(config.data_dir))  # a damaged or newer store: one line, not a
    store.close()                           # traceback from inside the server's start-up
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.host not in ("127.0.0.1", "localhost", "::1") and not config.tls:
        logging.getLogger("voiceline.server").warning(
            "listening on %s without TLS: reachable from other machines; give it a "
            "certificate (--tls-cert, --tls-key) or put a TLS proxy in front of it",
            config.host)
    http = "https" if config.tls else "http"
    ws = "wss" if config.lean_ingest_tls else "ws"
    ingest = (f", websocket ingest also on {ws}://{config.host}:{config.ingest_port}/ingest/..."
              if config.ingest_port else "")
    audiosocket = (f", AudioSocket on {config.host}:{config.audiosocket_port} (plain TCP)"
                   if config.audiosocket_port else "")
    print(f"voiceline: serving {http}://{config.host}:{config.port}/ (data in "
          f"{config.data_dir}){ingest}{audiosocket}; Ctrl-C stops", file=sys.stderr)
    serve(config)
    return 0


def open_store(data: str | Path | None, *, migrate: bool = True):
    """The store in ``data`` (default :data:`DEFAULT_DATA_DIR`), made if new; with
    ``migrate=False`` an older store is left at its schema (see :class:`Store`).

    A command of a newer release upgrades an older store only while no server runs on
    it (that server, of the older release, would go on writing the old way and then
    refuse to start again); it says so on stderr, and where it kept the store as it was.
    An audit found ``voiceline user list`` upgrading the store of a running server.
    """
    from voiceline.store import SchemaError, Store

    directory = Path(data) if data else DEFAULT_DATA_DIR
    directory.mkdir(parents=True, exist_ok=True)

    def not_while_served(version: int) -> None:
        holder = served_by(directory)
        if holder:
            raise UserError(
                f"{directory / STORE_FILE} is at schema version {version}, written by an "
                f"older Voiceline, and a server runs on it ({holder}); this Voiceline "
                "would upgrade it under that server. Stop the server first, then start "
                "this release's `voiceline serve` (see *Upgrading* in the README)")

    try:
        store = Store(directory / STORE_FILE, migrate=migrate, before_upgrade=not_while_served)
    except SchemaError as exc:
        raise UserError(str(exc)) from None
    if store.upgraded:
        before, after, copy = store.upgraded
        print(f"voiceline: upgraded the store {directory / STORE_FILE} from schema version "
              f"{before} to {after}; the store as it was is kept as {copy} (what the "
              "release before this one reads)", file=sys.stderr)
        store.audit(cli_user(), "upgrade_store", "store",
                    {"from": before, "to": after, "kept": copy})
    return store


def served_by(directory: Path) -> str | None:
    """Who holds ``directory``'s server lock (``voiceline serve, pid N``), if another
    process does; None when no server runs on it."""
    import fcntl

    run = sys.modules.get("voiceline.server.run")  # loaded in a serving process only
    lock = directory / LOCK_FILE
    if (run is not None and run.holds_data_dir(directory)) or not lock.is_file():
        return None
    with open(lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return handle.read().strip() or "another process"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def existing_data_dir(data: str | None) -> Path:
    """The data directory ``data`` (default :data:`DEFAULT_DATA_DIR`), which must hold a
    store already: for commands that read one and must not make an empty one."""
    directory = Path(data) if data else DEFAULT_DATA_DIR
    if (directory / STORE_FILE).exists() and not (directory / STORE_FILE).is_file():
        raise UserError(f"{directory / STORE_FILE} is not a file; a data directory holds "
                        f"its store as the file {STORE_FILE}")
    if not (directory / STORE_FILE).is_file():
        raise UserError(f"no store in {directory} ({STORE_FILE} is missing); name the data "
                        "directory with --data")
    return directory


def _open(data: str | None):
    from voiceline.auth import Auth

    store = open_store(data)
    return store, Auth(store)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        try:
            password = getpass.getpass(f"password for {args.name}: ")
            if getpass.getpass("again: ") != password:
                raise UserError("the two passwords differ; nothing was changed")
        except EOFError:  # no terminal, or Ctrl-D
            raise UserError("no password was typed; give it on standard input with "
                            "--password-stdin") from None
    return password


USER_ACTIONS = ("add", "list", "password", "disable", "enable", "token", "tokens", "revoke")


def run_user(args: argparse.Namespace) -> int:
    from voiceline.store import StoreError

    action = getattr(args, "user_command", None)
    if action not in USER_ACTIONS:
        raise UserError("say what to do: 'voiceline user ACTION', ACTION one of "
                        f"{', '.join(USER_ACTIONS)} ('voiceline user -h' explains each)")
    if action not in ("add", "token"):  # a mistyped --data must not make an empty store
        existing_data_dir(args.data)
    store, auth = _open(args.data)
    try:
        return _USER_ACTIONS[action](args, store, auth)
    except (StoreError, ValueError) as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()


def _user_add(args, store, auth) -> int:
    from voiceline.auth import check_password_policy

    if args.agent is not None:
        from emotion.baseline import check_agent_id

        check_agent_id(args.agent)  # before the password is asked for; status 2
    from voiceline.directory import agent_reuse, reuse_message

    password = check_password_policy(_password(args))
    if args.role == "agent" and args.agent is not None and args.agent not in {
            a["agent_id"] for a in store.list_agents()}:
        store.upsert_agent(args.agent)
        print(f"registered agent {args.agent}", file=sys.stderr)
    reuse = agent_reuse(store, args.agent) if args.role == "agent" and args.agent else None
    user = auth.add_user(args.name, args.role, password, args.agent)
    store.audit(cli_user(), "add_user", f"user:{user.name}",
                {"role": user.role, "agent_id": user.agent_id, "via": "cli",
                 **({"new_tenure": reuse["retired"], "earlier_users": reuse["holders"]}
                    if reuse else {})})
    print(f"added user {user.name} ({user.role}"
          f"{', agent ' + user.agent_id if user.agent_id else ''})")
    message = reuse and reuse_message(user.agent_id, reuse)
    if message:
        print(message, file=sys.stderr)
    return 0


def _user_list(args, store, auth) -> int:
    out = SafeWriter(sys.stdout, lineterminator="\n")
    out.writerow(["name", "role", "agent_id", "created", "status"])
    for user in store.list_users():
        status = "enabled" if user["disabled_s"] is None else \
            f"disabled since {_local(user['disabled_s'])}"
        out.writerow([user["name"], user["role"], user["agent_id"] or "",
                      _local(user["created_s"]), status])
    return 0


def _user_password(args, store, auth) -> int:
    from voiceline.auth import check_password_policy

    user = store.get_user(args.name)  # unknown: said before the password is asked for
    password = check_password_policy(_password(args))
    revoked = store.set_password_hash(user["id"], auth.hash_password(password))
    store.audit(cli_user(), "reset_password", f"user:{user['name']}",
                {"revoked_sessions": revoked, "via": "cli"})
    print(f"new password for {user['name']}; {_sessions(revoked)} signed out")
    return 0


def _user_disable(args, store, auth) -> int:
    from voiceline.server.admin import set_disabled

    disable = args.user_command == "disable"
    user = set_disabled(store, cli_user(), args.name, disable, "cli")
    if disable:
        print(f"disabled {user['name']}: sign-in refused, {_sessions(user['revoked_sessions'])} "
              "signed out (open dashboards close within 30 s)")
    else:
        print(f"enabled {user['name']}: they sign in with the password they had")
    return 0


def _user_token(args, store, auth) -> int:
    token = auth.issue_ingest_token(args.ingest)
    store.audit(cli_user(), "issue_ingest_token", None, {"label": args.ingest, "via": "cli"})
    print(token)
    return 0


def _user_tokens(args, store, auth) -> int:
    out = SafeWriter(sys.stdout, lineterminator="\n")
    out.writerow(["id", "label", "created", "expires", "status"])
    for token in store.list_tokens(kind="ingest", include_revoked=True):
        if token["revoked_s"] is not None:
            status = f"revoked {_local(token['revoked_s'])}"
        elif token["expires_s"] is not None and token["expires_s"] <= time.time():
            status = "expired"
        else:
            status = "valid"
        out.writerow([token["id"], token["label"], _local(token["created_s"]),
                      _local(token["expires_s"]) if token["expires_s"] else "never", status])
    return 0


def _user_revoke(args, store, auth) -> int:
    from voiceline.server.admin import revoke_ingest

    token = revoke_ingest(store, cli_user(), args.token_id, "cli")
    if token["revoked"]:
        print(f"revoked ingest token {token['id']} ({token['label']}): refused from now on; a "
              "running server closes the connections using it within 10 s")
    else:
        print(f"ingest token {token['id']} ({token['label']}) was already revoked")
    return 0


_USER_ACTIONS = {"add": _user_add, "list": _user_list, "password": _user_password,
                 "disable": _user_disable, "enable": _user_disable, "token": _user_token,
                 "tokens": _user_tokens, "revoke": _user_revoke}


def _sessions(n: int) -> str:
    return f"{n} session{'s' if n != 1 else ''}"


def _local(time_s: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(time_s))
