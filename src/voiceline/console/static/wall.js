// The supervisor's live wall: seat tiles, the floor strip, the alert feed, the seat detail.
//
// Data flow: GET /api/seats?all=1 (the floor's seats), /api/agents (names, teams) and
// /api/alerts (the recent feed) once (the first two again when a call shows a seat or
// agent they lack, and every 10 minutes); then the /ws/alerts websocket for alert events and a
// seat snapshot about once a second. Messages only record what arrived and ask for a
// frame; one requestAnimationFrame then draws the newest state (tiles, strip, feed,
// detail), so a burst of messages costs one redraw and a hidden tab costs none.
// The server checks the role on every call: a user it refuses sees a plain refusal page.

import { AlertActions } from "./actions.js";
import { ApiError, api, logout, session, toLogin, wsUrl } from "./api.js";
import { drawSparkline } from "./charts.js";
import { SeatDetail } from "./detail.js";
import { AlertFeed, seatOf } from "./feed.js";
import { SeatHistory } from "./history.js";
import { applyTo, formatDuration, onLangChange, roleName, t, toggleLang } from "./i18n.js";
import { LiveConnection, STATUS } from "./live.js";
import { Alarm } from "./sound.js";
import { STATES, TileGrid } from "./tiles.js";

/** Roles the server lets read the wall (it refuses the others' calls anyway). */
const WALL_ROLES = ["supervisor", "admin"];
const STRESS_POINTS = 600; // ten minutes at one snapshot a second
const REMIND_CRITICAL_MS = 15000;
const $ = (id) => document.getElementById(id);

const user = session();
const state = {
  agents: new Map(), // agent_id → {display_name, team}
  latest: null, // newest seats message
  latestBySeat: new Map(),
  seatsDirty: false,
  stress: [],
  clockOffsetS: 0, // server time − local time
  frames: 0,
  frameMs: [], // time spent in each frame's drawing (newest last, up to 120)
  loaded: false, // the seats, agents and alerts lists have been read
  lastDirectoryLoad: 0,
  lastDirectoryAsk: -Infinity, // when a seat or agent it lacked last asked for the directory
  configured: new Set(), // the directory's seats in service
};
const DIRECTORY_REFRESH_MS = 30000;
const DIRECTORY_MAX_AGE_MS = 600000;

function serverNow() {
  return Date.now() / 1000 + state.clockOffsetS;
}

function agentName(agentId) {
  const agent = state.agents.get(agentId);
  return agent?.display_name || agentId;
}

function agentTeam(agentId) {
  return state.agents.get(agentId)?.team || "";
}

/** Write a text only when it differs: a live region (the banners are) speaks each write. */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setHidden(el, hidden) {
  if (el.hidden !== hidden) el.hidden = hidden;
}

/** Say one sentence through a visually hidden live region: "assertive" interrupts the
 *  screen reader, "polite" waits. Sentences are added (so two at once are both said) and
 *  the oldest dropped. */
function announce(text, urgent = false) {
  const region = $(urgent ? "announce-urgent" : "announce-polite");
  const line = document.createElement("p");
  line.textContent = text;
  region.append(line);
  while (region.childElementCount > 3) region.firstElementChild.remove();
}

/** "严重告警：座席 S006，杨芳，情绪激动" / "Critical alert: seat S006, <name>, agitation". */
function announceAlert(alert, escalated) {
  const what = [t("feed.seat", { seat: seatOf(alert) }), alert.agent_id ? agentName(alert.agent_id) : "",
    t(`kind.${alert.kind}`).toLowerCase()].filter(Boolean).join(t("announce.sep"));
  const critical = alert.severity === "critical";
  const key = escalated ? "announce.escalated" : critical ? "announce.critical" : "announce.warning";
  announce(t(key, { what }), critical);
}

function listOf(data, key) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data[key])) return data[key];
  return [];
}

// --- refusal ------------------------------------------------------------------------------

let refused = false;
function showRefused(role) {
  live?.stop();
  if (refused) return;
  refused = true;
  $("wall-main").hidden = true;
  $("refused").hidden = false;
  document.body.dataset.status = "refused";
  const render = () => {
    $("refused-body").textContent = t("refused.body", { role: roleName(role) });
  };
  render();
  onLangChange(render);
  $("refused-switch").addEventListener("click", logout);
  $("sound").hidden = true;
  $("sound-hint").hidden = true;
}

// --- the page ------------------------------------------------------------------------------

let grid;
let feed;
let detail;
let actions;
let live = null;
let framePending = false;
let alarm = null; // made once the page is the user's: it may start an AudioContext
const history = new SeatHistory(300);

function requestFrame() {
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(frame);
}

