// What the QA review pages share: who may use them, each check's colour and words, the
// flags' plain-words detail in the interface language, and the top bar.

import { ApiError, logout, session, toLogin } from "./api.js";
import { applyTo, lang, onLangChange, roleName, t, toggleLang } from "./i18n.js";

/** The checks of voiceline qa, in its order; a check not listed here still shows (grey). */
export const CHECKS = ["dead_air", "slow_response", "overtalk", "agent_agitation", "caller_agitation",
  "fast_speech", "agent_low_energy", "clipping", "low_level", "one_way_audio", "long_call",
  "long_hold", "forbidden_phrase", "missing_greeting", "missing_closing"];

/** Each check's colour (markers, chips); every use also shows the check's name. */
const COLOURS = {
  dead_air: "#9aa7b4", slow_response: "#4da3ff", overtalk: "#c38bff", agent_agitation: "#ff6b6b",
  caller_agitation: "#ff9f43", fast_speech: "#ffd84d", agent_low_energy: "#35d08a",
  clipping: "#ff4dc4", low_level: "#5ee0e0", one_way_audio: "#8fd14f", long_call: "#d4a373",
  long_hold: "#7f8fa6", forbidden_phrase: "#e8e8e8",
  missing_greeting: "#b0c4de", missing_closing: "#c9b79c",
};

export const READERS = ["admin", "qa", "supervisor"];
export const REVIEWERS = ["admin", "qa"];
export const $ = (id) => document.getElementById(id);

export function checkColour(check) {
  return COLOURS[check] ?? "#8a97a5";
}

export function checkName(check) {
  const key = `check.${check}`;
  const name = t(key);
  return name === key ? check : name;
}

/** A flag's plain-words detail: Chinese from the evidence when the page is in Chinese. */
export function flagDetail(flag) {
  return lang() === "zh" && flag.evidence?.detail_zh ? flag.evidence.detail_zh : flag.detail;
}

/** "1:05.3" for 65.3 s (tenths shown below an hour). */
/**
 * The agent's line over the call, in words (emotion.line_level): the level read from the
 * calm speech against the calibration, and the correction the voice was judged through;
 * null when the call was not judged against the agent's own baseline.
 */
export function callLineFact(metrics) {
  const read = metrics?.agent_line_level_db;
  if (!Number.isFinite(read)) return null;
  const db = (v) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(1)} dB`;
  const corrected = metrics.agent_line_correction_db;
  return Number.isFinite(corrected) && corrected !== 0
    ? t("qa.lineCorrected", { read: db(read), db: db(corrected) })
    : t("qa.lineUsual", { read: db(read) });
}

export function clock(seconds) {
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  const rest = (s - m * 60).toFixed(1).padStart(4, "0");
  return `${m}:${rest}`;
}

export function formatDateTime(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  return new Date(seconds * 1000).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB",
    { dateStyle: "medium", timeStyle: "short" });
}

export function failureText(error) {
  if (error instanceof ApiError) return t("qa.loadFailed", { detail: error.detail });
  return t("login.unreachable");
}

/** A chip per check of ``flags``: colour swatch, name, count and the worst severity. */
export function flagChips(flags) {
  const byCheck = new Map();
  for (const f of flags) {
    const seen = byCheck.get(f.check) ?? { n: 0, severity: "warning" };
    seen.n += 1;
    if (f.severity === "critical") seen.severity = "critical";
    byCheck.set(f.check, seen);
  }
  const list = document.createElement("ul");
  list.className = "qa-chips";
  for (const [check, { n, severity }] of byCheck) {
    const li = document.createElement("li");
    li.className = "qa-chip";
    li.dataset.check = check;
    li.dataset.severity = severity;
    li.style.setProperty("--check", checkColour(check));
    li.textContent = t("qa.chip", { check: checkName(check), n, severity: t(`severity.${severity}`) });
    list.append(li);
  }
  return list;
}

/**
 * Sign-in guard and top bar: the page's user (or a trip to the login page), the "signed
 * in as", language and sign-out buttons, and ``render`` again after a language change.
 */
export function startPage(render) {
  const user = session();
  if (!user) {
    toLogin();
    return null;
  }
  applyTo(document);
  const who = () => { $("who").textContent = t("nav.signedInAs", { name: user.name, role: roleName(user.role) }); };
  who();
  onLangChange(() => { who(); render(); });
  $("lang").addEventListener("click", toggleLang);
  $("logout").addEventListener("click", logout);
  return user;
}

/** The server said 403 (or the role has no business here): a plain refusal. */
export function showRefused(user) {
  for (const el of document.querySelectorAll("main.qa")) el.hidden = true;
  $("refused").hidden = false;
  document.body.dataset.status = "refused";
  const render = () => { $("refused-body").textContent = t("refused.qaBody", { role: roleName(user.role) }); };
  render();
  onLangChange(render);
  $("refused-switch").addEventListener("click", logout);
}
