// The wall's seat tiles: one per seat, updated in place, only where something changed.
//
// update() takes a whole floor snapshot (hundreds to a thousand seats, once a second) and
// touches the DOM only for tiles whose shown values differ from what they show now:
// state, agent name, deviation (rounded to what is displayed). It reads no layout, so the
// browser lays out and paints once, after it returns. A tile is a few spans; its state
// is one attribute, from which the stylesheet draws the colour, the icon and the word
// (``--t-state-*`` and, for an alert, ``--t-sev-*`` custom properties, set per language by
// setStateWords), so a change of state costs one attribute write; the word is part of the
// tile's accessible name ("S005 3.4σ 陈芳 严重"). The tiles are a group of buttons that
// open the seat's dialog, with a roving tabindex (one Tab stop for the wall, arrow keys
// move between seats, Enter opens one).

import { t } from "./i18n.js";

export const STATES = ["idle", "in_call", "speaking", "alert"];

/** Give the stylesheet the state and severity words of the current language (tiles show them). */
export function setStateWords(root = document.documentElement) {
  for (const state of STATES) root.style.setProperty(`--t-state-${state}`, JSON.stringify(t(`state.${state}`)));
  for (const severity of ["warning", "critical"]) {
    root.style.setProperty(`--t-sev-${severity}`, JSON.stringify(t(`severity.${severity}`)));
  }
}

/** Deviation (in σ of the agent's own baseline) → 0..3 for the tile's colour strength. */
export function deviationLevel(dev) {
  if (!Number.isFinite(dev)) return 0;
  const a = Math.abs(dev);
  return a < 1 ? 0 : a < 2 ? 1 : a < 3 ? 2 : 3;
}

function formatDeviation(dev) {
  return Number.isFinite(dev) ? `${dev.toFixed(1)}σ` : "";
}

function countOf(value) {
  if (Array.isArray(value)) return value.length;
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
}

/** What a tile shows for one seat of a snapshot (or ``null``: the seat is idle). */
export function tileView(seat, agentName, alert) {
  if (!seat) {
    return { state: "idle", severity: "", acked: "", dev: "", level: 0 };
  }
  const open = countOf(seat.open_alerts) > 0 || Boolean(alert);
  const state = open ? "alert" : seat.agent_speaking ? "speaking" : "in_call";
  const dev = typeof seat.deviation === "number" ? seat.deviation : NaN;
  return {
    state,
    severity: open ? (alert?.severity ?? "warning") : "",
    acked: open && alert?.acked ? "1" : "",
    dev: formatDeviation(dev),
    level: deviationLevel(dev),
    agent: seat.agent_id ? agentName(seat.agent_id) : "",
  };
}

export class TileGrid {
  /**
   * @param {HTMLElement} container  the grid element (role="group" is set here)
   * @param {object} [options]
   * @param {(seatId: string) => void} [options.onOpen]  Enter or click on a tile
   * @param {(agentId: string) => string} [options.agentName]
   * @param {(agentId: string) => string} [options.agentTeam]  for seats configured without a team
   */
  constructor(container, { onOpen = () => {}, agentName = (id) => id, agentTeam = () => "" } = {}) {
    this.container = container;
    this.onOpen = onOpen;
    this.agentName = agentName;
    this.agentTeam = agentTeam;
    this.tiles = new Map(); // seat_id → {el, parts, view, team, hidden}
    this.order = [];
    this.filter = { team: "", states: new Set(STATES) };
    this.fitMode = false;
    this.visibleCount = 0;
    this.stats = { updates: 0, lastMs: 0, changedTiles: 0 };
    this._active = null;
    container.setAttribute("role", "group");
    setStateWords();
    container.addEventListener("click", (event) => {
      const el = event.target.closest(".tile");
      if (el) {
        this._setActive(el.dataset.seat, false);
        this.onOpen(el.dataset.seat);
      }
    });
    container.addEventListener("keydown", (event) => this._onKey(event));
  }

  /** Make tiles for the floor's configured seats (``[{seat_id, team, label}]``). */
  setSeats(seats) {
    const fragment = document.createDocumentFragment();
    let added = false;
    for (const seat of seats) {
      const tile = this.tiles.get(seat.seat_id);
      if (tile) {
        tile.team = seat.team ?? tile.team;
        continue;
      }
      fragment.append(this._create(seat.seat_id, seat.team ?? "").el);
      added = true;
    }
    if (added) this._append(fragment);
  }

  teams() {
    return [...new Set([...this.tiles.values()].map((tile) => tile.team).filter(Boolean))].sort();
  }

