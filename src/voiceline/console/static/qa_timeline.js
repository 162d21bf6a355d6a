// The call page's timeline: each party's loudness (RMS level over time, mirrored like a
// waveform) in its own lane, the flags as numbered, labelled spans in their check's
// colour, and a playhead. Drawn by hand in SVG, in the element's own pixel size.

import { t } from "./i18n.js";
import { checkColour, checkName, clock } from "./qa_common.js";

const NS = "http://www.w3.org/2000/svg";
const TOP_DB = 0;
const BOTTOM_DB = -60;
const LABEL_ROW_H = 14;
const LABEL_ROWS = 3;
const AXIS_H = 18;
const LEFT = 56;
const RIGHT = 8;

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.append(node);
  return node;
}

/** Path of a level envelope mirrored about ``mid`` (half height ``half`` at 0 dB). */
function envelopePath(levels, x, hopS, mid, half) {
  if (!levels.length) return "";
  const h = levels.map((db) => half * Math.max(0, Math.min(1, (db - BOTTOM_DB) / (TOP_DB - BOTTOM_DB))));
  let d = `M${x(0).toFixed(1)},${(mid - h[0]).toFixed(1)}`;
  for (let i = 0; i < h.length; i += 1) d += `L${x((i + 0.5) * hopS).toFixed(1)},${(mid - h[i]).toFixed(1)}`;
  for (let i = h.length - 1; i >= 0; i -= 1) d += `L${x((i + 0.5) * hopS).toFixed(1)},${(mid + h[i]).toFixed(1)}`;
  return `${d}Z`;
}

function tickStep(durationS) {
  for (const step of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800]) if (durationS / step <= 10) return step;
  return 3600;
}

/**
 * Draw the whole timeline.
 *
 * @param {SVGSVGElement} svg
 * @param {object} spec
 * @param {object|null} spec.timeline  GET /api/qa/calls/{id}/timeline, or null while loading
 * @param {number} spec.durationS
 * @param {object[]} spec.flags  the call's flags, numbered in this order
 * @param {number|null} spec.active  the id of the flag last played
 * @param {number} spec.now  the playhead, s
 * @param {(flag) => void} spec.onFlag  a marker clicked or pressed (Enter, Space)
 * @param {(s: number) => void} spec.onSeek  the background clicked at ``s``
 */
