// One call under review: both parties' loudness over time with the flags on it, the
// recording (played from any flag), each flag's plain-words detail and evidence, the
// reviewer's verdict with a note per flag, and the call's transcript when it had one
// (played from any sentence; the sentence heard is marked as the recording plays).
//
// Data: GET /api/qa/calls/{id} (flags, verdicts and an audio_url the <audio> element can
// open without headers), GET /api/qa/calls/{id}/timeline, POST /api/qa/flags/{id}/verdict.
// Supervisors read; qa and admin judge; the server enforces both. A reviewer's open page
// claims the call (POST /api/qa/calls/{id}/claim, renewed every minute, released as the
// page goes), so other reviewers see who is on it; someone else's claim is shown, and
// the page works as usual.

import { ApiError, api } from "./api.js";
import { explainDrivers, formatDuration, lang, t } from "./i18n.js";
import {
  $, REVIEWERS, callLineFact, checkColour, checkName, clock, failureText, flagDetail, formatDateTime, showRefused, startPage,
} from "./qa_common.js";
import { drawTimeline, setPlayhead } from "./qa_timeline.js";

const callId = new URLSearchParams(location.search).get("call") ?? "";
/** The checks that read the transcript (qa.config.TRANSCRIPT_CHECKS). */
const SAID_CHECKS = ["forbidden_phrase", "missing_greeting", "missing_closing"];
const state = { call: null, timeline: null, timelineError: null, drafts: new Map(), active: null, audioRetried: false, claim: null, claimMine: false };
/** How often an open page renews its claim (the server lets one lapse after 5 minutes). */
const CLAIM_RENEW_MS = 60_000;
/** Notes typed but not saved, per flag id, kept for this tab (sessionStorage) so that a
 *  session that ends under the page, a reload or a look at another call loses none;
 *  only the reviewer who typed them gets them back. */
const DRAFTS_KEY = "voiceline.qaDrafts";

function loadDrafts() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(DRAFTS_KEY));
    if (kept && kept.user === user.name && kept.notes && typeof kept.notes === "object") {
      return new Map(Object.entries(kept.notes).map(([id, text]) => [Number(id), String(text)]));
    }
  } catch {
    // storage unavailable or not ours: start without drafts
  }
  return new Map();
}

function keepDrafts() {
  try {
    if (state.drafts.size) {
      sessionStorage.setItem(DRAFTS_KEY, JSON.stringify({ user: user.name, notes: Object.fromEntries(state.drafts) }));
    } else {
      sessionStorage.removeItem(DRAFTS_KEY);
    }
  } catch {
    // storage full or unavailable: the draft stays on the page as before
  }
}

function dd(dl, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const d = document.createElement("dd");
  d.textContent = value;
  dl.append(dt, d);
}