function frame() {
  framePending = false;
  const start = performance.now();
  if (state.seatsDirty && state.latest) {
    grid.update(state.latest.seats, feed.openBySeat());
    state.seatsDirty = false;
    renderStrip();
    renderCounts();
    if (grid.teamsChanged) {
      grid.teamsChanged = false;
      renderTeams();
    }
  }
  feed.render();
  renderCritical();
  if (detail.isOpen) detail.render();
  state.frames += 1;
  state.frameMs.push(performance.now() - start);
  if (state.frameMs.length > 120) state.frameMs.shift();
}

/** Seconds of audio dropped unscored (the engine fell behind) over the last minute, from
 *  each call's ``dropped_s`` in the seat snapshots (an audit found 4,059 s dropped while
 *  the wall showed green and calm tiles). */
const LAG_WINDOW_S = 60;
function trackDropped(seats, nowS) {
  const last = state.droppedByCall ?? new Map();
  const seen = new Map();
  let added = 0;
  const lagging = new Set();
  for (const s of seats) {
    const dropped = Number(s.dropped_s);
    if (!s.call_id || !Number.isFinite(dropped)) continue;
    seen.set(s.call_id, dropped);
    const before = last.get(s.call_id);
    if (before !== undefined && dropped > before) {
      added += dropped - before;
      lagging.add(s.seat_id);
    }
  }
  state.droppedByCall = seen;
  state.drops = (state.drops ?? []).filter((d) => nowS - d.t <= LAG_WINDOW_S);
  if (added > 0) state.drops.push({ t: nowS, s: added, seats: lagging });
  const total = state.drops.reduce((sum, d) => sum + d.s, 0);
  const seatsHit = new Set(state.drops.flatMap((d) => [...d.seats]));
  const banner = $("lag");
  setHidden(banner, total <= 0);
  // Under a second rounds to "0 s went unscored": say "< 1" instead.
  setText(banner, total > 0 ? t("lag.dropped", { s: total < 0.5 ? "< 1" : Math.round(total), n: seatsHit.size }) : "");
}

function onSeats(message) {
  const seats = Array.isArray(message.seats) ? message.seats : [];
  trackDropped(seats, Number.isFinite(Number(message.t)) ? Number(message.t) : Date.now() / 1000);
  const t = Number(message.t);
  if (Number.isFinite(t)) state.clockOffsetS = t - Date.now() / 1000;
  history.add(Number.isFinite(t) ? t : serverNow(), seats);
  state.latest = { ...message, seats };
  state.latestBySeat = new Map(seats.map((s) => [s.seat_id, s]));
  // The directory again when a seat or agent it lacks is on a call (an administrator has
  // added, named or grouped it since), at most every 30 s; and every 10 min for seats
  // renamed, regrouped or retired.
  const now = performance.now();
  if (state.loaded && (now - state.lastDirectoryLoad > DIRECTORY_MAX_AGE_MS
    || (now - state.lastDirectoryAsk > DIRECTORY_REFRESH_MS
      && seats.some((s) => !state.configured.has(s.seat_id)
        || (s.agent_id && !state.agents.has(s.agent_id)))))) {
    state.lastDirectoryAsk = now;
    loadDirectory().catch(() => {});
  }
  let stress = message.floor?.stress_index;
  if (typeof stress !== "number") stress = NaN;
  state.stress.push(stress);
  if (state.stress.length > STRESS_POINTS) state.stress.shift();
  state.seatsDirty = true;
  requestFrame();
}

function onAlert(message) {
  feed.apply(message);
  state.seatsDirty = true; // a tile may change to or from "alert"
  requestFrame();
}

function onMessage(message) {
  if (message.type === "seats") onSeats(message);
  else if (message.type === "alert") onAlert(message);
}

function renderStrip() {
  const floor = state.latest?.floor ?? {};
  const seats = state.latest?.seats ?? [];
  $("m-in-call").textContent = String(floor.in_call ?? seats.length);
  $("m-seats").textContent = `/ ${grid.tiles.size}`;
  const open = floor.open_alerts ?? [...feed.alerts.values()].filter((a) => a.state === "open").length;
  $("m-open").textContent = String(open);
  $("m-open").parentElement.dataset.hot = String(open > 0);
  const stress = floor.stress_index;
  $("m-stress").textContent = typeof stress === "number" ? stress.toFixed(2) : "–";
  drawSparkline($("spark"), state.stress, STRESS_POINTS);
}

function renderCounts() {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const tile of grid.tiles.values()) counts[tile.view.state] += 1;
  for (const s of STATES) $(`n-${s}`).textContent = String(counts[s]);
  $("shown").textContent = t("filter.shown", { n: grid.visibleCount, total: grid.tiles.size });
}

