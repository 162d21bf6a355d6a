"""REST routes of agents' self-assessment reports (:mod:`voiceline.reports`).

``GET /api/reports/agents/{agent_id}`` gives the report's numbers as JSON, ``.../view``
the console's HTML fragment (with its CSS and the audio links of the agent's recorded
calls), ``.../file`` the self-contained HTML file ``voiceline report`` writes. An
``agent`` may open only their own (403 otherwise), and of an agent id given to them after
its previous holder retired, only what happened from their tenure on; ``supervisor``,
``qa`` and ``admin`` any agent's whole history (``tenure`` says when an id was reused).
Every view is written to the audit log.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from voiceline.auth import User, can_view_agent
from voiceline.reports import (
    CSS,
    PeriodError,
    UnknownAgentError,
    build_report,
    make_period,
    parse_tz,
    render_document,
    render_fragment,
)
from voiceline.server.deps import ServiceDep, SignedIn, bearer_token
from voiceline.server.qa_api import audio_url

router = APIRouter()
#: Reports read much (a year of a centre's summaries for the team distribution took 10 s
#: on 480,000 of them): they run one at a time on a thread and a store connection of
#: their own, so that the live service's store thread (alerts, sign-ins, verdicts) never
#: waits behind one (it once stalled every request for 21 s).
_REPORTS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voiceline-reports")


def _build(store_path, agent_id: str, period, baselines_dir, tenure_only: bool):
    from voiceline.store import Store

    with Store(store_path) as store:
        return build_report(store, agent_id, period, baselines_dir=baselines_dir,
                            tenure_only=tenure_only)
DATE = r"^\d{4}-\d{2}-\d{2}$"
_FROM = Query(None, alias="from", pattern=DATE, description="first day, YYYY-MM-DD "
              "(default: 6 days before 'to')")
_TO = Query(None, pattern=DATE, description="last day, YYYY-MM-DD, included (default today)")
_TZ = Query(None, max_length=64, description="IANA time zone of days and hours, e.g. "
            "Asia/Shanghai (default: the server's)")


async def _report(service, user: User, agent_id: str, first: str | None, last: str | None,
                  tz_name: str | None, fmt: str):
    """The report after the role check, with the view audited; and the time zone."""
    if not can_view_agent(user, agent_id):
        who = f"agent {user.agent_id}" if user.role == "agent" else f"role {user.role}"
        raise HTTPException(403, f"user {user.name!r} ({who}) may open only their own "
                                 "report")
    try:
        tz = parse_tz(tz_name)
        period = make_period(first, last, tz=tz)
    except PeriodError as exc:
        raise HTTPException(400, str(exc)) from None
    try:
        report = await asyncio.wrap_future(_REPORTS.submit(
            _build, service.config.store_path, agent_id, period, service.config.baselines_dir,
            user.role == "agent"))
    except UnknownAgentError as exc:
        raise HTTPException(404, str(exc)) from None
    await service.worker.call(service.store.audit, user.name, "view_report",
                              f"agent:{agent_id}", {"from": period.first_day.isoformat(),
                                                    "to": period.last_day.isoformat(),
                                                    "format": fmt})
    return report, tz


def _audio_urls(report: dict, request: Request) -> dict[str, str]:
    token = bearer_token(request.headers.get("authorization")) or ""
    calls = {m["call_id"] for m in report["flagged"] if m["listen"]}
    return {call_id: audio_url(call_id, token) for call_id in sorted(calls)}


@router.get("/api/reports/agents/{agent_id}")
async def agent_report(agent_id: str, request: Request, user: SignedIn, service: ServiceDep,
                       first: str | None = _FROM, to: str | None = _TO,
                       tz: str | None = _TZ) -> dict:
    """The report's numbers: totals, features against the baseline band, flagged moments
    (each recorded one with an ``audio_url``), shift and night effects, weekly trend, the
    anonymous team distribution and the guidance in zh and en."""
    report, _ = await _report(service, user, agent_id, first, to, tz, "json")
    urls = _audio_urls(report, request)
    for moment in report["flagged"]:
        moment["audio_url"] = urls.get(moment["call_id"]) if moment["listen"] else None
    return report


@router.get("/api/reports/agents/{agent_id}/view")
async def agent_report_view(agent_id: str, request: Request, user: SignedIn,
                            service: ServiceDep, first: str | None = _FROM,
                            to: str | None = _TO, tz: str | None = _TZ,
                            lang: Literal["zh", "en"] = "zh") -> dict:
    """The console's page body: ``html`` (the report with "listen" buttons), ``css``, and
    ``audio`` (call id → audio link, valid while this session is)."""
    report, zone = await _report(service, user, agent_id, first, to, tz, "page")
    html = await asyncio.to_thread(render_fragment, report, lang, interactive=True, tz=zone)
    return {"agent_id": agent_id, "period": report["period"], "html": html, "css": CSS,
            "audio": _audio_urls(report, request)}


@router.get("/api/reports/agents/{agent_id}/file", response_class=HTMLResponse)
async def agent_report_file(agent_id: str, request: Request, user: SignedIn,
                            service: ServiceDep, first: str | None = _FROM,
                            to: str | None = _TO, tz: str | None = _TZ,
                            lang: Literal["zh", "en"] = "zh") -> HTMLResponse:
    """The self-contained HTML file (as ``voiceline report`` writes it), as a download."""
    report, zone = await _report(service, user, agent_id, first, to, tz, "html-file")
    base = str(request.base_url).rstrip("/")
    html = await asyncio.to_thread(render_document, report, lang, console_url=base, tz=zone)
    p = report["period"]
    name = f"voiceline-report-{agent_id}-{p['from']}-{p['to']}.html"
    # An HTTP header is Latin-1: an ASCII name for every browser, and the real one (a
    # Chinese agent id) as RFC 6266's filename* (a CJK id once gave a 500 here).
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    disposition = f'attachment; filename="{safe}"; filename*=UTF-8\'\'{quote(name, safe="")}'
    return HTMLResponse(html, headers={"Content-Disposition": disposition,
                                       "Cache-Control": "private, no-store"})
