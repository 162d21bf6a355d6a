"""Settings of ``voiceline serve``: command line, an optional TOML file, and the data directory.

The data directory (``--data``, default :data:`DEFAULT_DATA_DIR`) holds everything the
server keeps::

    <data>/voiceline.db          the store (SQLite, WAL: also voiceline.db-wal, -shm)
    <data>/baselines/<agent>.json  per-agent 8 kHz voice baselines (voiceline calibrate
                                   --out <data>/baselines)

The TOML file (``--config``) has three optional tables; anything left out keeps its
default, an unknown key is an error that names it::

    [server]
    data_dir = "voiceline-data"      # --data wins over it
    host = "127.0.0.1"
    port = 8080
    ingest_port = 8081               # lean websocket ingest; 0: none (the HTTP port has it too)
    audiosocket_port = 9092          # the default; 0: no AudioSocket listener
    audiosocket_require_binding = true   # false: unbound UUIDs become seats as-<8 hex>
    max_message_bytes = 131072       # websocket frames; the parsers have their own limits
    dashboard_queue = 256            # messages a dashboard may lag before it is dropped
    snapshot_interval_s = 1.0
    seat_history_s = 600.0           # snapshot points kept per seat for the seat detail
    summary_retention_days = 400     # per-call voice summaries kept for agents' reports
    record_retention_days = 0        # calls with their alerts, inspected recordings' results
                                     # and verdicts; 0 keeps them all
    audit_retention_days = 0         # the audit log; 0 keeps it all
    session_ttl_s = 43200
    audiosocket_binding_ttl_s = 3600
    max_connections = 2000           # per listening port; further connections are refused
    handshake_timeout_s = 10.0       # to send a request / start the call after connecting
    ingest_idle_timeout_s = 60.0     # a live call's stream silent this long is closed
    engine_mode = "process"          # the engine in a child process (a core of its own);
                                     # "thread": in the server's process, sharing its GIL
    tls_certfile = ""                # PEM certificate chain: the HTTP and lean ingest ports
    tls_keyfile = ""                 # speak TLS (https://, wss://); both or neither
    ingest_tls = true                # false: the lean ingest port stays plain ws:// (a PBX
                                     # network), the HTTP port still TLS
    forwarded_allow_ips = "127.0.0.1"    # proxies whose X-Forwarded-For/-Proto are believed

    [engine]
    tick_s = 0.25
    jitter_s = 0.5
    max_backlog_s = 2.0
    group_size = 64
    model = "models/voice_scoring.onnx"   # default: the shipped model

    [alerts]                         # emotion.alerts.AlertConfig.from_dict
    max_silence_s = 20.0
    [alerts.agitation]
    warning = 0.7
    dwell_s = 4.0
"""

from __future__ import annotations

import math
import ssl
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from voiceline.server.tls import TLSError, check_forwarded_allow_ips, server_context

DEFAULT_DATA_DIR = Path("voiceline-data")
"""Where the store and baselines live when ``--data`` is not given (relative to the
working directory, so that a first try leaves everything in one visible folder)."""
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_INGEST_PORT = 8081
DEFAULT_AUDIOSOCKET_PORT = 9092
ENGINE_MODES = ("process", "thread")
MAX_TIMEOUT_S = 86400.0
STORE_FILE = "voiceline.db"
LOCK_FILE = "voiceline.lock"  # held by the server running on a data directory
BASELINES_DIR = "baselines"
ENGINE_FS_HZ = 8000
"""The live engine's rate: 16 kHz streams are resampled to it on arrival."""


class ConfigError(ValueError):
    """A setting is unknown or out of range; the message names it."""