  /**
   * Show a floor snapshot.
   *
   * @param {Array<object>} seats  the snapshot's seats (seats without a call are absent)
   * @param {Map<string, {severity: string, acked: boolean}>} [alerts]  open alerts per seat
   * @returns {number} tiles changed
   */
  update(seats, alerts = new Map()) {
    const start = performance.now();
    const visibleBefore = this.visibleCount;
    const seen = new Set();
    let created = null;
    let changed = 0;
    let recount = false;
    for (const seat of seats) {
      const id = seat.seat_id;
      if (typeof id !== "string") continue;
      seen.add(id);
      let tile = this.tiles.get(id);
      if (!tile) {
        tile = this._create(id, "");
        (created ??= []).push(tile);
      }
      if (seat.agent_id && seat.agent_id !== tile.agentId) {
        tile.agentId = seat.agent_id;
        const team = tile.team || this.agentTeam(seat.agent_id) || "";
        if (team !== tile.team) {
          tile.team = team;
          recount = true;
        }
      }
      if (this._apply(tile, tileView(seat, this.agentName, alerts.get(id)))) changed += 1;
    }
    for (const [id, tile] of this.tiles) {
      if (!seen.has(id) && tile.view.state !== "idle") {
        if (this._apply(tile, tileView(null, this.agentName, null))) changed += 1;
      }
    }
    if (recount) {
      this.teamsChanged = true;
      let visible = 0;
      for (const tile of this.tiles.values()) if (this._applyHidden(tile)) visible += 1;
      this.visibleCount = visible;
    }
    if (created) {
      const fragment = document.createDocumentFragment();
      for (const tile of created) fragment.append(tile.el);
      this._append(fragment);
    } else if (this.fitMode && this.visibleCount !== visibleBefore) {
      this.fit();
    }
    this.stats.updates += 1;
    this.stats.changedTiles = changed;
    this.stats.lastMs = performance.now() - start;
    return changed;
  }

  setFilter({ team, states }) {
    if (team !== undefined) this.filter.team = team;
    if (states !== undefined) this.filter.states = new Set(states);
    let visible = 0;
    for (const tile of this.tiles.values()) if (this._applyHidden(tile)) visible += 1;
    this.visibleCount = visible;
    if (this.fitMode) this.fit();
  }

  /** Show the state words of the current language. */
  relabel() {
    setStateWords();
  }

  /** Re-read agent names (after the agents list arrives). */
  rename() {
    for (const tile of this.tiles.values()) {
      if (!tile.agentId) continue;
      tile.view.agent = this.agentName(tile.agentId);
      tile.parts.name.textContent = tile.view.agent;
    }
  }

  setFitMode(on) {
    this.fitMode = Boolean(on);
    this.container.classList.toggle("fit", this.fitMode);
    if (this.fitMode) this.fit();
    else {
      this.container.style.removeProperty("--cols");
      this.container.style.removeProperty("--tile-h");
      this.container.style.removeProperty("--tile-font");
    }
  }

  /** Size tiles so that all visible ones fit the grid's box (for a wall display). */
  fit() {
    const n = Math.max(this.visibleCount, 1);
    const style = getComputedStyle(this.container);
    const gap = parseFloat(style.columnGap) || 4;
    const width = this.container.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const height = this.container.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    const size = fitTiles(n, width, height, gap);
    this.container.style.setProperty("--cols", String(size.cols));
    this.container.style.setProperty("--tile-h", `${Math.floor(size.h)}px`);
    this.container.style.setProperty("--tile-font", `${size.font.toFixed(1)}px`);
    this.container.classList.toggle("dense", size.h < 46);
  }

  focusSeat(seatId) {
    const tile = this.tiles.get(seatId);
    if (!tile) return;
    this._setActive(seatId, true);
  }

  // --- internals -----------------------------------------------------------------------

  _create(seatId, team) {
    const el = document.createElement("div");
    el.className = "tile";
    el.dataset.seat = seatId;
    el.dataset.state = "idle";
    el.setAttribute("role", "button");
    el.setAttribute("aria-haspopup", "dialog");
    el.tabIndex = this._active === null ? 0 : -1;
    if (this._active === null) this._active = seatId;
    const seat = span("seat", seatId);
    const dev = span("dev", "");
    const name = span("name", "");
    const state = span("st", "");
    el.append(seat, dev, name, state);
    const tile = {
      seatId, el, team, agentId: null, hidden: false,
      parts: { dev, name },
      view: { state: "idle", severity: "", acked: "", dev: "", level: 0, agent: "" },
    };
    this.tiles.set(seatId, tile);
    this._applyHidden(tile);
    return tile;
  }

