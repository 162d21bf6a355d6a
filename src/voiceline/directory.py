"""The floor's directory, one rule for every way in: seats (team, label) and agents
(display name, team), written and audited the same from the admin API and from
``voiceline directory``."""

from __future__ import annotations

from typing import Any

#: Per kind of entry: its id column and the fields an administrator sets.
FIELDS = {"seat": ("team", "label"), "agent": ("display_name", "team")}


def put_entry(store: Any, user: str | None, kind: str, entry_id: str,
              fields: dict[str, str | None], via: str) -> dict:
    """Register or update one seat or agent with ``fields`` (every field of
    :data:`FIELDS`, None to clear) and audit it; returns it as stored. A retired seat
    is back in service."""
    write = store.upsert_seat if kind == "seat" else store.upsert_agent
    entry = write(entry_id, *(fields[f] for f in FIELDS[kind]))
    store.audit(user, f"put_{kind}", f"{kind}:{entry[f'{kind}_id']}",
                {**{f: entry[f] for f in FIELDS[kind]}, "via": via})
    return entry


def retire_seat(store: Any, user: str | None, seat_id: str, via: str) -> dict:
    """Take a seat out of service (see ``Store.retire_seat``) and audit it."""
    seat = store.retire_seat(seat_id)
    store.audit(user, "retire_seat", f"seat:{seat['seat_id']}", {"via": via})
    return seat