function renderFacts() {
  const call = state.call;
  $("call-title").textContent = t("qa.callTitle", { call: call.call_id });
  document.title = `${t("app.name")} · ${t("qa.callTitle", { call: call.call_id })}`;
  const facts = $("call-facts");
  facts.replaceChildren();
  dd(facts, t("qa.score"), call.score === null ? "–" : call.score.toFixed(0));
  dd(facts, t("qa.agent"), call.agent_id ?? t("qa.agentUnknown"));
  dd(facts, t("qa.duration"), call.duration_s === null ? "–" : formatDuration(call.duration_s));
  dd(facts, t("qa.recorded"), formatDateTime(call.recorded_s ?? call.analysed_s));
  dd(facts, t("qa.file"), call.file ?? "–");
  const m = call.metrics ?? {};
  const line = callLineFact(m);
  if (line) dd(facts, t("qa.line"), line);
  const leaks = Object.entries(m.crosstalk ?? {});
  if (leaks.length) {
    const sep = lang() === "zh" ? "；" : "; ";
    dd(facts, t("qa.crosstalk"), leaks.map(([party, leak]) => t("qa.crosstalkParty", {
      party: t(`channel.${party}`), db: Math.abs(leak.gain_db).toFixed(0), ms: leak.lag_ms,
      s: leak.speech_removed_s.toFixed(0),
    })).join(sep));
  }
  const rooms = Object.entries(m.background ?? {}).filter(([, room]) => room.busy);
  if (rooms.length) {
    const sep = lang() === "zh" ? "；" : "; ";
    dd(facts, t("qa.background"), rooms.map(([party, room]) => t("qa.backgroundParty", {
      party: t(`channel.${party}`), s: room.speech_removed_s.toFixed(0),
      pct: (100 * room.share_of_speech).toFixed(0),
    })).join(sep));
  }
  if (m.hold?.seconds) {
    const sep = lang() === "zh" ? "、" : ", ";
    dd(facts, t("qa.hold"), t("qa.holdFact", {
      s: m.hold.seconds.toFixed(0), n: m.hold.spans,
      party: (m.hold.channels ?? []).map((c) => t(`channel.${c}`)).join(sep),
    }));
  }
  if (Number.isFinite(m.same_audio_r)) {
    dd(facts, t("qa.channels"), t("qa.channelsSame", { r: m.same_audio_r.toFixed(2) }));
  } else if (m.channels === 1) {
    dd(facts, t("qa.channels"), t("qa.channelsMono"));
  } else if (Number.isFinite(m.channels)) {
    const key = m.channels_look_swapped ? "qa.channelsSwapped" : "qa.channelsStereo";
    dd(facts, t("qa.channels"), t(key, { n: m.agent_channel ?? 0 }));
  }
  if (call.transcript) dd(facts, t("qa.transcriptFact"), t("qa.transcriptRead", { n: call.transcript.length }));
  else if (m.transcript_problem) dd(facts, t("qa.transcriptFact"), t("qa.transcriptProblem", { problem: m.transcript_problem }));
  if (m.checks_skipped?.length) {
    const sep = lang() === "zh" ? "、" : ", ";
    dd(facts, t("qa.skipped"), m.checks_skipped.map(checkName).join(sep));
  }
  $("call-error").hidden = !call.error;
  $("call-error").textContent = call.error ? t("qa.callError", { error: call.error }) : "";
}

function evidenceList(evidence) {
  const dl = document.createElement("dl");
  dl.className = "qa-evidence";
  for (const [key, value] of Object.entries(evidence ?? {})) {
    if (key === "detail_zh" || value === null || value === undefined) continue;
    const label = t(`evidence.${key}`);
    const text = key === "drivers" && Array.isArray(value)
      ? explainDrivers(value, null, 0, lang(), false)
      : key === "unit" ? t(`evidence.unit.${value}`)
        : Array.isArray(value) && value.every((v) => typeof v === "string")
          ? value.join(lang() === "zh" ? "、" : ", ")
          : typeof value === "object" ? JSON.stringify(value) : String(value);
    dd(dl, label === `evidence.${key}` ? key : label, text);
  }
  return dl;
}

function verdictText(flag) {
  if (!flag.verdict) return t("qa.verdict.none");
  const said = t("qa.verdictBy", { verdict: t(`qa.verdict.${flag.verdict}`), user: flag.verdict_by,
    time: formatDateTime(flag.verdict_s) });
  return flag.verdict_note ? `${said} — ${flag.verdict_note}` : said;
}

function flagItem(flag, index, canJudge) {
  const li = document.createElement("li");
  li.className = "qa-flag";
  li.id = `flag-${flag.id}`;
  li.dataset.flagId = String(flag.id);
  li.dataset.check = flag.check;
  li.dataset.severity = flag.severity;
  li.dataset.verdict = flag.verdict ?? "none";
  li.style.setProperty("--check", checkColour(flag.check));
  if (state.active === flag.id) li.dataset.active = "true";

  const head = document.createElement("div");
  head.className = "qa-flag-head";
  const num = document.createElement("span");
  num.className = "qa-num";
  num.id = `flag-${flag.id}-num`;
  num.textContent = String(index + 1);
  const name = document.createElement("strong");
  name.id = `flag-${flag.id}-name`;
  name.textContent = checkName(flag.check);
  const sev = document.createElement("span");
  sev.className = "sev";
  sev.textContent = t(`severity.${flag.severity}`);
  const span = document.createElement("span");
  span.className = "qa-span";
  span.id = `flag-${flag.id}-span`;
  span.textContent = t("qa.span", { start: clock(flag.start_s), end: clock(flag.end_s), channel: t(`channel.${flag.channel}`) });
  const play = document.createElement("button");
  play.type = "button";
  play.className = "qa-play";
  play.textContent = `▶ ${t("qa.playFrom", { time: clock(flag.start_s) })}`;
  play.addEventListener("click", () => playFlag(flag));
  head.append(num, name, sev, span, play);

  const detail = document.createElement("p");
  detail.className = "qa-detail";
  detail.textContent = flagDetail(flag);

  const evidence = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = t("qa.evidence");
  evidence.append(summary, evidenceList(flag.evidence));

  const status = document.createElement("p");
  status.className = "qa-verdict-status";
  status.setAttribute("role", "status");
  status.textContent = verdictText(flag);
  li.append(head, detail, evidence);
  if (canJudge) li.append(verdictForm(flag, status));
  else li.append(status);
  return li;
}

