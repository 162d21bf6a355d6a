// The QA review queue: flagged calls ranked by review score, with filters kept in the
// address (so a reload or the back button keeps them), and each check's precision as
// reviewers judged it, with the threshold (or, for forbidden phrases, the phrases to drop)
// their verdicts suggest.
//
// Data: GET /api/qa/queue and GET /api/qa/precision; the server checks the role (qa,
// admin, supervisor) and answers 403 to others, which this page shows as a refusal.
// Each call says who is reviewing it now (another reviewer's open call page claims it);
// by default the calls others are reviewing are left out, so that two reviewers working
// down the queue do not take the same call.

import { ApiError, api, clearSession, session, toLogin } from "./api.js";
import { formatDuration, lang, t } from "./i18n.js";
import { $, CHECKS, checkColour, checkName, failureText, flagChips, formatDateTime, showRefused, startPage } from "./qa_common.js";

const PAGE = 25;
const FILTERS = ["check", "agent", "from", "to", "min_score", "status", "sort", "claimed"];
const state = { page: null, precision: [], offset: 0 };

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

/** The filters in the address bar. */
function filters() {
  const params = new URLSearchParams(location.search);
  const out = {};
  for (const key of FILTERS) if (params.get(key)) out[key] = params.get(key);
  out.status ??= "open";
  out.sort ??= "score";
  out.claimed ??= "hide";
  return out;
}

/** Local midnight of an <input type=date> value, unix s. */
function dayStart(value) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d).getTime() / 1000;
}

function queueQuery(f, offset) {
  const q = new URLSearchParams({ status: f.status, sort: f.sort, limit: PAGE, offset });
  if (f.claimed !== "show") q.set("free", "true");
  if (f.check) q.set("check", f.check);
  if (f.agent) q.set("agent", f.agent);
  if (f.min_score) q.set("min_score", f.min_score);
  if (f.from) q.set("since", dayStart(f.from));
  if (f.to) q.set("until", dayStart(f.to) + 86400);
  return q;
}

function fillForm(f) {
  const select = $("f-check");
  select.replaceChildren(new Option(t("qa.allChecks"), ""),
    ...CHECKS.map((c) => new Option(checkName(c), c)));
  if (f.check && !CHECKS.includes(f.check)) select.append(new Option(f.check, f.check));
  select.value = f.check ?? "";
  $("f-agent").value = f.agent ?? "";
  $("f-from").value = f.from ?? "";
  $("f-to").value = f.to ?? "";
  $("f-min-score").value = f.min_score ?? "";
  $("f-status").value = f.status;
  $("f-sort").value = f.sort;
  $("f-claimed").value = f.claimed;
}

/** The call's link, and who is reviewing it now if anyone is. */
function callCell(call) {
  const link = document.createElement("a");
  link.href = `/qa_call.html?call=${encodeURIComponent(call.call_id)}`;
  link.textContent = call.call_id;
  link.setAttribute("aria-label", t("qa.open", { call: call.call_id }));
  const td = cell(link);
  if (call.claim) {
    const who = document.createElement("span");
    who.className = "qa-claim";
    who.dataset.user = call.claim.user;
    who.textContent = call.claim.user === user.name ? t("qa.claimedMine")
      : t("qa.claimedBy", { user: call.claim.user });
    td.append(" ", who);
  }
  return td;
}