export function drawTimeline(svg, { timeline, durationS, flags, active, now, onFlag, onSeek }) {
  const focused = document.activeElement?.closest?.(".qa-marker")?.dataset.flagId;
  const W = Math.max(svg.clientWidth || 800, 300);
  const H = Math.max(svg.clientHeight || 220, 160);
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const span = Math.max(durationS, 0.1);
  const x = (s) => LEFT + (s / span) * (W - LEFT - RIGHT);
  // Marker labels in up to LABEL_ROWS rows above the lanes, so that close flags' labels
  // do not overprint (a label's width is estimated: 12 px a CJK character, 7 px others).
  const rowEnds = [];
  const labelRow = flags.map((flag, i) => {
    const text = `${i + 1} ${checkName(flag.check)}`;
    const width = [...text].reduce((w, ch) => w + (ch.charCodeAt(0) > 0x2e80 ? 12 : 7), 10);
    const x0 = x(flag.start_s);
    let row = rowEnds.findIndex((end) => end <= x0);
    if (row < 0) row = rowEnds.length < LABEL_ROWS ? rowEnds.length : rowEnds.indexOf(Math.min(...rowEnds));
    rowEnds[row] = x0 + width;
    return row;
  });
  const LABEL_H = LABEL_ROW_H * Math.max(1, rowEnds.length) + 2;
  const laneH = (H - LABEL_H - AXIS_H) / 2;
  const lanes = { agent: [LABEL_H, LABEL_H + laneH], caller: [LABEL_H + laneH, LABEL_H + 2 * laneH] };

  const bg = el("rect", { x: LEFT, y: LABEL_H, width: W - LEFT - RIGHT, height: 2 * laneH, class: "plot-bg qa-bg" }, svg);
  bg.addEventListener("click", (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * W;
    onSeek(Math.max(0, Math.min(span, ((px - LEFT) / (W - LEFT - RIGHT)) * span)));
  });
  el("line", { x1: LEFT, x2: W - RIGHT, y1: LABEL_H + laneH, y2: LABEL_H + laneH, class: "qa-lane-rule" }, svg);
  for (const [party, [y0, y1]] of Object.entries(lanes)) {
    const label = el("text", { x: LEFT - 6, y: (y0 + y1) / 2 + 4, class: "axis", "text-anchor": "end" }, svg);
    label.textContent = t(`channel.${party}`);
  }
  if (timeline) {
    timeline.channels.forEach((party, c) => {
      const lane = lanes[party];
      if (!lane) return;
      const path = el("path", { d: envelopePath(timeline.level_dbfs[c], x, timeline.hop_s, (lane[0] + lane[1]) / 2, laneH / 2 - 2),
        class: `qa-level qa-level-${party}` }, svg);
      path.style.pointerEvents = "none";
    });
  }
  const step = tickStep(span);
  for (let s = 0; s <= span + 1e-9; s += step) {
    const tick = el("text", { x: x(s), y: H - 4, class: "axis", "text-anchor": s === 0 ? "start" : "middle" }, svg);
    tick.textContent = clock(s).replace(/\.0$/, "");
  }

  flags.forEach((flag, i) => {
    const [y0, y1] = flag.channel === "agent" ? lanes.agent : flag.channel === "caller" ? lanes.caller : [lanes.agent[0], lanes.caller[1]];
    const x0 = x(flag.start_s);
    const width = Math.max(4, x(flag.end_s) - x0);
    const g = el("g", { class: "qa-marker", tabindex: 0, role: "button", "data-flag-id": flag.id,
      "data-check": flag.check, "data-verdict": flag.verdict ?? "none" }, svg);
    if (flag.id === active) g.dataset.active = "true";
    g.style.setProperty("--check", checkColour(flag.check));
    const name = `${i + 1} ${checkName(flag.check)}`;
    g.setAttribute("aria-label", `${name}, ${clock(flag.start_s)}–${clock(flag.end_s)}: ${t("qa.playFrom", { time: clock(flag.start_s) })}`);
    el("title", {}, g).textContent = `${name} (${t(`severity.${flag.severity}`)}) ${clock(flag.start_s)}–${clock(flag.end_s)}`;
    el("rect", { x: x0, y: y0, width, height: y1 - y0, class: "qa-marker-span" }, g);
    el("rect", { x: x0, y: LABEL_ROW_H * labelRow[i] + 1, width: 3, height: y1 - LABEL_ROW_H * labelRow[i] - 1, class: "qa-marker-edge" }, g);
    el("text", { x: x0 + 5, y: LABEL_ROW_H * (labelRow[i] + 1) - 3, class: "qa-marker-label" }, g).textContent = name;
    g.addEventListener("click", () => onFlag(flag));
    g.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        onFlag(flag);
      }
    });
  });
  el("line", { x1: x(now), x2: x(now), y1: LABEL_H, y2: LABEL_H + 2 * laneH, class: "qa-playhead", id: "playhead" }, svg);
  svg.dataset.durationS = String(span);
  svg.dataset.left = String(LEFT);
  svg.dataset.plotWidth = String(W - LEFT - RIGHT);
  if (focused) svg.querySelector(`.qa-marker[data-flag-id="${focused}"]`)?.focus();
}

/** Move the playhead only (on every timeupdate; no redraw). */
export function setPlayhead(svg, seconds) {
  const line = svg.querySelector(".qa-playhead");
  if (!line) return;
  const span = Number(svg.dataset.durationS);
  const px = Number(svg.dataset.left) + (Math.min(seconds, span) / span) * Number(svg.dataset.plotWidth);
  line.setAttribute("x1", px.toFixed(1));
  line.setAttribute("x2", px.toFixed(1));
}
