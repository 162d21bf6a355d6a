// The alert feed: newest first, each alert with kind, severity, agent, seat, how long, and
// why in plain words, with acknowledge and resolve buttons.
//
// Alerts are kept by id; every event carries the alert's whole state, and the newer state
// (by updated time, then by event id) wins, so the REST page loaded at start and events
// arriving in any order settle on the same picture. Items are redrawn only when their
// alert changed, plus the "how long" of open ones once a second. The list is not a live
// region (its timers would flood a screen reader): onAnnounce says each new or escalated
// alert once. A redraw that hides the focused button moves focus on, never to the page.

import { POPULATION, explainDrivers, formatDuration, lang, t } from "./i18n.js";

const MAX_ITEMS = 300;
const SVG_NS = "http://www.w3.org/2000/svg";

/** When an alert opened, on the supervisor's clock: "14:32", with the date when it was not
 *  today (an audit found only durations: over a shift, no one could tell when). */
export function openedAt(openedS, nowS = Date.now() / 1000) {
  const when = new Date(openedS * 1000);
  const locale = lang() === "zh" ? "zh-CN" : "en-GB";
  const time = when.toLocaleTimeString(locale, { hour: "2-digit", minute: "2-digit" });
  if (when.toDateString() === new Date(nowS * 1000).toDateString()) return time;
  return `${when.toLocaleDateString(locale, { month: "2-digit", day: "2-digit" })} ${time}`;
}

/** How an alert ended, in words: the voice settled, fell silent, the call ended, or the
 *  server stopped during it (an audit found "recovered" and a call cut off both shown as
 *  just "ended"). */
function closedWhy(reason) {
  if (!reason) return "";
  const known = {
    recovered: "feed.why.recovered",
    silence: "feed.why.silence",
    "call ended": "feed.why.callEnded",
    "server stopped": "feed.why.serverStopped",
  };
  return t("feed.why", { why: known[reason] ? t(known[reason]) : reason });
}

export function seatOf(alert) {
  return alert.seat_id ?? alert.seat ?? "";
}

export function needsAction(alert) {
  return !alert.resolved_s && !alert.resolved_by;
}

export function isAcknowledged(alert) {
  return Boolean(alert.acknowledged_s || alert.acknowledged_by);
}

function newer(candidate, current) {
  if (!current) return true;
  const a = candidate.updated_s ?? 0;
  const b = current.updated_s ?? 0;
  if (a !== b) return a > b;
  return (candidate._event ?? 0) >= (current._event ?? 0);
}

export class AlertFeed {
  /**
   * @param {HTMLElement} list  the <ol> that holds the items
   * @param {object} hooks
   * @param {(alert) => void} hooks.onAck
   * @param {(alert) => void} hooks.onResolve
   * @param {(seatId: string) => void} hooks.onOpenSeat
   * @param {(agentId: string) => string} hooks.agentName
   * @param {() => number} hooks.now  server time, unix s
   * @param {HTMLElement} [hooks.heading]  takes focus when no alert needs action any more
   *   (tabindex="-1")
   * @param {(alert) => string|null} [hooks.baselineOf]  "agent" or "population": what the
   *   alert's call is judged against, where known (a live call's seat snapshot), for an
   *   alert stored without its ``baseline``
   */
  constructor(list, { onAck, onResolve, onOpenSeat, agentName, now, heading = null,
    baselineOf = () => null }) {
    this.list = list;
    this.hooks = { onAck, onResolve, onOpenSeat, agentName, now, baselineOf };
    this.heading = heading;
    this.alerts = new Map(); // id → alert
    this.items = new Map(); // id → {el, parts}
    this.dirty = new Set();
    this.filter = "all";
    this.onNewCritical = () => {};
    this.onAnnounce = () => {}; // (alert, escalated): a live alert opened or became critical
    this.errors = new Map(); // id → message of a failed action
    list.addEventListener("click", (event) => this._onClick(event));
  }