function renderTeams() {
  const select = $("team");
  const teams = grid.teams();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (teams.join("\n") !== have.join("\n")) {
    const chosen = select.value;
    select.replaceChildren(select.options[0], ...teams.map((team) => new Option(team, team)));
    select.value = teams.includes(chosen) ? chosen : "";
  }
  select.closest("label").hidden = teams.length === 0;
}

let lastReminder = 0;
/** The banner: open critical alerts nobody acknowledged (with the chime, repeated);
 *  else critical alerts that ended unacknowledged (quietly, until someone has seen them:
 *  from an audit, a critical that closed before anyone looked left no trace on the wall's
 *  top bar). */
function renderCritical() {
  const pending = feed.criticalPending();
  const missed = pending.length ? [] : feed.criticalMissed();
  const banner = $("critical");
  setHidden(banner, pending.length === 0 && missed.length === 0);
  banner.classList.toggle("missed", missed.length > 0);
  document.body.classList.toggle("has-critical", pending.length > 0);
  if (pending.length) {
    setText($("critical-text"), t("critical.banner", { n: pending.length }));
    const now = performance.now();
    if (now - lastReminder > REMIND_CRITICAL_MS) {
      lastReminder = now;
      alarm.chime("critical");
    }
  } else if (missed.length) {
    setText($("critical-text"), t("critical.missed", { n: missed.length }));
  }
}

function renderSound() {
  const button = $("sound");
  button.setAttribute("aria-pressed", String(!alarm.muted));
  button.querySelector("use").setAttribute("href", alarm.muted ? "#i-mute" : "#i-sound");
  $("sound-hint").hidden = alarm.muted || !alarm.blocked;
}

function renderStatus(status, detail = {}) {
  document.body.dataset.status = status;
  const text = $("conn-text");
  if (status === STATUS.live) text.textContent = t("conn.live");
  else if (status === STATUS.reconnecting) {
    text.textContent = detail.delayMs ? t("conn.reconnectingIn", { s: Math.max(1, Math.round(detail.delayMs / 1000)) })
      : t("conn.reconnecting");
  } else if (status === STATUS.connecting) text.textContent = t("conn.connecting");
}

// --- start-up ----------------------------------------------------------------------------

async function probe() {
  try {
    await api("/api/seats", { redirectOn401: false });
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return false;
    throw error;
  }
}

async function onUnauthorized(reason = "") {
  try {
    await api("/api/seats", { redirectOn401: false });
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused(user.role);
  }
  // The server closes the feed with its reason: "the account was disabled" when an admin
  // disabled the account here; a session ended elsewhere (signed out, expired, or the
  // account disabled from the command line) is not told apart, and the page says so.
  toLogin(reason === "the account was disabled" ? "disabled" : reason ? "ended" : "expired");
}

/** The floor's configured seats and the agents' names and teams. */
async function loadDirectory() {
  state.lastDirectoryLoad = performance.now();
  const [floor, agents] = await Promise.all([api("/api/seats?all=1"), api("/api/agents").catch(() => [])]);
  for (const agent of listOf(agents, "agents")) state.agents.set(agent.agent_id, agent);
  const configured = listOf(floor?.configured ?? [], "seats");
  state.configured = new Set(configured.map((s) => s.seat_id));
  grid.setSeats(configured.map((s) => ({ seat_id: s.seat_id, team: s.team ?? "" })));
  grid.rename();
  renderTeams();
  return floor;
}

/** The feed's alerts: the latest 200, and every one still waiting to be resolved however
 *  old (a reload once showed 204 of 222 unresolved alerts: the oldest were simply gone). */
async function loadAlerts() {
  const [recent, waiting] = await Promise.all([
    api("/api/alerts?limit=200").catch(() => []),
    api("/api/alerts?resolved=false&limit=1000").catch(() => []),
  ]);
  feed.load([...listOf(waiting, "alerts"), ...listOf(recent, "alerts")]);
}

async function loadStatic() {
  const [floor] = await Promise.all([loadDirectory(), loadAlerts()]);
  if (floor && Array.isArray(floor.seats) && !state.latest) onSeats(floor);
  state.loaded = true;
  state.seatsDirty = true;
  requestFrame();
}

