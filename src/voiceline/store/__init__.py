"""The embedded store of the live service: SQLite in WAL mode, with versioned migrations.

:class:`Store` holds agents, seats, calls, alerts with their event log, pre-inspection
results with reviewers' verdicts, users, tokens and the audit log. Times are unix
seconds (floats) passed in by the caller, default now.
Bad input raises :class:`InvalidInputError` (a ``ValueError``), unknown ids
:class:`NotFoundError` (a ``KeyError``), requests the state forbids :class:`ConflictError`
(a ``ValueError``); in each case nothing stored changes.

Example
-------
>>> store = Store(":memory:")
>>> store.upsert_seat("S01", team="north")["seat_id"]
'S01'
>>> store.close()
"""

from __future__ import annotations

from voiceline.store.accounts import ROLES, TOKEN_KINDS, AccountsMixin
from voiceline.store.alerts import (
    ALERT_KINDS,
    ALERT_STATES,
    EVENT_TYPES,
    SEVERITIES,
    AlertsMixin,
)
from voiceline.store.audit import AuditMixin
from voiceline.store.calls import CallsMixin
from voiceline.store.database import Database
from voiceline.store.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SchemaError,
    StoreError,
)
from voiceline.store.qa import VERDICTS, QaMixin, VoiceSummaryMixin
from voiceline.store.retention import RetentionMixin
from voiceline.store.schema import SCHEMA_VERSION

__all__ = [
    "ALERT_KINDS",
    "ALERT_STATES",
    "EVENT_TYPES",
    "ROLES",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "TOKEN_KINDS",
    "VERDICTS",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "SchemaError",
    "Store",
    "StoreError",
]


class Store(CallsMixin, AlertsMixin, QaMixin, VoiceSummaryMixin, AccountsMixin, AuditMixin,
            RetentionMixin, Database):
    """An open Voiceline store; see the module docstring and each mixin's methods.

    Parameters
    ----------
    path : str or Path
        The SQLite file, created and migrated to :data:`SCHEMA_VERSION` if needed.
    busy_timeout_ms : int
        How long a write waits for another connection's lock before failing.

    Raises
    ------
    SchemaError
        The file was written by a newer Voiceline, or is not a Voiceline store.
    """
