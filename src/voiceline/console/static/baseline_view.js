// One agent's voice baseline in plain words: per feature its usual value (median) and the
// bands around it (5–95 % and 25–75 %), in the units a person reads (pitch in hertz,
// shares in per cent), from GET /api/agents/{id}/baseline. Used by the admin page.

import { bandOf } from "./detail.js";
import { FEATURE_LABELS, lang, t } from "./i18n.js";

const F0_REF_HZ = 27.5; // the engine measures pitch in semitones re 27.5 Hz
const PERCENT = new Set(["pause_ratio", "spectral_balance"]);

/** A feature's value as shown: pitch semitones → Hz, shares → %, others as they are. */
export function shownValue(name, value) {
  if (name === "f0_median_st") return F0_REF_HZ * 2 ** (value / 12);
  if (PERCENT.has(name)) return 100 * value;
  return value;
}

function number(value) {
  if (!Number.isFinite(value)) return "–";
  const size = Math.abs(value);
  return value.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 2);
}

function withUnit(value, unit) {
  if (!unit) return number(value);
  return unit === "%" ? `${number(value)} %` : `${number(value)} ${unit}`;
}

/**
 * The rows of the table: ``[{feature, label, median, range, middle}]`` as text in the
 * current language, one per feature of the baseline, in its order.
 */
export function baselineRows(baseline) {
  const labels = FEATURE_LABELS[lang()];
  return (baseline.feature_names ?? []).map((name) => {
    const [label, unit] = labels[name] ?? [name, ""];
    const band = bandOf(baseline, [name], (v) => shownValue(name, v));
    const span = (lo, hi) => `${number(lo)} – ${withUnit(hi, unit)}`;
    return {
      feature: name,
      label,
      median: band ? withUnit(band.median, unit) : "–",
      range: band ? span(band.q05, band.q95) : "–",
      middle: band ? span(band.q25, band.q75) : "–",
    };
  });
}

function cell(tag, text) {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

export function formatIsoDate(iso) {
  if (!iso) return "–";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString(lang() === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium" });
}

/** Fill the baseline dialog's facts and table (``null``: the agent has none). */
export function renderBaseline(dialog, agentLabel, baseline) {
  dialog.querySelector("#baseline-title").textContent = t("baseline.title", { agent: agentLabel });
  const facts = dialog.querySelector("#baseline-facts");
  const rows = dialog.querySelector("#baseline-rows");
  if (baseline === undefined) {
    facts.replaceChildren(cell("dt", t("baseline.loading")));
    rows.replaceChildren();
    return;
  }
  if (baseline === null) {
    facts.replaceChildren(cell("dt", t("baseline.missing")));
    rows.replaceChildren();
    return;
  }
  const pairs = [
    [t("agents.channel"), t(`channel.${baseline.channel_type}`)],
    [t("agents.speech"), t("duration.s", { s: number(baseline.speech_s) })],
    [t("baseline.windows"), String(baseline.n_windows ?? "–")],
    [t("baseline.level"), baseline.level_profile || "–"],
    [t("baseline.created"), formatIsoDate(baseline.created)],
    [t("baseline.updated"), formatIsoDate(baseline.updated)],
    [t("agents.version"), baseline.software_version || "–"],
  ];
  facts.replaceChildren(...pairs.flatMap(([key, value]) => [cell("dt", key), cell("dd", value)]));
  rows.replaceChildren(...baselineRows(baseline).map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.feature = row.feature;
    tr.append(cell("th", row.label), cell("td", row.median), cell("td", row.range), cell("td", row.middle));
    tr.firstChild.scope = "row";
    return tr;
  }));
}
