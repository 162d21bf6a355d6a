// The self-assessment report page: an agent's voice against their own baseline.
//
// Data: GET /api/reports/agents/{id}/view (the report rendered by the server, the same as
// `voiceline report` writes, with "listen" buttons and audio links of the agent's own
// recordings). An agent sees only their own report; the server answers 403 for anyone
// else's, which this page shows as a refusal. Period and agent are kept in the address.

import { ApiError, api, logout, session, toLogin } from "./api.js";
import { applyTo, lang, onLangChange, roleName, t, toggleLang } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const state = { audio: {}, playing: null };

function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** agent, from, to (default: the last 7 days) and a moment to play (call, t). */
function wanted(user) {
  const params = new URLSearchParams(location.search);
  const today = new Date();
  const weekAgo = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 6);
  return {
    agent: params.get("agent") || (user.role === "agent" ? user.agent_id : ""),
    from: params.get("from") || isoDay(weekAgo),
    to: params.get("to") || isoDay(today),
    call: params.get("call"),
    t: Number(params.get("t")),
  };
}

function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch {
    return "";
  }
}

function query(w, extra = {}) {
  const q = new URLSearchParams({ from: w.from, to: w.to, lang: lang(), ...extra });
  const tz = timeZone();
  if (tz) q.set("tz", tz);
  return q;
}

/** The report's headings one level down, in its markup and its stylesheet alike: the page's
 *  one h1 is the top bar's, and the report (a document of its own as a download, with its
 *  own h1) is a part of this page, so its title is an h2 and its sections h3. */
function demoteHeadings(root) {
  for (const heading of root.querySelectorAll("h1, h2, h3, h4, h5")) {
    const lower = document.createElement(`h${Number(heading.tagName[1]) + 1}`);
    for (const { name, value } of heading.attributes) lower.setAttribute(name, value);
    lower.append(...heading.childNodes);
    heading.replaceWith(lower);
  }
}

function demotedCss(css) {
  return css.replace(/(?<![\w-])h([1-5])(?![\w-])/g, (_, level) => `h${Number(level) + 1}`);
}

function showError(text) {
  $("load-error").textContent = text;
  $("load-error").hidden = !text;
}

function showRefused(user, agent) {
  $("report-main").hidden = true;
  $("refused").hidden = false;
  document.body.dataset.status = "refused";
  $("refused-body").textContent = t("refused.reportBody", { role: roleName(user.role), agent });
}

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function playingStatus() {
  const p = state.playing;
  $("player-status").textContent = p ? t("report.playing", { call: p.call, at: clock(p.at) }) : "";
}

/** Play the agent's recording of ``call`` from ``at`` seconds. */
function listen(call, at) {
  const url = state.audio[call];
  if (!url) return;
  const player = $("player");
  $("player-box").hidden = false;
  const start = () => {
    player.currentTime = at;
    player.play().catch(() => {}); // autoplay may be refused; the controls are there
  };
  if (player.dataset.call !== call) {
    player.dataset.call = call;
    player.src = url;
    player.addEventListener("loadedmetadata", start, { once: true });
    player.load();
  } else {
    start();
  }
  state.playing = { call, at };
  playingStatus();
  document.body.dataset.playing = call;
}

async function load(user, w) {
  showError("");
  if (!w.agent) {
    document.body.dataset.status = "idle";
    $("status").textContent = t("report.chooseAgent");
    $("report").replaceChildren();
    $("f-agent").focus();
    return;
  }
  document.body.dataset.status = "loading";
  $("status").textContent = t("report.loading");
  try {
    const body = await api(`/api/reports/agents/${encodeURIComponent(w.agent)}/view?${query(w)}`);
    let style = $("report-css");
    if (!style) {
      style = document.createElement("style");
      style.id = "report-css";
      document.head.append(style);
    }
    style.textContent = demotedCss(body.css);
    $("report").innerHTML = body.html; // rendered and escaped by the server
    demoteHeadings($("report"));
    state.audio = body.audio;
    $("status").textContent = "";
    document.title = `${t("app.name")} · ${t("app.report")} · ${w.agent}`;
    document.body.dataset.status = "ready";
    if (w.call && state.audio[w.call] && Number.isFinite(w.t)) {
      const button = $("report").querySelector(`button.listen[data-call="${CSS.escape(w.call)}"]`);
      if (button) button.focus();
      listen(w.call, w.t);
    }
  } catch (error) {
    $("status").textContent = "";
    if (error instanceof ApiError && error.status === 403) {
      showRefused(user, w.agent);
    } else {
      document.body.dataset.status = "error";
      $("report").replaceChildren();
      showError(error instanceof ApiError ? t("report.loadFailed", { detail: error.detail })
        : t("login.unreachable"));
    }
  }
}

async function download(w) {
  const current = session();
  try {
    const response = await fetch(`/api/reports/agents/${encodeURIComponent(w.agent)}/file?${query(w)}`,
      { headers: { Authorization: `Bearer ${current.token}` }, cache: "no-store" });
    if (!response.ok) throw new ApiError(response.status, `HTTP ${response.status}`);
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `voiceline-report-${w.agent}-${w.from}-${w.to}.html`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
  } catch (error) {
    showError(t("report.loadFailed", { detail: error.detail ?? String(error) }));
  }
}

function start() {
  const user = session();
  if (!user) {
    toLogin();
    return;
  }
  let w = wanted(user);
  applyTo(document);
  const who = () => { $("who").textContent = t("nav.signedInAs", { name: user.name, role: roleName(user.role) }); };
  who();
  if (user.role === "agent") {
    $("f-agent").readOnly = true;
    $("agent-field").hidden = w.agent === user.agent_id;
  }
  $("f-agent").value = w.agent;
  $("f-from").value = w.from;
  $("f-to").value = w.to;
  $("lang").addEventListener("click", toggleLang);
  $("logout").addEventListener("click", logout);
  $("refused-switch").addEventListener("click", logout);
  onLangChange(() => {
    who();
    playingStatus();
    if (document.body.dataset.status === "refused") showRefused(user, w.agent);
    else load(user, w);
  });
  $("period").addEventListener("submit", (event) => {
    event.preventDefault();
    const next = { agent: $("f-agent").value.trim(), from: $("f-from").value, to: $("f-to").value };
    if (!next.from || !next.to || next.to < next.from) {
      showError(t("report.badPeriod"));
      return;
    }
    const params = new URLSearchParams(next);
    history.replaceState(null, "", `?${params}`);
    w = { ...next, call: null, t: NaN };
    load(user, w);
  });
  $("report").addEventListener("click", (event) => {
    const button = event.target.closest("button.listen");
    if (button) listen(button.dataset.call, Number(button.dataset.at));
  });
  $("download").addEventListener("click", () => { if (w.agent) download(w); });
  $("print").addEventListener("click", () => window.print());
  load(user, w);
}

start();