function verdictForm(flag, status) {
  const form = document.createElement("form");
  form.className = "qa-verdict";
  form.noValidate = true;
  const noteId = `note-${flag.id}`;
  const label = document.createElement("label");
  label.htmlFor = noteId;
  label.textContent = t("qa.note");
  const note = document.createElement("textarea");
  note.id = noteId;
  note.name = "note";
  note.rows = 2;
  note.maxLength = 4000;
  // Another reviewer's note stays theirs (shown with their verdict above), never the
  // start of this reviewer's: a new verdict saved with it would put it under their name.
  const ownNote = flag.verdict_by === user.name ? flag.verdict_note : null;
  note.value = state.drafts.get(flag.id) ?? ownNote ?? "";
  note.addEventListener("input", () => { state.drafts.set(flag.id, note.value); keepDrafts(); });
  const buttons = document.createElement("div");
  buttons.className = "qa-verdict-actions";
  for (const verdict of ["confirmed", "dismissed"]) {
    const button = document.createElement("button");
    button.type = "submit";
    button.value = verdict;
    button.className = verdict === "confirmed" ? "primary qa-confirm" : "qa-dismiss";
    button.textContent = t(verdict === "confirmed" ? "qa.confirm" : "qa.dismiss");
    button.setAttribute("aria-pressed", String(flag.verdict === verdict));
    // "确认" / "驳回" repeat under every flag: each says which flag it judges.
    button.setAttribute("aria-describedby", `flag-${flag.id}-num flag-${flag.id}-name flag-${flag.id}-span`);
    buttons.append(button);
  }
  const error = document.createElement("p");
  error.className = "error";
  error.setAttribute("role", "alert");
  error.hidden = true;
  form.append(label, note, buttons, status, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const verdict = event.submitter?.value;
    if (!verdict) return;
    for (const b of buttons.children) b.disabled = true;
    try {
      const seen = { verdict_by: flag.verdict_by ?? null, verdict_s: flag.verdict_s ?? null };
      const saved = await api(`/api/qa/flags/${flag.id}/verdict`, { method: "POST", body: { verdict, note: note.value, seen } });
      Object.assign(flag, saved);
      state.drafts.delete(flag.id);
      keepDrafts();
      error.hidden = true;
      renderFlags();
      const item = $(`flag-${flag.id}`);
      item.querySelector(".qa-verdict-status").textContent = `${verdictText(flag)} ${t("qa.saved")}`;
      item.querySelector(`button[value=${verdict}]`).focus();
      drawNow();
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) return showRefused(user);
      if (err instanceof ApiError && err.status === 409) return showConflict(flag, err);
      error.textContent = failureText(err);
      error.hidden = false;
      for (const b of buttons.children) b.disabled = false;
    }
  });
  return form;
}

/** Someone judged the flag since this page loaded (or the call was inspected again):
 *  show the call as it is now, with the reason on the flag; the typed note stays. */
async function showConflict(flag, err) {
  try {
    state.call = await api(`/api/qa/calls/${encodeURIComponent(callId)}`);
    renderAll();
  } catch {
    // the reason below still says what happened
  }
  const item = $(`flag-${flag.id}`);
  const error = item?.querySelector(".error") ?? $("load-error"); // a flag replaced: the page's
  error.textContent = failureText(err);
  error.hidden = false;
}