  _append(fragment) {
    this.container.append(fragment);
    // Keep seats in id order when new ones arrive out of order (rare: a seat not configured).
    const els = [...this.container.children];
    const sorted = [...els].sort((a, b) => compareSeat(a.dataset.seat, b.dataset.seat));
    if (sorted.some((el, i) => el !== els[i])) this.container.append(...sorted);
    this.visibleCount = [...this.tiles.values()].filter((tile) => !tile.hidden).length;
    if (this.fitMode) this.fit();
  }

  /** Write the differences between ``view`` and what the tile shows; true if any. */
  _apply(tile, view) {
    const old = tile.view;
    const { el, parts } = tile;
    let changed = false;
    if (view.state !== old.state) {
      el.dataset.state = view.state;
      changed = true;
    }
    if (view.severity !== old.severity) {
      if (view.severity) el.dataset.severity = view.severity;
      else delete el.dataset.severity;
      changed = true;
    }
    if (view.acked !== old.acked) {
      if (view.acked) el.dataset.acked = "1";
      else delete el.dataset.acked;
      changed = true;
    }
    if (view.dev !== old.dev) {
      parts.dev.textContent = view.dev;
      changed = true;
    }
    if (view.level !== old.level) {
      el.dataset.level = String(view.level);
      changed = true;
    }
    // An idle seat keeps showing the agent last seen on it.
    const agent = view.agent === undefined ? old.agent : view.agent;
    if (agent !== old.agent) {
      parts.name.textContent = agent;
      changed = true;
    }
    if (!changed) return false;
    tile.view = { ...view, agent };
    if (view.state !== old.state && this.filter.states.size !== STATES.length) {
      const wasHidden = tile.hidden;
      if (this._applyHidden(tile) === wasHidden) {
        this.visibleCount += wasHidden ? 1 : -1;
      }
    }
    return true;
  }

  /** Hide or show a tile by the filter; returns whether it is visible. */
  _applyHidden(tile) {
    const visible = (!this.filter.team || tile.team === this.filter.team)
      && this.filter.states.has(tile.view.state);
    if (tile.hidden === visible) {
      tile.hidden = !visible;
      tile.el.hidden = !visible;
    }
    return visible;
  }

  _setActive(seatId, focus) {
    if (this._active !== seatId) {
      const old = this.tiles.get(this._active);
      if (old) old.el.tabIndex = -1;
      this._active = seatId;
    }
    const tile = this.tiles.get(seatId);
    if (!tile) return;
    tile.el.tabIndex = 0;
    if (focus) tile.el.focus();
  }

  _onKey(event) {
    const el = event.target.closest?.(".tile");
    if (!el) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.onOpen(el.dataset.seat);
      return;
    }
    const moves = { ArrowLeft: -1, ArrowRight: 1, Home: "first", End: "last" };
    let step = moves[event.key];
    if (event.key === "ArrowUp" || event.key === "ArrowDown") {
      const cols = getComputedStyle(this.container).gridTemplateColumns.split(" ").length;
      step = event.key === "ArrowUp" ? -cols : cols;
    }
    if (step === undefined) return;
    event.preventDefault();
    const visible = [...this.container.children].filter((child) => !child.hidden);
    const index = visible.indexOf(el);
    let target;
    if (step === "first") target = visible[0];
    else if (step === "last") target = visible.at(-1);
    else target = visible[Math.min(Math.max(index + step, 0), visible.length - 1)];
    if (target) this._setActive(target.dataset.seat, true);
  }
}

function span(className, text) {
  const el = document.createElement("span");
  el.className = className;
  el.textContent = text;
  return el;
}

/**
 * Columns, tile height and font size that show ``n`` tiles in a ``width`` × ``height``
 * box with the largest tiles. A tile is at least 1.5 times as wide as high, and its text
 * (seat id, deviation, name: about 7.8 em across) must fit its width; tiles never get
 * smaller than 56 × 30 px with 9 px text (the box scrolls instead).
 */
export function fitTiles(n, width, height, gap) {
  let best = null;
  for (let cols = 1; cols <= n; cols += 1) {
    const w = (width - (cols - 1) * gap) / cols;
    if (w < 56) break;
    const rows = Math.ceil(n / cols);
    const h = Math.min((height - (rows - 1) * gap) / rows, w / 1.5, 120);
    const font = Math.min(h * 0.22, w / 7.8, 20);
    if (h < 30 || font < 9) continue;
    const area = Math.min(w, h * 2.6) * h; // width beyond 2.6 h is wasted
    if (!best || area > best.area) best = { cols, h, font, area };
  }
  if (best) return best;
  return { cols: Math.max(1, Math.floor((width + gap) / (70 + gap))), h: 30, font: 9, area: 0 };
}

/** Seat ids in natural order: "S2" before "S10". */
export function compareSeat(a, b) {
  return a.localeCompare(b, undefined, { numeric: true });
}