  /** Alerts from GET /api/alerts (any order). */
  load(alerts) {
    for (const alert of alerts) this.upsert(alert, 0, false);
  }

  /** One websocket alert message: {event_id, event, alert}. */
  apply(message) {
    const alert = message.alert;
    if (!alert || alert.id === undefined) return;
    const before = this.alerts.get(alert.id);
    const applied = this.upsert(alert, message.event_id ?? 0, true);
    if (!applied) return;
    const after = this.alerts.get(alert.id);
    const becameCritical = after.severity === "critical" && after.state === "open"
      && !isAcknowledged(after) && (!before || before.severity !== "critical");
    if (becameCritical) this.onNewCritical(after);
    const escalated = Boolean(before) && before.severity !== "critical" && after.severity === "critical";
    if (after.state === "open" && (!before || escalated)) this.onAnnounce(after, escalated);
  }

  upsert(alert, eventId = 0, live = false) {
    const current = this.alerts.get(alert.id);
    const candidate = { ...alert, _event: eventId, _live: live || current?._live };
    if (!newer(candidate, current)) return false;
    this.alerts.set(alert.id, candidate);
    this.errors.delete(alert.id);
    this.dirty.add(alert.id);
    return true;
  }

  get(id) {
    return this.alerts.get(id);
  }

  setFilter(filter) {
    this.filter = filter;
    for (const id of this.alerts.keys()) this.dirty.add(id);
  }

  /** Open alerts per seat, the most severe first: seat → {severity, acked, id}. */
  openBySeat() {
    const bySeat = new Map();
    for (const alert of this.alerts.values()) {
      if (alert.state !== "open") continue;
      const seat = seatOf(alert);
      const have = bySeat.get(seat);
      const acked = isAcknowledged(alert);
      if (!have || (alert.severity === "critical" && have.severity !== "critical")
        || (have.acked && !acked)) {
        bySeat.set(seat, { severity: alert.severity, acked: have ? have.acked && acked : acked, id: alert.id });
      }
    }
    return bySeat;
  }

  /** Open critical alerts nobody has acknowledged yet, newest first. */
  criticalPending() {
    return [...this.alerts.values()]
      .filter((a) => a.severity === "critical" && a.state === "open" && !isAcknowledged(a))
      .sort((a, b) => b.id - a.id);
  }

  /** Critical alerts that ended before anyone acknowledged them, newest first: nobody
   *  can step into that call any more, but a supervisor still wants to know of it (to
   *  talk with the agent, or to call the caller back) until one of them has seen it. */
  criticalMissed() {
    return [...this.alerts.values()]
      .filter((a) => a.severity === "critical" && a.state === "closed" && !isAcknowledged(a))
      .sort((a, b) => b.id - a.id);
  }

  alertsOfCall(callId) {
    return [...this.alerts.values()].filter((a) => a.call_id === callId).sort((a, b) => b.id - a.id);
  }

  setError(id, message) {
    this.errors.set(id, message);
    this.dirty.add(id);
  }

  /** Redraw changed items, and the duration of open ones. */
  render() {
    const now = this.hooks.now();
    const focused = this.dirty.size && this.list.contains(document.activeElement) ? document.activeElement : null;
    for (const id of this.dirty) this._renderItem(id, now);
    this.dirty.clear();
    if (focused?.closest("[hidden]")) this._moveFocusOn(focused);
    for (const [id, item] of this.items) {
      const alert = this.alerts.get(id);
      if (alert && alert.state === "open") this._renderTiming(item, alert, now);
    }
    this._trim();
    this.list.dataset.empty = String(![...this.items.values()].some((item) => !item.el.hidden));
  }

  /** Redraw every item (language change). */
  relabel() {
    for (const id of this.alerts.keys()) this.dirty.add(id);
    this.render();
  }

  focusAlert(id) {
    const item = this.items.get(id);
    if (!item) return;
    item.el.scrollIntoView({ block: "nearest" });
    (item.parts.ack.hidden ? item.parts.resolve : item.parts.ack).focus();
  }

