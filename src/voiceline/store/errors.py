"""What can go wrong in the store, as exception types a server maps to responses.

:class:`InvalidInputError` (a ``ValueError``) is bad input — an unknown role, an empty
name; :class:`NotFoundError` (a ``KeyError``) an id the store does not hold;
:class:`ConflictError` (a ``ValueError``) a request the current state forbids, such as
resolving an alert twice; :class:`SchemaError` a database file this code cannot use.
Each message says what was wrong and what to do; nothing stored changes.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every error the store raises on purpose."""


class InvalidInputError(StoreError, ValueError):
    """A value the caller passed is not acceptable (unknown choice, empty name, NaN time)."""


class NotFoundError(StoreError, KeyError):
    """No row with the given id; ``str()`` is the plain message, not ``KeyError``'s repr."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"


class ConflictError(StoreError, ValueError):
    """The request contradicts the stored state (already resolved, already ended, duplicate)."""


class SchemaError(StoreError):
    """The database file is newer than this code, or is not a Voiceline store at all."""