function wireControls() {
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  $("team").addEventListener("change", (event) => {
    grid.setFilter({ team: event.target.value });
    renderCounts();
  });
  for (const box of document.querySelectorAll("input[name=state]")) {
    box.addEventListener("change", () => {
      const states = [...document.querySelectorAll("input[name=state]:checked")].map((b) => b.value);
      grid.setFilter({ states });
      renderCounts();
    });
  }
  const fit = $("fit");
  fit.checked = localStorage.getItem("voiceline.fit") === "1";
  grid.setFitMode(fit.checked);
  fit.addEventListener("change", () => {
    localStorage.setItem("voiceline.fit", fit.checked ? "1" : "0");
    grid.setFitMode(fit.checked);
  });
  new ResizeObserver(() => {
    if (grid.fitMode) grid.fit();
  }).observe($("grid"));
  for (const button of document.querySelectorAll("[data-feed-filter]")) {
    button.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[data-feed-filter]")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      feed.setFilter(button.dataset.feedFilter);
      requestFrame();
    });
  }
  $("critical-show").addEventListener("click", () => {
    const first = feed.criticalPending()[0] ?? feed.criticalMissed()[0];
    if (first) feed.focusAlert(first.id);
  });
  $("sound").addEventListener("click", () => alarm.toggle());
  alarm.onChange(renderSound);
  $("detail-close").addEventListener("click", () => detail.close());
  // Alt+M, not M alone: a stray key press must not silence the critical chime. By the
  // key's place (event.code), as Alt+M types "µ" on a Mac.
  document.addEventListener("keydown", (event) => {
    if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyM") {
      event.preventDefault();
      alarm.toggle();
      announce(t(alarm.muted ? "sound.nowOff" : "sound.nowOn"));
    }
  });
  onLangChange(() => {
    grid.relabel();
    feed.relabel();
    renderSound();
    renderCounts();
    renderStatus(document.body.dataset.status);
    if (detail.isOpen) detail.render();
  });
  // Durations tick on even when no message arrives (e.g. while reconnecting).
  setInterval(requestFrame, 1000);
}

function renderWho() {
  $("who").textContent = t("nav.signedInAs", { name: user.name, role: roleName(user.role) });
}

async function main() {
  applyTo(document);
  if (!user) return toLogin();
  renderWho();
  onLangChange(renderWho);
  $("lang").addEventListener("click", toggleLang);
  $("logout").addEventListener("click", () => {
    live?.stop();
    logout();
  });
  if (!WALL_ROLES.includes(user.role)) return showRefused(user.role);
  $("to-admin").hidden = user.role !== "admin"; // the admin page checks again, as does the API
  alarm = new Alarm();

  grid = new TileGrid($("grid"), { onOpen: (seatId) => detail.open(seatId), agentName, agentTeam });
  feed = new AlertFeed($("feed"), {
    onAck: (alert) => actions.acknowledge(alert),
    onResolve: (alert) => actions.openResolve(alert),
    onOpenSeat: (seatId) => detail.open(seatId),
    agentName,
    now: serverNow,
    heading: $("feed-title"),
    baselineOf: (alert) => {
      const seat = state.latestBySeat.get(alert.seat_id);
      return seat && seat.call_id === alert.call_id ? seat.baseline ?? null : null;
    },
  });
  feed.onAnnounce = announceAlert;
  actions = new AlertActions({
    feed,
    agentName,
    onRefused: () => showRefused(user.role),
    onChange: () => {
      state.seatsDirty = true;
      requestFrame();
    },
  });
  feed.onNewCritical = () => {
    lastReminder = performance.now();
    alarm.chime("critical");
  };
  detail = new SeatDetail($("detail"), {
    history,
    latestSeat: (seatId) => state.latestBySeat.get(seatId) ?? null,
    seatInfo: (seatId) => {
      const tile = grid.tiles.get(seatId);
      return tile ? { state: tile.view.state, team: tile.team, agentId: tile.agentId } : null;
    },
    agentName,
    agentTeam,
    alertsOfCall: (callId) => feed.alertsOfCall(callId),
    alert: (id) => feed.get(id),
    now: serverNow,
    onAck: (alert) => actions.acknowledge(alert),
    onResolve: (alert) => actions.openResolve(alert),
  });
  wireControls();
  renderSound();

  try {
    await loadStatic();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused(user.role);
    if (!(error instanceof ApiError)) {
      // The server is down: show the wall and keep trying through the websocket.
      renderStatus(STATUS.reconnecting);
    } else {
      throw error;
    }
  }
  $("wall-main").hidden = false;
  if (grid.fitMode) grid.fit();

  live = new LiveConnection({
    url: () => wsUrl("/ws/alerts"),
    auth: () => ({ type: "auth", token: session()?.token }),
    onMessage,
    onStatus: (status, info) => {
      renderStatus(status, info);
      if (status === STATUS.live && !state.loaded) loadStatic().catch(() => {});
    },
    probe,
    onUnauthorized,
    onReset: () => {
      // The server's event log is not the one we followed: reload the feed from it.
      loadAlerts().catch(() => {});
    },
  });
  live.start();
}

// For tests and the benchmark: the page's parts, read-only use.
window.__voiceline = {
  get grid() { return grid; },
  get feed() { return feed; },
  get live() { return live; },
  get detail() { return detail; },
  get alarm() { return alarm; },
  history,
  state,
  formatDuration,
  onSeats, // the benchmark and tests feed snapshots the server would send
};

main();
