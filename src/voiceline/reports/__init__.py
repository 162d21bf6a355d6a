"""Agents' self-assessment reports: their own voice against their own baseline.

:func:`build_report` reads one agent's per-call voice summaries, live alerts and
pre-inspection flags for a period from the store and returns the report's numbers
(:mod:`voiceline.reports.aggregate`) with guidance (:mod:`voiceline.reports.guidance`);
:func:`render_document` and :func:`render_fragment` turn them into HTML with inline SVG
(:mod:`voiceline.reports.render`). ``voiceline report`` and ``/api/reports`` use both.
"""

from __future__ import annotations

import time
from pathlib import Path

from voiceline.reports.aggregate import build
from voiceline.reports.data import agent_known, gather
from voiceline.reports.period import Period, PeriodError, make_period, parse_tz
from voiceline.reports.render import CSS, render_document, render_fragment

__all__ = ["CSS", "Period", "PeriodError", "UnknownAgentError", "build_report", "make_period",
           "parse_tz", "render_document", "render_fragment"]


class UnknownAgentError(LookupError):
    """No agent of that id is registered or named by any call."""


def build_report(store, agent_id: str, period: Period, *, baselines_dir: Path | None = None,
                 now_s: float | None = None, tenure_only: bool = False) -> dict:
    """One agent's report for ``period`` (see :mod:`voiceline.reports.aggregate`).

    ``tenure_only``: for the person an agent id was given to after its previous holder
    retired, nothing from before their tenure (``tenure`` in the report says where it
    starts); staff see the id's whole history, with ``tenure`` saying it was reused.

    Raises
    ------
    UnknownAgentError
        The store knows no agent ``agent_id``.
    """
    if not agent_known(store, agent_id):
        raise UnknownAgentError(f"unknown agent {agent_id!r}: no such agent is registered "
                                "and no call of theirs has been analysed")
    inputs = gather(store, agent_id, period, baselines_dir, tenure_only=tenure_only)
    return build(inputs, now_s=time.time() if now_s is None else now_s)