function renderQueue() {
  const page = state.page;
  if (!page) return;
  const rows = page.calls.map((call, i) => {
    const tr = document.createElement("tr");
    tr.dataset.call = call.call_id;
    tr.dataset.rank = String(state.offset + i + 1);
    const score = cell(call.score.toFixed(0));
    score.className = "qa-score";
    score.dataset.level = call.score >= 80 ? "3" : call.score >= 50 ? "2" : "1";
    tr.append(score, callCell(call), cell(call.agent_id ?? t("qa.agentUnknown")),
      cell(formatDateTime(call.recorded_s ?? call.analysed_s)), cell(formatDuration(call.duration_s)),
      cell(flagChips(call.flags)));
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const empty = cell(t("qa.empty"));
    empty.colSpan = 6;
    empty.className = "muted";
    tr.append(empty);
    rows.push(tr);
  }
  $("queue").replaceChildren(...rows);
  const shownTo = state.offset + page.calls.length;
  $("shown").textContent = page.total ? t("qa.shown", { from: state.offset + 1, to: shownTo, total: page.total }) : "";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = shownTo >= page.total;
}

/** What the verdicts say about a check's threshold (qa.tuning), in words. */
function suggestionCell(tip) {
  if (!tip) return cell("–");
  const td = cell(tip.code === "stricter"
    ? t("qa.suggest.stricter", { setting: tip.setting, value: tip.suggested,
      after: `${Math.round(tip.precision_after * 100)} %`, lost: tip.confirmed_lost })
    : t(`qa.suggest.${tip.code}`, { n: tip.judged }));
  td.className = "qa-suggestion";
  td.dataset.code = tip.code;
  td.title = tip.reason;
  return td;
}

/** The forbidden phrases reviewers keep dismissing (qa.tuning.phrase_verdicts). */
function phrasesCell(phrases) {
  const drop = phrases.filter((v) => v.drop);
  const td = cell(drop.length ? t("qa.suggest.dropPhrases", { phrases: drop.map((v) => v.phrase).join(lang() === "zh" ? "、" : ", ") }) : "–");
  td.className = "qa-suggestion";
  td.dataset.code = drop.length ? "drop_phrases" : "none";
  td.title = phrases.map((v) => `${v.phrase}: ${v.confirmed} / ${v.confirmed + v.dismissed}`).join("\n");
  return td;
}

function renderPrecision() {
  const rows = state.precision.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.check = p.check;
    const name = document.createElement("th");
    name.scope = "row";
    const swatch = document.createElement("span");
    swatch.className = "qa-swatch";
    swatch.style.setProperty("--check", checkColour(p.check));
    name.append(swatch, checkName(p.check));
    const precision = cell(p.precision === null ? t("qa.precision.none") : `${Math.round(p.precision * 100)} %`);
    precision.className = "qa-precision";
    tr.append(name, cell(String(p.flags)), cell(String(p.current)), cell(String(p.confirmed)),
      cell(String(p.dismissed)), precision, p.phrases ? phrasesCell(p.phrases) : suggestionCell(p.suggestion));
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const empty = cell(t("qa.precision.empty"));
    empty.colSpan = 7;
    empty.className = "muted";
    tr.append(empty);
    rows.push(tr);
  }
  $("precision").replaceChildren(...rows);
}

function render() {
  fillForm(filters());
  renderQueue();
  renderPrecision();
}

async function load(offset = 0) {
  const f = filters();
  document.body.dataset.status = "loading";
  const [page, precision] = await Promise.all([
    api(`/api/qa/queue?${queueQuery(f, offset)}`), api("/api/qa/precision")]);
  state.page = page;
  state.precision = precision;
  state.offset = offset;
  $("load-error").hidden = true;
  render();
  document.body.dataset.status = "ready";
}

async function reload(offset = 0) {
  try {
    await load(offset);
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused(user);
    $("load-error").textContent = failureText(error);
    $("load-error").hidden = false;
    document.body.dataset.status = "error";
  }
}

/** The flags under the current filters, with their verdicts, as a CSV download
 *  (GET /api/qa/export.csv; the queue's status maps to the flags' verdicts). */
async function exportCsv() {
  const f = filters();
  const q = new URLSearchParams({ verdict: { open: "open", reviewed: "judged" }[f.status] ?? "all" });
  if (f.check) q.set("check", f.check);
  if (f.agent) q.set("agent", f.agent);
  if (f.from) q.set("since", dayStart(f.from));
  if (f.to) q.set("until", dayStart(f.to) + 86400);
  const status = $("export-status");
  try {
    const response = await fetch(`/api/qa/export.csv?${q}`, {
      headers: { Authorization: `Bearer ${session()?.token ?? ""}` }, cache: "no-store" });
    if (response.status === 401) {
      clearSession();
      return toLogin("expired");
    }
    if (!response.ok) throw new ApiError(response.status, (await response.json().catch(() => ({}))).detail ?? `HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") ?? "")?.[1] ?? "voiceline-qa.csv";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    status.textContent = t("qa.exported", { n: response.headers.get("X-Rows") ?? "?" });
  } catch (error) {
    status.textContent = t("qa.exportFailed", { detail: error instanceof ApiError ? error.detail : t("login.unreachable") });
  }
}

function applyFilters(event) {
  event.preventDefault();
  const form = $("filters");
  const params = new URLSearchParams();
  for (const key of FILTERS) {
    const value = String(form.elements[key].value ?? "").trim();
    if (value) params.set(key, value);
  }
  if (params.get("from") && params.get("to") && params.get("to") < params.get("from")) {
    $("filter-error").textContent = t("qa.loadFailed", { detail: `${t("qa.to")} < ${t("qa.from")}` });
    $("filter-error").hidden = false;
    return;
  }
  $("filter-error").hidden = true;
  history.pushState(null, "", `${location.pathname}?${params}`);
  reload(0);
}

const user = startPage(render);
if (user) {
  $("filters").addEventListener("submit", applyFilters);
  $("f-reset").addEventListener("click", () => {
    history.pushState(null, "", location.pathname);
    reload(0);
  });
  $("prev").addEventListener("click", () => reload(Math.max(0, state.offset - PAGE)));
  $("next").addEventListener("click", () => reload(state.offset + PAGE));
  $("export").addEventListener("click", exportCsv);
  window.addEventListener("popstate", () => reload(0));
  fillForm(filters());
  reload(0);
}
