// The seat detail: the agent's live loudness, pitch and speaking rate over the last minutes
// against the band of their own baseline, and the alerts of the current call.
//
// The traces are the page's own history of the seat snapshots, completed on opening with
// the server's (GET /api/seats/{id}/history), so that they reach back before the page was
// opened. The band comes from GET /api/agents/{id}/baseline (median and 5/25/75/95 %
// quantiles per feature, asked again on opening and after a minute). Pitch baselines are
// in semitones re 27.5 Hz (as the engine measures them) and are drawn in hertz, as the
// live values come.

import { api } from "./api.js";
import { drawSeries } from "./charts.js";
import { POPULATION, explainDrivers, formatDuration, t } from "./i18n.js";

const MAX_WINDOW_S = 300;
const MIN_WINDOW_S = 60;
const BASELINE_MAX_AGE_MS = 60_000;
const F0_REF_HZ = 27.5;

const CHARTS = [
  // Through a corrected line (the seat's line_db, emotion.line_level) the usual loudness
  // reads 2^(dB/10) times its calibrated value, and so does the band shown.
  { field: "loudness_sone", label: "detail.loudness", unit: "detail.unitSone", throughLine: true,
    baseline: ["loudness_mean_sone", "loudness_n5_sone", "loudness_sone"], convert: (v) => v },
  { field: "f0_hz", label: "detail.pitch", unit: "detail.unitHz",
    baseline: ["f0_median_st", "f0_hz"], convert: (v, name) => (name.endsWith("_st") ? F0_REF_HZ * 2 ** (v / 12) : v) },
  { field: "speech_rate_syl_s", label: "detail.rate", unit: "detail.unitRate",
    baseline: ["speech_rate_syl_s"], convert: (v) => v },
];

/**
 * The seat's line against the agent's calibration, in words: the level read from the
 * call's calm speech and the correction its voice is judged through (emotion.line_level).
 */
