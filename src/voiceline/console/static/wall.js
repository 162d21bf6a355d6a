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
import { Announcer } from "./announcer.js";
import { ApiError, api, logout, session, toLogin, wsUrl } from "./api.js";
import { SeatDetail } from "./detail.js";
import { AlertFeed } from "./feed.js";
import { STRESS_POINTS, renderCounts, renderStrip, renderTeams } from "./floor.js";
import { SeatHistory } from "./history.js";
import { applyTo, formatDuration, onLangChange, roleName, t, toggleLang } from "./i18n.js";
import { DropWatch } from "./lag.js";
import { LiveConnection, STATUS } from "./live.js";
import { Alarm } from "./sound.js";
import { TileGrid } from "./tiles.js";

/** Roles the server lets read the wall (it refuses the others' calls anyway). */
const WALL_ROLES = ["supervisor", "admin"];
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
const drops = new DropWatch($("lag"));
const announcer = new Announcer({ urgent: $("announce-urgent"), polite: $("announce-polite"), agentName });

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
    renderStrip(state.latest, grid, feed, state.stress);
    renderCounts(grid);
    if (grid.teamsChanged) {
      grid.teamsChanged = false;
      renderTeams(grid);
    }
  }
  feed.render();
  renderCritical();
  if (detail.isOpen) detail.render();
  state.frames += 1;
  state.frameMs.push(performance.now() - start);
  if (state.frameMs.length > 120) state.frameMs.shift();
}

function onSeats(message) {
  const seats = Array.isArray(message.seats) ? message.seats : [];
  drops.update(seats, Number.isFinite(Number(message.t)) ? Number(message.t) : Date.now() / 1000);
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
  if (message.type === "seats") {
    announcer.replayOver(); // the server's catch-up comes before its snapshots
    onSeats(message);
  } else if (message.type === "alert") announcer.event(message, onAlert);
  else if (message.type === "hello") announcer.hello(message);
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
  renderTeams(grid);
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
    renderCounts(grid);
  });
  for (const box of document.querySelectorAll("input[name=state]")) {
    box.addEventListener("change", () => {
      const states = [...document.querySelectorAll("input[name=state]:checked")].map((b) => b.value);
      grid.setFilter({ states });
      renderCounts(grid);
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
      announcer.say(t(alarm.muted ? "sound.nowOff" : "sound.nowOn"));
    }
  });
  onLangChange(() => {
    grid.relabel();
    feed.relabel();
    renderSound();
    renderCounts(grid);
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
  feed.onAnnounce = (alert, escalated) => announcer.alert(alert, escalated);
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