@dataclass(frozen=True)
class EngineSettings:
    """Arguments of :class:`emotion.engine.LiveEngine` (see there)."""

    tick_s: float = 0.25
    jitter_s: float = 0.5
    max_backlog_s: float = 2.0
    group_size: int = 64
    model: str | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Everything ``voiceline serve`` needs; build with :func:`load_config`.

    Attributes
    ----------
    data_dir : Path
        Store and baselines (see the module docstring).
    host, port : str, int
        Where HTTP and websockets listen; 127.0.0.1 by default, so nothing outside the
        machine reaches the server unless asked to.
    ingest_port : int or None
        Port of the lean websocket ingest listener on ``host`` (default 8081): the
        ``/ingest/audiofork`` and ``/ingest/twilio`` endpoints without the web
        framework, several times cheaper per message (:mod:`voiceline.server.lean_ingest`);
        None for none. The HTTP port serves the same endpoints as well.
    audiosocket_port : int or None
        TCP port of the AudioSocket listener on ``host`` (default 9092, the port
        ``voiceline simulate`` and the Asterisk examples use); None for none.
    audiosocket_require_binding : bool
        Refuse AudioSocket calls whose UUID was not bound through the REST API first
        (the default). AudioSocket itself carries no credentials, so with false anyone
        who reaches the port can add seats (``as-<8 hex>``, one per call, judged against
        the population baseline): a choice for a trial on a closed network only.
    max_message_bytes : int
        Largest websocket message accepted (the websocket layer closes with 1009).
    dashboard_queue : int
        Messages a dashboard may fall behind before it is dropped ("too slow").
    snapshot_interval_s : float
        Period of the ``seats`` message to dashboards.
    seat_history_s : float
        How far back ``GET /api/seats/{id}/history`` reaches: each seat keeps the last
        ``seat_history_s / snapshot_interval_s`` snapshot points in memory.
    session_ttl_s : float
        Lifetime of a login.
    summary_retention_days : float
        How long the per-call voice summaries behind agents' reports are kept (live and
        pre-inspected calls); older ones are deleted at start and hourly.
    record_retention_days : float
        How long ended calls (with their alerts and alert events) and inspected
        recordings' results (with their flags and verdicts) are kept; older ones are
        deleted at start and hourly. 0 (the default) keeps everything: a hotline's
        record-keeping rules decide.
    audit_retention_days : float
        The same for the audit log (0: kept for ever). Session tokens that ended more
        than 30 days ago are always deleted.
    audiosocket_binding_ttl_s : float
        How long an unused AudioSocket binding is kept.
    max_connections : int
        Open connections each listening port (HTTP, lean ingest, AudioSocket) keeps at
        most; one more is closed as it arrives and counted
        (``voiceline_connections_refused_total{reason="limit"}``). Bounds the file
        descriptors a flood of sockets can take from the seats already streaming.
    handshake_timeout_s : float
        A connection must send its first HTTP request (the websocket upgrade, for a
        socket) within this, and an ingest connection must also start its call within
        this of opening (or of its previous call's end); else it is closed.
    ingest_idle_timeout_s : float
        An ingest connection whose call sends nothing for this long is closed and its
        call ended ("no data for 60 s"). Telephony streams send a frame every 20 ms,
        silence included, so only a stalled or abandoned stream reaches it (raise it
        for a PBX that stops a fork's media during long holds).
    engine_mode : str
        ``"process"`` (default): the engine ticks in a child process
        (:mod:`voiceline.server.engine_process`), so ingest and analysis each get a
        core instead of sharing one interpreter lock; a crashed child is replaced and
        its calls re-opened. ``"thread"``: the engine ticks in a thread of the server's
        own process (:mod:`voiceline.server.engine_runner`): one process, fewer seats.
    tls_certfile, tls_keyfile : str
        PEM certificate chain and its private key; both set, the HTTP port and the lean
        ingest port speak TLS (``https://``, ``wss://``), TLS 1.2 or later. Empty (the
        default): plain HTTP, for the loopback or behind a TLS proxy. AudioSocket has
        no TLS (:mod:`voiceline.server.tls`).
    ingest_tls : bool
        With TLS on, whether the lean ingest port speaks it too (the default). TLS costs
        the event loop about half as much again per ingest message (RESULTS.md,
        fourteenth round), so a site whose PBX reaches the server over its own network
        may keep that port plain (``ws://``) while the console and API stay on HTTPS.
    forwarded_allow_ips : str
        Comma-separated addresses and networks of proxies in front of the server, whose
        ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed: the sign-in throttle
        and the audit log then see the client's address, not the proxy's. Default
        ``127.0.0.1`` (a proxy on this machine); ``""`` believes none, ``"*"`` every
        address (only where nothing else can reach the port).
    engine : EngineSettings
    alerts : dict
        The ``[alerts]`` table, for ``AlertConfig.from_dict``.
    password_hasher : argon2.PasswordHasher or None
        Only for tests (a cheap hasher); no file or flag can set it.
    """

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    ingest_port: int | None = DEFAULT_INGEST_PORT
    audiosocket_port: int | None = DEFAULT_AUDIOSOCKET_PORT
    audiosocket_require_binding: bool = True
    max_message_bytes: int = 128 * 1024
    dashboard_queue: int = 256
    snapshot_interval_s: float = 1.0
    seat_history_s: float = 600.0
    session_ttl_s: float = 12 * 3600.0
    summary_retention_days: float = 400.0
    record_retention_days: float = 0.0
    audit_retention_days: float = 0.0
    audiosocket_binding_ttl_s: float = 3600.0
    max_connections: int = 2000
    handshake_timeout_s: float = 10.0
    ingest_idle_timeout_s: float = 60.0
    engine_mode: str = "process"
    tls_certfile: str = ""
    tls_keyfile: str = ""
    ingest_tls: bool = True
    forwarded_allow_ips: str = "127.0.0.1"
    engine: EngineSettings = EngineSettings()
    alerts: dict = field(default_factory=dict)
    password_hasher: Any = None

    @property
    def tls(self) -> bool:
        """Whether the HTTP port speaks TLS."""
        return bool(self.tls_certfile)

    @property
    def lean_ingest_tls(self) -> bool:
        """Whether the lean ingest port speaks TLS."""
        return self.tls and self.ingest_tls

    def ssl_context(self) -> ssl.SSLContext | None:
        """The server's TLS context (None without TLS); :class:`ConfigError` if the
        files cannot be used."""
        if not self.tls:
            return None
        try:
            return server_context(self.tls_certfile, self.tls_keyfile)
        except TLSError as exc:
            raise ConfigError(f"tls: {exc}") from None

    @property
    def store_path(self) -> Path:
        return Path(self.data_dir) / STORE_FILE

    @property
    def baselines_dir(self) -> Path:
        return Path(self.data_dir) / BASELINES_DIR

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append(f"port must be 0-65535, got {self.port}")
        for name in ("ingest_port", "audiosocket_port"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 65535:
                problems.append(f"{name} must be 0-65535, got {value}")
        # Two listeners on one port: the second failed after the first had started (a
        # traceback, exit 3); said now, before anything binds. 0 means "any free port".
        chosen = {}
        for name in ("port", "ingest_port", "audiosocket_port"):
            value = getattr(self, name)
            if value:
                if value in chosen:
                    problems.append(f"{name} {value} is also the {chosen[value]}; give each "
                                    "listener a port of its own")
                chosen.setdefault(value, name)
        if self.max_message_bytes < 4096:
            problems.append(f"max_message_bytes must be >= 4096, got {self.max_message_bytes}")
        if self.max_connections < 1:
            problems.append(f"max_connections must be >= 1, got {self.max_connections}")
        if self.dashboard_queue < 2:
            problems.append(f"dashboard_queue must be >= 2, got {self.dashboard_queue}")
        for name in ("snapshot_interval_s", "seat_history_s", "session_ttl_s",
                     "audiosocket_binding_ttl_s", "summary_retention_days"):
            if not 0 < getattr(self, name) < math.inf:  # inf overflowed at start-up
                problems.append(f"{name} must be > 0 and finite, got {getattr(self, name)}")
        for name in ("record_retention_days", "audit_retention_days"):
            if not 0 <= getattr(self, name) < math.inf:
                problems.append(f"{name} must be >= 0 (0 keeps everything), got "
                                f"{getattr(self, name)}")
        for name in ("handshake_timeout_s", "ingest_idle_timeout_s"):
            if not 0 < getattr(self, name) <= MAX_TIMEOUT_S:
                problems.append(f"{name} must be > 0 and <= {MAX_TIMEOUT_S:g} s, got "
                                f"{getattr(self, name)}")
        if self.engine_mode not in ENGINE_MODES:
            problems.append(f"engine_mode must be one of {', '.join(ENGINE_MODES)}, got "
                            f"{self.engine_mode!r}")
        if bool(self.tls_certfile) != bool(self.tls_keyfile):
            problems.append("tls_certfile and tls_keyfile go together: set both (TLS) or "
                            "neither (plain HTTP)")
        forwarded = check_forwarded_allow_ips(self.forwarded_allow_ips)
        if forwarded:
            problems.append(forwarded)
        e = self.engine
        if not (0 < e.tick_s < math.inf and 0 <= e.jitter_s < math.inf
                and 0 < e.max_backlog_s < math.inf and e.group_size >= 1):
            problems.append(f"engine settings out of range (finite, tick_s and max_backlog_s "
                            f"> 0): {e}")
        if e.model is not None and not Path(e.model).is_file():  # a traceback at start-up
            problems.append(f"[engine] model {e.model}: no such file (paths are relative to "
                            "the working directory)")
        if problems:
            raise ConfigError("; ".join(problems))
        self.ssl_context()  # a certificate that cannot be used stops the server here


_SERVER_KEYS = {f.name for f in fields(ServerConfig)} - {"engine", "alerts", "password_hasher"}
_ENGINE_KEYS = {f.name for f in fields(EngineSettings)}


def _table(doc: dict, name: str, known: set[str], where: str) -> dict:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(f'{name}.{k}' for k in unknown)}"
                          f"; known: {', '.join(sorted(known))}")
    return table


def load_config(path: str | Path | None = None, **overrides: Any) -> ServerConfig:
    """Settings from an optional TOML file, then ``overrides`` (command-line flags).

    ``overrides`` whose value is None are ignored, so that argparse defaults of None
    leave the file's values alone. The ``[alerts]`` table is checked here too, so a bad
    threshold stops the server before it binds a port.

    Raises
    ------
    ConfigError
        Unreadable file, unknown key, or a value out of range.
    """
    doc: dict = {}
    where = str(path) if path else "settings"
    if path is not None:
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{path} is not valid TOML: nested too deeply") from None
    unknown = sorted(set(doc) - {"server", "engine", "alerts"})
    if unknown:
        raise ConfigError(f"{where}: unknown table(s) {', '.join(unknown)}; known: server, "
                          "engine, alerts")
    server = _table(doc, "server", _SERVER_KEYS, where)
    engine = _table(doc, "engine", _ENGINE_KEYS, where)
    for name, table, cls in (("server", server, ServerConfig), ("engine", engine,
                                                                EngineSettings)):
        for key, value in table.items():
            _check_type(f"{where}: {name}.{key}", value, getattr(cls, key, None))
    alerts = doc.get("alerts", {})
    check_alerts(alerts, where)
    settings = dict(server)
    for key, value in overrides.items():
        if value is not None:
            settings[key] = value
    for name in ("ingest_port", "audiosocket_port"):
        if settings.get(name) == 0:
            settings[name] = None
    try:
        return ServerConfig(engine=EngineSettings(**engine), alerts=dict(alerts), **settings)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_type(what: str, value: object, default: object) -> None:
    """Refuse a value of another type than the setting's default (TOML has types)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int | float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (isinstance(default, float) or isinstance(value, int))
    else:  # strings and paths; None defaults (engine.model) take a string
        ok = isinstance(value, str)
    if not ok:
        kind = "true or false" if isinstance(default, bool) else (
            "a whole number" if isinstance(default, int) else
            "a number" if isinstance(default, float) else "a string")
        raise ConfigError(f"{what} must be {kind}, got {value!r}")


def check_alerts(alerts: object, where: str = "settings") -> None:
    """Raise :class:`ConfigError` when the ``[alerts]`` table would not load."""
    from emotion.alerts import AlertConfig, AlertConfigError

    try:
        AlertConfig.from_dict(alerts)  # type: ignore[arg-type]
    except AlertConfigError as exc:
        raise ConfigError(f"{where}: [alerts]: {exc}") from None