function renderFlags() {
  const flags = state.call.flags;
  $("flags-title").textContent = t("qa.flagList", { n: flags.length });
  const canJudge = REVIEWERS.includes(user.role);
  const items = flags.map((flag, i) => flagItem(flag, i, canJudge));
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = t("qa.noFlags");
    items.push(li);
  }
  $("flags").replaceChildren(...items);
}

/** The flags over a sentence: same party (or both), overlapping in time. */
function flagsOver(seg) {
  return state.call.flags.filter((f) => (f.channel === seg.party || f.channel === "both")
    && f.start_s < seg.end_s && f.end_s > seg.start_s);
}

function renderTranscript() {
  const segments = state.call.transcript;
  $("transcript-panel").hidden = !segments;
  if (!segments) return;
  $("transcript-title").textContent = t("qa.transcript", { n: segments.length });
  $("transcript").replaceChildren(...segments.map((seg, i) => {
    const li = document.createElement("li");
    li.className = "qa-segment";
    li.dataset.index = String(i);
    li.dataset.party = seg.party;
    const over = flagsOver(seg);
    if (over.length) {
      li.dataset.flagged = over.map((f) => f.check).join(" ");
      // the colour of a flag on the words themselves, else of the first flag over them
      const words = over.find((f) => SAID_CHECKS.includes(f.check)) ?? over[0];
      li.style.setProperty("--check", checkColour(words.check));
      li.title = over.map((f) => checkName(f.check)).join(", ");
    }
    const play = document.createElement("button");
    play.type = "button";
    play.className = "qa-segment-play";
    play.textContent = `${clock(seg.start_s)} ${t(`channel.${seg.party}`)}`;
    play.setAttribute("aria-label", t("qa.playHere", { label: play.textContent }));
    play.addEventListener("click", () => playFrom(seg.start_s));
    const text = document.createElement("span");
    text.className = "qa-segment-text";
    text.textContent = seg.text;
    li.append(play, text);
    return li;
  }));
  markSentence();
}

/** Mark the sentence being heard (the latest that has started and not ended). */
function markSentence() {
  const segments = state.call?.transcript;
  if (!segments) return;
  const now = $("player").currentTime;
  let current = -1;
  segments.forEach((seg, i) => { if (seg.start_s <= now && now < seg.end_s) current = i; });
  for (const li of $("transcript").children) {
    if (Number(li.dataset.index) === current) li.dataset.now = "true";
    else delete li.dataset.now;
  }
}

function playFrom(seconds) {
  const audio = $("player");
  const go = () => {
    audio.currentTime = seconds;
    audio.play().catch(() => {}); // no sound device, or autoplay refused: the seek stands
  };
  if (audio.readyState >= 1) go();
  else audio.addEventListener("loadedmetadata", go, { once: true });
}

function drawNow() {
  const svg = $("timeline");
  if (!state.call) return;
  if (state.timeline) {
    $("timeline-help").textContent = t("qa.timelineHelp", { hop: state.timeline.hop_s });
    $("timeline-status").textContent = "";
  } else {
    $("timeline-help").textContent = t("qa.timelineHelp", { hop: 0.1 });
    $("timeline-status").textContent = state.timelineError
      ? t("qa.timelineFailed", { detail: state.timelineError }) : t("qa.timelineLoading");
  }
  drawTimeline(svg, {
    timeline: state.timeline,
    durationS: state.timeline?.duration_s ?? state.call.duration_s ?? 0,
    flags: state.call.flags,
    active: state.active,
    now: $("player").currentTime,
    onFlag: playFlag,
    onSeek: (s) => { $("player").currentTime = s; },
  });
  const legend = $("timeline-legend");
  const seen = [...new Set(state.call.flags.map((f) => f.check))];
  legend.replaceChildren(...seen.map((check) => {
    const item = document.createElement("span");
    item.className = "qa-legend-item";
    item.style.setProperty("--check", checkColour(check));
    item.textContent = checkName(check);
    return item;
  }));
}

/** Seek the recording to ``flag``'s start and play; the flag is marked as the one heard. */
function playFlag(flag) {
  state.active = flag.id;
  for (const li of document.querySelectorAll(".qa-flag")) {
    if (li.dataset.flagId === String(flag.id)) li.dataset.active = "true";
    else delete li.dataset.active;
  }
  $(`flag-${flag.id}`)?.scrollIntoView({ block: "nearest" });
  playFrom(flag.start_s);
  drawNow();
}

