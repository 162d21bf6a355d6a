// Small SVG charts drawn by hand: a time series against an agent's usual band, and the
// floor's stress sparkline. A few hundred points redrawn once a second need no library.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, parent = null) {
  const node = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (parent) parent.append(node);
  return node;
}

function niceNumber(x) {
  if (!Number.isFinite(x)) return "";
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** Path data for the finite points, broken where a value is missing. */
function pathOf(xs, ys) {
  let d = "";
  let pen = false;
  for (let i = 0; i < xs.length; i += 1) {
    if (!Number.isFinite(ys[i])) {
      pen = false;
      continue;
    }
    d += `${pen ? "L" : "M"}${xs[i].toFixed(1)},${ys[i].toFixed(1)}`;
    pen = true;
  }
  return d;
}

/**
 * Draw a series over the last ``windowS`` seconds against a band.
 *
 * @param {SVGSVGElement} svg  redrawn from scratch, in its own pixel size (text stays upright)
 * @param {object} spec
 * @param {number[]} spec.t  unix s
 * @param {number[]} spec.values  NaN for missing
 * @param {number} spec.now  unix s, the right edge
 * @param {number} spec.windowS
 * @param {{q05, q25, median, q75, q95}|null} spec.band  the agent's usual range
 * @param {string} spec.nowLabel, spec.startLabel  x-axis words
 */
export function drawSeries(svg, { t, values, now, windowS, band, nowLabel, startLabel }) {
  const W = Math.max(svg.clientWidth || 600, 200);
  const H = Math.max(svg.clientHeight || 120, 60);
  const left = 46;
  const right = 8;
  const top = 8;
  const bottom = 20;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const t0 = now - windowS;
  const shown = [];
  for (let i = 0; i < t.length; i += 1) if (t[i] >= t0 && Number.isFinite(values[i])) shown.push(values[i]);
  const candidates = [...shown];
  if (band) candidates.push(band.q05, band.q95, band.median);
  const finite = candidates.filter(Number.isFinite);
  let lo = finite.length ? Math.min(...finite) : 0;
  let hi = finite.length ? Math.max(...finite) : 1;
  if (hi - lo < 1e-9) {
    lo -= 1;
    hi += 1;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const x = (ts) => left + ((ts - t0) / windowS) * (W - left - right);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (H - top - bottom);

  el("rect", { x: left, y: top, width: W - left - right, height: H - top - bottom, class: "plot-bg" }, svg);
  if (band && Number.isFinite(band.q05) && Number.isFinite(band.q95)) {
    el("rect", { x: left, y: y(band.q95), width: W - left - right, height: Math.max(0, y(band.q05) - y(band.q95)), class: "band-outer" }, svg);
    if (Number.isFinite(band.q25) && Number.isFinite(band.q75)) {
      el("rect", { x: left, y: y(band.q75), width: W - left - right, height: Math.max(0, y(band.q25) - y(band.q75)), class: "band-inner" }, svg);
    }
    if (Number.isFinite(band.median)) {
      el("line", { x1: left, x2: W - right, y1: y(band.median), y2: y(band.median), class: "band-median" }, svg);
    }
  }
  for (const v of [lo + pad, (lo + hi) / 2, hi - pad]) {
    const label = el("text", { x: left - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" }, svg);
    label.textContent = niceNumber(v);
  }
  const start = el("text", { x: left, y: H - 4, class: "axis" }, svg);
  start.textContent = startLabel;
  const end = el("text", { x: W - right, y: H - 4, class: "axis", "text-anchor": "end" }, svg);
  end.textContent = nowLabel;
  const xs = [];
  const ys = [];
  for (let i = 0; i < t.length; i += 1) {
    if (t[i] < t0) continue;
    xs.push(x(t[i]));
    ys.push(Number.isFinite(values[i]) ? y(values[i]) : NaN);
  }
  el("path", { d: pathOf(xs, ys), class: "series" }, svg);
  // The latest value as a dot, coloured by whether it is outside the usual range.
  for (let i = xs.length - 1; i >= 0; i -= 1) {
    if (!Number.isFinite(ys[i])) continue;
    const v = values[t.length - xs.length + i];
    const outside = band && (v > band.q95 || v < band.q05);
    el("circle", { cx: xs[i], cy: ys[i], r: 4, class: outside ? "last outside" : "last" }, svg);
    break;
  }
}

/**
 * The stress index's recent trend as a sparkline (viewBox 0 0 200 40).
 *
 * @param {SVGSVGElement} svg
 * @param {number[]} values  oldest first
 * @param {number} capacity  how many points the full width holds
 */
export function drawSparkline(svg, values, capacity) {
  const W = 200;
  const H = 40;
  if (!svg._line) {
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg._area = el("path", { class: "spark-area" }, svg);
    svg._line = el("path", { class: "spark-line" }, svg);
  }
  const finite = values.filter(Number.isFinite);
  const hi = Math.max(1, ...finite);
  const step = W / Math.max(capacity - 1, 1);
  const offset = W - (values.length - 1) * step;
  const xs = values.map((_, i) => offset + i * step);
  const ys = values.map((v) => (Number.isFinite(v) ? H - 2 - (Math.max(v, 0) / hi) * (H - 4) : NaN));
  const d = pathOf(xs, ys);
  svg._line.setAttribute("d", d);
  svg._area.setAttribute("d", d ? `${d}L${xs.at(-1).toFixed(1)},${H}L${xs.find((_, i) => Number.isFinite(ys[i])).toFixed(1)},${H}Z` : "");
}