export function lineFact(seat) {
  if (!seat || seat.scored === false || seat.baseline !== "agent") return "–";
  const db = (v) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(1)} dB`;
  const corrected = Number.isFinite(seat.line_db) && seat.line_db !== 0;
  if (!Number.isFinite(seat.line_read_db)) {
    return corrected ? t("detail.lineCarried", { db: db(seat.line_db) }) : t("detail.lineReading");
  }
  return corrected ? t("detail.lineCorrected", { read: db(seat.line_read_db), db: db(seat.line_db) })
    : t("detail.lineUsual", { read: db(seat.line_read_db) });
}

/**
 * The band of one feature from a baseline in either of two shapes: the engine's JSON
 * (feature_names + median/sigma lists + quantiles of lists) or a per-feature mapping
 * ({features: {name: {median, sigma, q05, …}}} or {name: {…}}).
 */
export function bandOf(baseline, names, convert) {
  if (!baseline) return null;
  for (const name of names) {
    let stats = null;
    if (Array.isArray(baseline.feature_names)) {
      const i = baseline.feature_names.indexOf(name);
      if (i >= 0) {
        const q = baseline.quantiles ?? {};
        stats = { median: baseline.median?.[i], sigma: baseline.sigma?.[i], q05: q.q05?.[i], q25: q.q25?.[i], q75: q.q75?.[i], q95: q.q95?.[i] };
      }
    } else {
      const table = baseline.features ?? baseline;
      const entry = table[name];
      if (entry && typeof entry === "object") {
        const q = entry.quantiles ?? entry;
        stats = { median: entry.median, sigma: entry.sigma, q05: q.q05, q25: q.q25, q75: q.q75, q95: q.q95 };
      }
    }
    if (!stats || !Number.isFinite(stats.median)) continue;
    const sigma = Number.isFinite(stats.sigma) ? stats.sigma : NaN;
    // Without quantiles, the band is median ± 1.645 σ (5–95 % of a normal) and ± 0.674 σ.
    const pick = (q, k) => (Number.isFinite(q) ? q : stats.median + k * sigma);
    const raw = { q05: pick(stats.q05, -1.645), q25: pick(stats.q25, -0.674), median: stats.median,
      q75: pick(stats.q75, 0.674), q95: pick(stats.q95, 1.645) };
    const band = {};
    for (const [key, value] of Object.entries(raw)) band[key] = convert(value, name);
    return band;
  }
  return null;
}

export class SeatDetail {
  /**
   * @param {HTMLDialogElement} dialog
   * @param {object} hooks  {history, latestSeat(seatId), seatInfo(seatId), agentName, agentTeam,
   *   alertsOfCall(callId), now(), onAck(alert), onResolve(alert)}
   */
  constructor(dialog, hooks) {
    this.dialog = dialog;
    this.hooks = hooks;
    this.seatId = null;
    this.baselines = new Map(); // agent → {value, none, at, pending}
    this.parts = {
      title: dialog.querySelector("[data-part=title]"),
      facts: dialog.querySelector("[data-part=facts]"),
      charts: dialog.querySelector("[data-part=charts]"),
      note: dialog.querySelector("[data-part=note]"),
      alerts: dialog.querySelector("[data-part=alerts]"),
    };
    this.rows = new Map(); // alert id → {el, parts}, the alert list's rows
    this.emptyRow = document.createElement("li");
    this.emptyRow.className = "empty";
    this.chartEls = CHARTS.map((spec) => {
      const figure = document.createElement("figure");
      figure.className = "chart";
      figure.dataset.field = spec.field;
      const caption = document.createElement("figcaption");
      const name = document.createElement("span");
      name.className = "chart-name";
      const value = document.createElement("span");
      value.className = "chart-value";
      caption.append(name, value);
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("role", "img");
      figure.append(caption, svg);
      this.parts.charts.append(figure);
      return { spec, figure, name, value, svg };
    });
    dialog.addEventListener("close", () => {
      this.seatId = null;
    });
    this.parts.alerts.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const alert = this.hooks.alert(Number(button.dataset.id));
      if (!alert) return;
      if (button.dataset.action === "ack") this.hooks.onAck(alert);
      else this.hooks.onResolve(alert);
    });
  }

  get isOpen() {
    return this.dialog.open && this.seatId !== null;
  }

  open(seatId) {
    this.seatId = seatId;
    const agentId = this.hooks.latestSeat(seatId)?.agent_id;
    const known = agentId ? this.baselines.get(agentId) : undefined;
    if (known && !known.pending) known.at = -Infinity; // asked again on opening
    if (!this.dialog.open) this.dialog.showModal();
    this.render();
    this._loadHistory(seatId);
  }

  /** Merge the server's last minutes of the seat into the page's history, then redraw. */
  _loadHistory(seatId) {
    const since = Math.floor(this.hooks.now() - MAX_WINDOW_S);
    api(`/api/seats/${encodeURIComponent(seatId)}/history?since=${since}`)
      .then((body) => {
        if (!Array.isArray(body?.points)) return;
        const merged = this.hooks.history.merge(seatId, body.agent_id ?? null, body.points);
        if (merged && this.seatId === seatId) this.render();
      })
      .catch(() => {}); // the page's own history still shows
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  render() {
    if (!this.isOpen) return;
    const seatId = this.seatId;
    const seat = this.hooks.latestSeat(seatId);
    const info = this.hooks.seatInfo(seatId);
    const agentId = seat?.agent_id ?? info?.agentId ?? null;
    this.parts.title.textContent = t("detail.title", { seat: seatId });
    const stateKey = info ? `state.${info.state}` : "state.idle";
    const facts = [
      [t("detail.agent"), agentId ? `${this.hooks.agentName(agentId)}${this.hooks.agentName(agentId) !== agentId ? ` · ${agentId}` : ""}` : "–"],
      [t("detail.team"), info?.team || (agentId ? this.hooks.agentTeam(agentId) : "") || "–"],
      [t("detail.state"), t(stateKey)],
      [t("detail.call"), seat?.call_id ?? t("detail.noCall")],
      [t("detail.line"), lineFact(seat)],
    ];
    const dl = this.parts.facts;
    if (dl.childElementCount !== facts.length * 2) {
      dl.replaceChildren(...facts.flatMap(() => [document.createElement("dt"), document.createElement("dd")]));
    }
    facts.forEach(([key, value], i) => {
      dl.children[2 * i].textContent = key;
      dl.children[2 * i + 1].textContent = value;
    });
    const baseline = agentId ? this._baseline(agentId) : null;
    const series = this.hooks.history.series(seatId);
    const now = this.hooks.now();
    // Show what has been gathered: from one minute up to the last five.
    const windowS = Math.min(MAX_WINDOW_S, Math.max(MIN_WINDOW_S, series.t.length ? now - series.t[0] : 0));
    const minutes = Math.round(windowS / 6) / 10;
    for (const chart of this.chartEls) {
      const { spec } = chart;
      const lineDb = spec.throughLine && Number.isFinite(seat?.line_db) ? seat.line_db : 0;
      const band = baseline ? bandOf(baseline, spec.baseline, (v, name) => spec.convert(v, name) * 2 ** (lineDb / 10)) : null;
      chart.name.textContent = `${t(spec.label)} (${t(spec.unit)})`;
      const latest = seat?.[spec.field];
      chart.value.textContent = typeof latest === "number" && Number.isFinite(latest) ? latest.toFixed(latest >= 100 ? 0 : 1) : "–";
      chart.figure.dataset.outside = String(Boolean(band && typeof latest === "number"
        && (latest > band.q95 || latest < band.q05)));
      chart.svg.setAttribute("aria-label", `${t(spec.label)}: ${chart.value.textContent} ${t(spec.unit)}`);
      drawSeries(chart.svg, {
        t: series.t, values: series[spec.field], now, windowS, band,
        nowLabel: t("detail.now"), startLabel: t("detail.ago", { m: minutes }),
      });
    }
    let note = `${t("detail.window", { m: minutes })} · ${t("detail.band")}`;
    if (seat?.scored === false) note = t("detail.unscored", { reason: seat.reason ?? "" });
    else if (baseline === null && agentId && this.baselines.get(agentId)?.none) note = t("detail.noBaseline");
    this.parts.note.textContent = note;
    this._renderAlerts(seat?.call_id, now);
  }

  /** The call's alerts, updated in place by id (rebuilding them every frame took focus
   *  from the user twice a second). Focus moves only off a button this redraw hides:
   *  from Acknowledge to the same alert's Resolve, from Resolve to the next alert still
   *  needing action, else to the Close button. */
  _renderAlerts(callId, now) {
    const list = this.parts.alerts;
    const alerts = callId ? this.hooks.alertsOfCall(callId) : [];
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const keep = new Set(alerts.map((alert) => alert.id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.el.remove();
        this.rows.delete(id);
      }
    }
    let before = list.firstElementChild === this.emptyRow ? this.emptyRow.nextElementSibling : list.firstElementChild;
    for (const alert of alerts) { // newest first, as the list shows them
      let row = this.rows.get(alert.id);
      if (!row) {
        row = alertRow(alert.id);
        this.rows.set(alert.id, row);
      }
      if (row.el !== before) list.insertBefore(row.el, before);
      before = row.el.nextElementSibling;
      this._renderRow(row, alert, now);
    }
    if (alerts.length) this.emptyRow.remove();
    else if (!this.emptyRow.isConnected) list.append(this.emptyRow);
    setText(this.emptyRow, t("detail.noAlerts"));
    if (focused && !(focused.isConnected && !focused.closest("[hidden]"))) this._moveFocusOn(focused);
  }

  /** Whose usual an alert's words compare with: the baseline stored with the alert, or
   *  for an alert stored without one, the seat's live call's. */
  _whose(alert) {
    const seat = this.hooks.latestSeat(alert.seat_id);
    const live = seat && seat.call_id === alert.call_id ? seat.baseline : null;
    if ((alert.baseline ?? live) === "population") return POPULATION;
    return alert.agent_id ? this.hooks.agentName(alert.agent_id) : null;
  }

  _renderRow(row, alert, now) {
    const { el, parts } = row;
    el.dataset.severity = alert.severity;
    el.dataset.state = alert.state;
    const seconds = Math.max(0, (alert.closed_s ?? now) - alert.opened_s);
    setText(parts.head, `${t(`severity.${alert.severity}`)} · ${t(`kind.${alert.kind}`)} · ${
      alert.state === "open" ? t("feed.ongoing", { d: formatDuration(seconds) }) : t("feed.ended", { d: formatDuration(seconds) })}`);
    setText(parts.why, Array.isArray(alert.drivers) && alert.drivers.length
      ? explainDrivers(alert.drivers, this._whose(alert), seconds, undefined, false)
      : alert.explanation ?? "");
    const waiting = !alert.resolved_s && !alert.resolved_by;
    const acked = Boolean(alert.acknowledged_s || alert.acknowledged_by);
    setText(parts.ack, t("feed.ack"));
    setText(parts.resolve, t("feed.resolve"));
    setHidden(parts.actions, !waiting);
    setHidden(parts.ack, acked);
    setText(parts.status, waiting ? "" : t("feed.resolved", { user: alert.resolved_by ?? "", note: alert.resolution_note ?? "" }));
    setHidden(parts.status, waiting);
  }

  _moveFocusOn(button) {
    const row = this.rows.get(Number(button.dataset.id));
    if (row?.el.isConnected && !row.parts.actions.hidden) {
      row.parts.resolve.focus();
      return;
    }
    const next = [...this.rows.values()].find((r) => r.el.isConnected && !r.parts.actions.hidden);
    if (next) (next.parts.ack.hidden ? next.parts.resolve : next.parts.ack).focus();
    else this.dialog.querySelector(".close")?.focus();
  }

  /** The agent's baseline for the band (null until known, or when there is none), asked
   *  again when the dialog opens and after a minute (an audit: kept for good, a wall
   *  showed "no baseline" after the agent was calibrated, or an update's old band). The
   *  band known stays drawn while the new answer comes. */
  _baseline(agentId) {
    const known = this.baselines.get(agentId);
    if (!known?.pending && (!known || performance.now() - known.at > BASELINE_MAX_AGE_MS)) {
      this.baselines.set(agentId, { ...(known ?? { value: null, none: false }), pending: true });
      const settle = (value, none) => {
        this.baselines.set(agentId, { value, none, at: performance.now(), pending: false });
        this.render();
      };
      api(`/api/agents/${encodeURIComponent(agentId)}/baseline`)
        .then((baseline) => settle(baseline, false))
        .catch(() => settle(null, true));
    }
    return this.baselines.get(agentId).value;
  }
}

/** One alert's row of the detail: head, why, its buttons or who resolved it. */
function alertRow(id) {
  const el = document.createElement("li");
  el.className = "alert mini";
  el.dataset.id = String(id);
  const head = document.createElement("div");
  head.className = "a-head";
  head.id = `detail-alert-${id}`;
  const why = document.createElement("p");
  why.className = "a-why";
  const actions = document.createElement("div");
  actions.className = "a-actions";
  const ack = button("ack", id);
  const resolve = button("resolve", id);
  actions.append(ack, resolve);
  const status = document.createElement("p");
  status.className = "a-status";
  el.append(head, why, actions, status);
  return { el, parts: { head, why, actions, ack, resolve, status } };
}

function button(action, id) {
  const el = document.createElement("button");
  el.type = "button";
  el.dataset.action = action;
  el.dataset.id = String(id);
  el.setAttribute("aria-describedby", `detail-alert-${id}`);
  return el;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setHidden(el, hidden) {
  if (el.hidden !== hidden) el.hidden = hidden;
}