/** Someone else's claim on this call, in words (none shown for one's own). */
function renderClaim() {
  const note = $("claim-note");
  const claim = state.claim;
  note.hidden = !claim || state.claimMine;
  note.textContent = note.hidden ? "" : t("qa.claimedOther", { user: claim.user, time: formatDateTime(claim.claimed_s) });
}

/** Claim the call for this reviewer, or learn who has it; a claim is a courtesy, so a
 *  failure leaves the page as it is. */
async function claimCall() {
  try {
    const held = await api(`/api/qa/calls/${encodeURIComponent(callId)}/claim`, { method: "POST" });
    state.claim = held.claim;
    state.claimMine = true;
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409 && error.body?.claim)) return;
    state.claim = error.body.claim;
    state.claimMine = false;
  }
  renderClaim();
  document.body.dataset.claim = state.claimMine ? "mine" : "other";
}

function releaseCall() {
  if (!state.claimMine) return;
  api(`/api/qa/calls/${encodeURIComponent(callId)}/claim`, { method: "DELETE", keepalive: true, redirectOn401: false })
    .catch(() => {}); // it lapses by itself
}

function renderAll() {
  if (!state.call) return;
  renderClaim();
  renderFacts();
  renderFlags();
  renderTranscript();
  drawNow();
}

async function loadTimeline() {
  try {
    state.timeline = await api(`/api/qa/calls/${encodeURIComponent(callId)}/timeline`);
  } catch (error) {
    state.timelineError = error instanceof ApiError ? error.detail : t("login.unreachable");
  }
  drawNow();
  document.body.dataset.timeline = state.timeline ? "ready" : "error";
}

/** An audio link that stopped working (server restarted): fetch a fresh one, once. */
async function retryAudio() {
  const audio = $("player");
  if (state.audioRetried || !state.call) return;
  state.audioRetried = true;
  const at = audio.currentTime;
  try {
    const call = await api(`/api/qa/calls/${encodeURIComponent(callId)}`);
    // Ask why before blaming the link: a recording moved or deleted since it was
    // inspected answers 404 with the reason (an audit found "the link had expired").
    const probe = await fetch(call.audio_url, { headers: { Range: "bytes=0-0" }, cache: "no-store" });
    if (probe.status === 404) {
      const body = await probe.json().catch(() => ({}));
      $("audio-status").textContent = t("qa.audioMissing", { reason: body.detail ?? `HTTP ${probe.status}` });
      return;
    }
    audio.src = call.audio_url;
    audio.addEventListener("loadedmetadata", () => { audio.currentTime = at; }, { once: true });
    $("audio-status").textContent = t("qa.audioRetry");
  } catch {
    // the load error above says what is wrong
  }
}

async function main() {
  const back = document.referrer ? new URL(document.referrer) : null;
  if (back && back.origin === location.origin && back.pathname === "/qa.html") $("back").href = back.pathname + back.search;
  try {
    state.call = await api(`/api/qa/calls/${encodeURIComponent(callId)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused(user);
    $("load-error").textContent = failureText(error);
    $("load-error").hidden = false;
    document.body.dataset.status = "error";
    return;
  }
  const audio = $("player");
  audio.src = state.call.audio_url;
  const playhead = () => { setPlayhead($("timeline"), audio.currentTime); markSentence(); };
  audio.addEventListener("timeupdate", playhead);
  audio.addEventListener("seeked", playhead);
  audio.addEventListener("error", retryAudio);
  state.claim = state.call.claim;
  state.claimMine = state.claim?.user === user.name;
  renderAll();
  document.body.dataset.status = "ready";
  new ResizeObserver(() => drawNow()).observe($("timeline"));
  loadTimeline();
  if (REVIEWERS.includes(user.role)) {
    claimCall();
    setInterval(claimCall, CLAIM_RENEW_MS);
    window.addEventListener("pagehide", releaseCall);
  }
}

const user = startPage(renderAll);
if (user) {
  state.drafts = loadDrafts();
  main();
}