  // --- internals -----------------------------------------------------------------------

  /** The focused button was hidden by a redraw (acknowledged, resolved, filtered out):
   *  focus its item's Resolve button, else the nearest alert still needing action (the
   *  next one down, else up), else the feed's heading. */
  _moveFocusOn(button) {
    const el = button.closest(".alert");
    const item = this.items.get(Number(el.dataset.id));
    if (item && !el.hidden && !item.parts.resolve.hidden) {
      item.parts.resolve.focus();
      return;
    }
    const waiting = (child) => {
      const alert = this.alerts.get(Number(child.dataset.id));
      return !child.hidden && alert && needsAction(alert);
    };
    let next = el.nextElementSibling;
    while (next && !waiting(next)) next = next.nextElementSibling;
    if (!next) {
      next = el.previousElementSibling;
      while (next && !waiting(next)) next = next.previousElementSibling;
    }
    if (next) this.focusAlert(Number(next.dataset.id));
    else this.heading?.focus();
  }

  _renderItem(id, now) {
    const alert = this.alerts.get(id);
    if (!alert) return;
    let item = this.items.get(id);
    if (!item) {
      item = this._create(alert);
      this.items.set(id, item);
      this._insert(item.el, id);
    }
    const { el, parts } = item;
    el.dataset.severity = alert.severity;
    el.dataset.state = alert.state;
    el.dataset.kind = alert.kind;
    el.dataset.acked = String(isAcknowledged(alert));
    el.dataset.resolved = String(!needsAction(alert));
    el.hidden = this.filter === "action" && !needsAction(alert);
    parts.severity.textContent = t(`severity.${alert.severity}`);
    parts.icon.firstChild.setAttribute("href", alert.severity === "critical" ? "#i-alert" : "#i-warn");
    parts.kind.textContent = t(`kind.${alert.kind}`);
    const agentLabel = alert.agent_id ? this.hooks.agentName(alert.agent_id) : "";
    parts.agent.textContent = agentLabel && agentLabel !== alert.agent_id
      ? `${agentLabel} · ${alert.agent_id}` : (alert.agent_id ?? "");
    parts.seat.textContent = t("feed.seat", { seat: seatOf(alert) });
    parts.why.title = alert.explanation ?? "";
    this._renderTiming(item, alert, now);
    let status = "";
    if (!needsAction(alert)) {
      status = alert.resolution_note
        ? t("feed.resolved", { user: alert.resolved_by ?? "", note: alert.resolution_note })
        : t("feed.resolvedNoNote", { user: alert.resolved_by ?? "" });
    } else if (isAcknowledged(alert)) {
      status = t("feed.acked", { user: alert.acknowledged_by ?? "" });
    }
    parts.status.textContent = status;
    parts.status.hidden = !status;
    parts.handled.textContent = t("feed.handled");
    parts.handled.hidden = needsAction(alert);
    const error = this.errors.get(id);
    parts.error.textContent = error ?? "";
    parts.error.hidden = !error;
    parts.ack.textContent = t("feed.ack");
    parts.resolve.textContent = t("feed.resolve");
    parts.ack.hidden = isAcknowledged(alert);
    parts.resolve.hidden = !needsAction(alert);
    parts.seat.title = t("feed.openSeat");
  }

  _renderTiming(item, alert, now) {
    const end = alert.closed_s ?? now;
    const seconds = Math.max(0, end - alert.opened_s);
    const text = `${openedAt(alert.opened_s, now)} · ` + (alert.state === "open"
      ? t("feed.ongoing", { d: formatDuration(seconds) })
      : t("feed.ended", { d: formatDuration(seconds) }) + closedWhy(alert.close_reason));
    if (item.parts.when.textContent !== text) item.parts.when.textContent = text;
    // The stored alert names its baseline (since schema 11); older alerts fall back to
    // the seat's live call.
    const judgedBy = alert.baseline ?? this.hooks.baselineOf(alert);
    const agentLabel = judgedBy === "population" ? POPULATION
      : alert.agent_id ? this.hooks.agentName(alert.agent_id) : null;
    const drivers = Array.isArray(alert.drivers) ? alert.drivers : [];
    const why = drivers.length || !alert.explanation
      ? explainDrivers(drivers, agentLabel, seconds, undefined, false)
      : alert.explanation;
    if (item.parts.why.textContent !== why) item.parts.why.textContent = why;
  }

