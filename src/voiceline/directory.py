"""The floor's directory, one rule for every way in: seats (team, label) and agents
(display name, team; retiring one, and giving a retired id to someone new), written and
audited the same from the admin API and from ``voiceline directory`` and ``voiceline
user``."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
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


#: Where retiring an agent moves their baseline files, under the baselines directory.
RETIRED_BASELINES = Path("history") / "retired"


def retire_agent(store: Any, user: str | None, agent_id: str, via: str,
                 baselines_dir: Path | None) -> dict:
    """Retire an agent (see ``Store.retire_agent``), move their baseline files out of
    the engine's sight and audit it; returns the agent plus ``baselines_moved``.

    ``<agent>.json`` and ``<agent>.16k.json`` go to ``history/retired/<name>.<UTC
    stamp>.json``: whoever is given the id next is judged against the population
    until calibrated, not against the previous person's voice.
    """
    agent = store.retire_agent(agent_id)
    try:
        moved = [] if baselines_dir is None else _move_baselines(Path(baselines_dir),
                                                                 agent["agent_id"])
    except OSError as exc:  # retired all the same: the log says what is left to do
        store.audit(user, "retire_agent", f"agent:{agent['agent_id']}",
                    {"via": via, "baselines_error": str(exc)})
        raise
    store.audit(user, "retire_agent", f"agent:{agent['agent_id']}",
                {"via": via, "baselines_moved": [str(p) for p in moved]})
    return {**agent, "baselines_moved": moved}


def _move_baselines(directory: Path, agent_id: str) -> list[Path]:
    from emotion.baseline import CHANNEL_TYPES, baseline_path, kept_copy_path

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = []
    for channel_type in CHANNEL_TYPES:
        path = baseline_path(directory, agent_id, channel_type)
        if not path.is_file():
            continue
        kept = kept_copy_path(directory / RETIRED_BASELINES, path, stamp)
        os.replace(path, kept)
        moved.append(kept)
    return moved


def agent_reuse(store: Any, agent_id: str) -> dict:
    """What giving ``agent_id`` to a new user means, asked before it is given:
    ``retired`` (a new tenure starts: they see nothing from before) and ``holders``
    (other agent-role users who have spoken as it; their history stays visible)."""
    try:
        agent = store.get_agent(agent_id)
    except KeyError:
        return {"retired": False, "holders": []}
    holders = [u["name"] for u in store.list_users(role="agent")
               if u["agent_id"] == agent["agent_id"]]
    return {"retired": agent["retired_s"] is not None, "holders": holders}


def reuse_message(agent_id: str, reuse: dict) -> str | None:
    """One line for whoever gives ``agent_id`` to someone, or None when it is fresh."""
    if reuse["retired"]:
        return (f"agent {agent_id} was retired: a new tenure starts now; the new user "
                "sees none of the earlier calls, alerts or recordings")
    if reuse["holders"]:
        return (f"warning: agent {agent_id} already belongs to {', '.join(reuse['holders'])}; "
                "the new user will see that history (retire the agent first with "
                f"'voiceline directory retire --agent {agent_id}' for a fresh start)")
    return None


def tenure_start_s(store: Any, user: Any) -> float | None:
    """Where what ``user`` may see of their agent id begins: for an agent-role user whose
    id was retired and given to them (or to someone after them), the current tenure's
    start; None (everything) for staff and for an id's first tenure."""
    if getattr(user, "role", None) != "agent" or user.agent_id is None:
        return None
    try:
        return store.get_agent(user.agent_id)["active_since_s"]
    except KeyError:
        return None


def later(since_s: float | None, tenure_s: float | None) -> float | None:
    """The later of a client's ``since`` and a tenure start (either may be None)."""
    return since_s if tenure_s is None else tenure_s if since_s is None else max(since_s,
                                                                                  tenure_s)