  _create(alert) {
    const el = document.createElement("li");
    el.className = "alert";
    el.dataset.id = String(alert.id);
    const head = div("a-head");
    const icon = document.createElementNS(SVG_NS, "svg");
    icon.setAttribute("class", "ico");
    icon.setAttribute("aria-hidden", "true");
    icon.append(document.createElementNS(SVG_NS, "use"));
    const severity = spanOf("sev");
    const kind = spanOf("kind");
    const when = spanOf("when");
    const handled = spanOf("badge handled");
    head.append(icon, severity, kind, handled, when);
    const who = div("a-who");
    const seat = document.createElement("button");
    seat.type = "button";
    seat.className = "link-button seat-link";
    seat.dataset.action = "seat";
    const agent = spanOf("agent");
    who.append(seat, agent);
    const why = document.createElement("p");
    why.className = "a-why";
    const status = document.createElement("p");
    status.className = "a-status";
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    const actions = div("a-actions");
    const ack = document.createElement("button");
    ack.type = "button";
    ack.dataset.action = "ack";
    ack.className = "ack";
    const resolve = document.createElement("button");
    resolve.type = "button";
    resolve.dataset.action = "resolve";
    resolve.className = "resolve";
    actions.append(ack, resolve);
    // "确认" and "处理" repeat down the list: each says which alert it acts on.
    const key = `alert-${alert.id}`;
    severity.id = `${key}-sev`;
    kind.id = `${key}-kind`;
    seat.id = `${key}-seat`;
    agent.id = `${key}-agent`;
    const about = [severity.id, kind.id, seat.id, agent.id].join(" ");
    ack.setAttribute("aria-describedby", about);
    resolve.setAttribute("aria-describedby", about);
    el.append(head, who, why, status, error, actions);
    return { el, parts: { icon, severity, kind, handled, when, seat, agent, why, status, error, ack, resolve } };
  }

  /** Insert newest first (by id), wherever an older alert loaded late belongs. */
  _insert(el, id) {
    let before = null;
    for (const child of this.list.children) {
      if (Number(child.dataset.id) < id) {
        before = child;
        break;
      }
    }
    this.list.insertBefore(el, before);
  }

  /** Keep the list short: drop the oldest alerts nobody needs to act on. */
  _trim() {
    if (this.items.size <= MAX_ITEMS) return;
    const ids = [...this.items.keys()].sort((a, b) => a - b);
    for (const id of ids) {
      if (this.items.size <= MAX_ITEMS) break;
      const alert = this.alerts.get(id);
      // An alert that is still open or not yet resolved stays, however old: only those
      // nobody needs to act on make room (an audit found older unresolved alerts gone).
      if (alert && (alert.state === "open" || needsAction(alert))) continue;
      this.items.get(id).el.remove();
      this.items.delete(id);
      this.alerts.delete(id);
    }
  }

  _onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = Number(button.closest(".alert").dataset.id);
    const alert = this.alerts.get(id);
    if (!alert) return;
    if (button.dataset.action === "ack") this.hooks.onAck(alert);
    else if (button.dataset.action === "resolve") this.hooks.onResolve(alert);
    else if (button.dataset.action === "seat") this.hooks.onOpenSeat(seatOf(alert));
  }
}

function div(className) {
  const el = document.createElement("div");
  el.className = className;
  return el;
}

function spanOf(className) {
  const el = document.createElement("span");
  el.className = className;
  return el;
}
