// The admin page: console users (add, reset a password, disable and enable), agents with
// what their baseline rests on (and the baseline itself in plain words), their names and
// teams, the floor's seats (team, label, retire), ingest tokens (issued and shown once,
// listed, revoked), and the audit log (filtered, paged back).
//
// Data: GET /api/users, GET /api/agents (each with its baseline's metadata), GET
// /api/seats?all=1 (the seats in service), GET /api/ingest-tokens, GET /healthz (is
// anything scored at all), GET /api/audit (read again after each change made here); POST /api/users, /api/users/{name}/password|disable|enable and
// /api/ingest-tokens; DELETE /api/ingest-tokens/{id}; PUT /api/agents/{id}, PUT and DELETE
// /api/seats/{id}. The server checks the role on every call: this page asks it first
// (GET /api/users) and shows a plain refusal when it answers 403, as it does to all
// but admins. Disabling a user and revoking a token are confirmed in a dialog first.

import { ApiError, api, clearSession, logout, session, toLogin } from "./api.js";
import { formatIsoDate, renderBaseline } from "./baseline_view.js";
import { applyTo, lang, onLangChange, roleName, t, toggleLang } from "./i18n.js";

const ROLES = ["supervisor", "qa", "agent", "admin"];
const MIN_PASSWORD_CHARS = 8; // voiceline.auth.MIN_PASSWORD_CHARS
const AUDIT_PAGE = 50;
const $ = (id) => document.getElementById(id);

const user = session();
const state = {
  users: [], agents: [], seats: [], tokens: [], baselines: new Map(), resetting: null,
  viewing: null, confirming: null,
  audit: { entries: [], filters: {}, more: false, asked: 0, users: new Set(), actions: new Set() },
};

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

/** A table's one row saying it has none, across ``span`` columns. */
function emptyRow(text, span) {
  const tr = document.createElement("tr");
  const empty = cell(text);
  empty.colSpan = span;
  empty.className = "muted";
  tr.append(empty);
  return tr;
}

function button(text, label, onClick) {
  const el = document.createElement("button");
  el.type = "button";
  el.textContent = text;
  el.setAttribute("aria-label", label);
  el.addEventListener("click", onClick);
  return el;
}

function show(id, text) {
  $(id).textContent = text;
  $(id).hidden = !text;
}

function failure(error) {
  if (error instanceof ApiError) return t("admin.failed", { detail: error.detail });
  return t("login.unreachable");
}

function formatTime(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  return new Date(seconds * 1000).toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB",
    { dateStyle: "medium", timeStyle: "short" });
}

function isMe(name) {
  return name.toLowerCase() === user.name.toLowerCase();
}

// --- refusal ------------------------------------------------------------------------------

function showRefused() {
  $("admin-main").hidden = true;
  $("refused").hidden = false;
  document.body.dataset.status = "refused";
  const render = () => {
    $("refused-body").textContent = t("refused.adminBody", { role: roleName(user.role) });
  };
  render();
  onLangChange(render);
  $("refused-switch").addEventListener("click", logout);
}

/** The page itself, and the skip links to its sections as the first Tab stops. */
function showMain() {
  $("admin-main").hidden = false;
  $("skip-links").hidden = false;
}

// --- users ---------------------------------------------------------------------------------

/** The users' table, rebuilt; a button that had focus (its row gone with the rebuild, as
 *  after disabling or enabling the user) hands it to the same row's new one. */
function renderUsers() {
  const focused = $("users").contains(document.activeElement) ? document.activeElement : null;
  const refocus = focused && { name: focused.closest("tr").dataset.name, action: focused.dataset.action };
  $("users").replaceChildren(...state.users.map((u) => {
    const tr = document.createElement("tr");
    tr.dataset.name = u.name;
    const disabled = u.disabled_s !== null && u.disabled_s !== undefined;
    tr.dataset.disabled = String(disabled);
    const name = cell(u.name + (isMe(u.name) ? t("users.you") : ""));
    const status = cell(disabled ? t("users.disabledSince", { time: formatTime(u.disabled_s) })
      : t("users.enabled"));
    status.className = "user-status";
    const actions = document.createElement("td");
    const reset = button(t("users.reset"), t("users.resetOf", { name: u.name }), () => openReset(u.name));
    reset.dataset.action = "reset";
    actions.append(reset);
    if (!isMe(u.name)) { // the server refuses one's own: another admin must do it
      const toggle = disabled
        ? button(t("users.enable"), t("users.enableOf", { name: u.name }), () => enableUser(u.name))
        : button(t("users.disable"), t("users.disableOf", { name: u.name }), () => confirmDisable(u.name));
      toggle.dataset.action = "toggle";
      actions.append(" ", toggle);
    }
    tr.append(name, cell(roleName(u.role)), cell(u.agent_id ?? "–"), cell(formatTime(u.created_s)),
      status, actions);
    return tr;
  }));
  if (refocus) {
    [...$("users").rows].find((tr) => tr.dataset.name === refocus.name)
      ?.querySelector(`button[data-action="${refocus.action}"]`)?.focus();
  }
}

async function loadUsers() {
  state.users = await api("/api/users");
  renderUsers();
}

function confirmDisable(name) {
  openConfirm({
    title: () => t("disable.title", { name }),
    body: () => t("disable.body", { name }),
    submit: () => t("users.disable"),
    run: async () => {
      const done = await api(`/api/users/${encodeURIComponent(name)}/disable`, { method: "POST" });
      show("add-user-error", "");
      show("add-user-done", t("disable.done", { name: done.name, n: done.revoked_sessions }));
    },
    after: () => Promise.all([loadUsers(), readAudit()]),
  });
}

async function enableUser(name) {
  show("add-user-done", "");
  show("add-user-error", "");
  try {
    const done = await api(`/api/users/${encodeURIComponent(name)}/enable`, { method: "POST" });
    show("add-user-done", t("enable.done", { name: done.name }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused();
    show("add-user-error", failure(error));
  }
  await loadUsers().catch(() => {});
  await readAudit();
}

function renderRoleOptions() {
  const select = $("new-role");
  const chosen = select.value || "supervisor";
  select.replaceChildren(...ROLES.map((role) => new Option(roleName(role), role)));
  select.value = chosen;
  showAgentField();
}

/** The agent ID field is for agent users only. */
function showAgentField() {
  $("agent-field").hidden = $("new-role").value !== "agent";
}

async function addUser(event) {
  event.preventDefault();
  const form = $("add-user");
  const body = {
    name: form.elements.name.value.trim(),
    role: form.elements.role.value,
    password: form.elements.password.value,
  };
  if (body.role === "agent") body.agent_id = form.elements.agent_id.value.trim();
  show("add-user-done", "");
  const problem = !body.name ? "users.needName"
    : body.role === "agent" && !body.agent_id ? "users.needAgent"
      : body.password.length < MIN_PASSWORD_CHARS ? "users.shortPassword" : null;
  if (problem) {
    show("add-user-error", t(problem));
    return;
  }
  show("add-user-error", "");
  $("add-user-submit").disabled = true;
  try {
    const added = await api("/api/users", { method: "POST", body });
    form.reset();
    showAgentField();
    let done = t("users.added", { name: added.name, role: roleName(added.role) });
    if (added.agent_registered) done += ` ${t("users.agentRegistered", { agent: added.agent_id })}`;
    show("add-user-done", done);
    await load();
    await readAudit();
    form.elements.name.focus();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused();
    show("add-user-error", error instanceof ApiError && error.status === 409
      ? t("users.taken", { name: body.name }) : failure(error));
  } finally {
    $("add-user-submit").disabled = false;
  }
}

function openReset(name) {
  state.resetting = name;
  $("reset-form").reset();
  show("reset-error", "");
  $("reset-title").textContent = t("reset.title", { name });
  $("reset").showModal();
  $("reset-password").focus();
}

async function submitReset(event) {
  event.preventDefault();
  const name = state.resetting;
  const password = $("reset-password").value;
  if (password.length < MIN_PASSWORD_CHARS) return show("reset-error", t("users.shortPassword"));
  $("reset-submit").disabled = true;
  try {
    const done = await api(`/api/users/${encodeURIComponent(name)}/password`,
      { method: "POST", body: { password } });
    $("reset").close();
    if (isMe(done.name)) { // the server has signed this session out too
      clearSession();
      return toLogin("signedOut");
    }
    show("add-user-done", t("reset.done", { name: done.name, n: done.revoked_sessions }));
    await readAudit();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      $("reset").close();
      return showRefused();
    }
    show("reset-error", failure(error));
  } finally {
    $("reset-submit").disabled = false;
  }
}

// --- confirmation ---------------------------------------------------------------------------

/**
 * Ask before an action that takes access away. ``action``: ``title``, ``body`` and
 * ``submit`` (functions giving the current language's text), ``run`` (the API call; what it
 * throws is shown in the dialog, which stays open) and ``after`` (refreshes what it
 * changed, whether ``run`` succeeded or not).
 */
function openConfirm(action) {
  state.confirming = action;
  show("confirm-error", "");
  renderConfirm();
  $("confirm").showModal();
  $("confirm-cancel").focus();
}

function renderConfirm() {
  const action = state.confirming;
  if (!action) return;
  $("confirm-title").textContent = action.title();
  $("confirm-body").textContent = action.body();
  $("confirm-submit").textContent = action.submit();
}

async function submitConfirm(event) {
  event.preventDefault();
  const action = state.confirming;
  if (!action) return;
  $("confirm-submit").disabled = true;
  try {
    await action.run();
    $("confirm").close();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      $("confirm").close();
      return showRefused();
    }
    show("confirm-error", failure(error));
  } finally {
    $("confirm-submit").disabled = false;
  }
  await action.after().catch(() => {});
}

// --- agents and baselines -------------------------------------------------------------------

function agentLabel(agent) {
  return agent.display_name ? `${agent.display_name} · ${agent.agent_id}` : agent.agent_id;
}

function renderAgents() {
  const rows = state.agents.map((agent) => {
    const tr = document.createElement("tr");
    tr.dataset.agent = agent.agent_id;
    tr.dataset.baseline = String(Boolean(agent.baseline));
    tr.append(cell(agent.agent_id), cell(agent.display_name || "–"), cell(agent.team || "–"));
    const base = agent.baseline;
    const actions = document.createElement("td");
    if (agent.retired_s) {
      const left = cell(t("agents.retired", { date: formatIsoDate(new Date(agent.retired_s * 1000).toISOString()) }));
      left.colSpan = 5;
      left.className = "muted";
      tr.append(left);
    } else if (base) {
      tr.append(cell(t("agents.has")), cell(t("duration.s", { s: Math.round(base.speech_s) })),
        cell(t(`channel.${base.channel_type}`)), cell(formatIsoDate(base.updated || base.created)),
        cell(base.software_version || "–"));
      actions.append(button(t("agents.view"), t("agents.viewOf", { agent: agent.agent_id }),
        () => openBaseline(agent)), " ");
    } else if (agent.baseline_problem) {  // there, but damaged or of an older schema
      const unread = cell(t("agents.unreadable", { reason: agent.baseline_problem }));
      unread.colSpan = 5;
      unread.className = "error";
      tr.append(unread);
    } else {
      const none = cell(t("agents.none"));
      none.colSpan = 5;
      none.className = "muted";
      tr.append(none);
    }
    actions.append(button(t("agents.edit"), t("agents.editOf", { agent: agent.agent_id }),
      () => editEntry("agent", agent)));
    if (!agent.retired_s) {
      actions.append(" ", button(t("agents.retire"), t("agents.retireOf", { agent: agent.agent_id }),
        () => confirmRetire(agent)));
    }
    tr.append(actions);
    return tr;
  });
  if (!rows.length) rows.push(emptyRow(t("agents.empty"), 9));
  $("agents").replaceChildren(...rows);
  $("agent-ids").replaceChildren(...state.agents.map((a) => new Option(a.display_name || "", a.agent_id)));
}

/** An agent who left: their baselines move aside, and their id can be given to someone
 *  new (DELETE /api/agents/{id}; see the README's `directory retire --agent`). */
function confirmRetire(agent) {
  const label = agentLabel(agent);
  openConfirm({
    title: () => t("retireAgent.title", { agent: label }),
    body: () => t("retireAgent.body"),
    submit: () => t("agents.retire"),
    run: async () => {
      const done = await api(`/api/agents/${encodeURIComponent(agent.agent_id)}`, { method: "DELETE" });
      show("agent-error", "");
      show("agent-done", t("retireAgent.done", { agent: label, n: done.baselines_moved.length }));
    },
    after: () => Promise.all([reloadAgents(), readAudit()]),
  });
}

async function reloadAgents() {
  state.agents = await api("/api/agents");
  renderAgents();
}

async function openBaseline(agent) {
  state.viewing = agent;
  const dialog = $("baseline");
  renderBaseline(dialog, agentLabel(agent), state.baselines.get(agent.agent_id));
  if (!dialog.open) dialog.showModal();
  if (state.baselines.has(agent.agent_id)) return;
  let baseline;
  try {
    baseline = await api(`/api/agents/${encodeURIComponent(agent.agent_id)}/baseline`);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      if (state.viewing === agent) $("baseline-facts").textContent = failure(error);
      return;
    }
    baseline = null; // removed since the list was read
  }
  state.baselines.set(agent.agent_id, baseline);
  if (state.viewing === agent) renderBaseline(dialog, agentLabel(agent), baseline);
}

// --- the directory: agents' names and teams, the floor's seats --------------------------------

/** Every team named on an agent or a seat, for the team fields' suggestions. */
function renderTeams() {
  const teams = new Set([...state.agents, ...state.seats].map((x) => x.team).filter(Boolean));
  $("teams").replaceChildren(...[...teams].sort().map((team) => new Option("", team)));
}

function renderSeats() {
  const rows = state.seats.map((seat) => {
    const tr = document.createElement("tr");
    tr.dataset.seat = seat.seat_id;
    const actions = document.createElement("td");
    actions.append(
      button(t("seats.edit"), t("seats.editOf", { seat: seat.seat_id }), () => editEntry("seat", seat)), " ",
      button(t("seats.retire"), t("seats.retireOf", { seat: seat.seat_id }), () => retireSeat(seat)));
    tr.append(cell(seat.seat_id), cell(seat.team || "–"), cell(seat.label || "–"), actions);
    return tr;
  });
  if (!rows.length) rows.push(emptyRow(t("seats.empty"), 4));
  $("seats").replaceChildren(...rows);
}

/** The directory's two forms: agents' names and teams, seats' teams and labels. */
const ENTRIES = {
  agent: { fields: ["display_name", "team"], path: "/api/agents", keep: keepAgent, render: () => renderAgents() },
  seat: { fields: ["team", "label"], path: "/api/seats", keep: keepSeat, render: () => renderSeats() },
};

function keepAgent(saved) {
  const known = state.agents.find((a) => a.agent_id === saved.agent_id);
  if (known) Object.assign(known, saved);
  else state.agents = [...state.agents, { ...saved, has_baseline: false, baseline: null }]
    .sort((a, b) => (a.agent_id < b.agent_id ? -1 : 1));
}

function keepSeat(saved) {
  state.seats = [...state.seats.filter((s) => s.seat_id !== saved.seat_id), saved]
    .sort((a, b) => (a.seat_id < b.seat_id ? -1 : 1));
}

/** Fill the form of ``kind`` ("agent" or "seat") with an entry, to change it. */
function editEntry(kind, entry) {
  const form = $(`${kind}-form`);
  const { fields } = ENTRIES[kind];
  form.elements[`${kind}_id`].value = entry[`${kind}_id`];
  for (const field of fields) form.elements[field].value = entry[field] || "";
  show(`${kind}-done`, "");
  form.elements[fields[0]].focus();
}

/** Save the form of ``kind``: PUT the entry, then show it as the server stored it. */
async function saveEntry(kind, event) {
  event.preventDefault();
  const form = $(`${kind}-form`);
  const { fields, path, keep, render } = ENTRIES[kind];
  const id = form.elements[`${kind}_id`].value.trim();
  show(`${kind}-done`, "");
  if (!id) return show(`${kind}-error`, t(`${kind}s.needId`));
  show(`${kind}-error`, "");
  $(`${kind}-submit`).disabled = true;
  try {
    const body = Object.fromEntries(fields.map((f) => [f, form.elements[f].value.trim() || null]));
    const saved = await api(`${path}/${encodeURIComponent(id)}`, { method: "PUT", body });
    keep(saved);
    form.reset();
    render();
    renderTeams();
    show(`${kind}-done`, t(`${kind}s.saved`, { [kind]: saved[`${kind}_id`] }));
    await readAudit();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused();
    show(`${kind}-error`, failure(error));
  } finally {
    $(`${kind}-submit`).disabled = false;
  }
}

async function retireSeat(seat) {
  show("seat-done", "");
  show("seat-error", "");
  try {
    await api(`/api/seats/${encodeURIComponent(seat.seat_id)}`, { method: "DELETE" });
    state.seats = state.seats.filter((s) => s.seat_id !== seat.seat_id);
    renderSeats();
    show("seat-done", t("seats.retired", { seat: seat.seat_id }));
    await readAudit();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused();
    show("seat-error", failure(error));
  }
}

// --- ingest tokens ---------------------------------------------------------------------------

/** "valid", "expired" or "revoked": what the server does with the token now. */
function tokenStatus(token) {
  if (token.revoked_s !== null && token.revoked_s !== undefined) return "revoked";
  if (token.expires_s !== null && token.expires_s !== undefined && token.expires_s * 1000 <= Date.now()) {
    return "expired";
  }
  return "valid";
}

function renderTokens() {
  const rows = state.tokens.map((token) => {
    const tr = document.createElement("tr");
    const status = tokenStatus(token);
    tr.dataset.token = String(token.id);
    tr.dataset.status = status;
    const actions = document.createElement("td");
    if (status === "valid") {
      actions.append(button(t("tokens.revoke"), t("tokens.revokeOf", { label: token.label }),
        () => confirmRevoke(token)));
    }
    tr.append(cell(token.label), cell(formatTime(token.created_s)),
      cell(token.expires_s === null ? t("tokens.never") : formatTime(token.expires_s)),
      cell(status === "revoked" ? t("tokens.revokedAt", { time: formatTime(token.revoked_s) })
        : t(`tokens.${status}`)),
      cell(String(token.connections)), actions);
    return tr;
  });
  if (!rows.length) rows.push(emptyRow(t("tokens.empty"), 6));
  $("tokens").replaceChildren(...rows);
}

async function loadTokens() {
  state.tokens = await api("/api/ingest-tokens");
  renderTokens();
}

function confirmRevoke(token) {
  const { label } = token;
  openConfirm({
    title: () => t("revoke.title", { label }),
    body: () => t("revoke.body", { label, n: token.connections }),
    submit: () => t("tokens.revoke"),
    run: async () => {
      const done = await api(`/api/ingest-tokens/${encodeURIComponent(token.id)}`, { method: "DELETE" });
      show("tokens-error", "");
      show("tokens-done", done.revoked ? t("revoke.done", { label, n: done.connections_closed })
        : t("revoke.already", { label }));
    },
    after: () => Promise.all([loadTokens(), readAudit()]),
  });
}

async function issueToken(event) {
  event.preventDefault();
  const label = $("token-label").value.trim();
  if (!label) return show("token-error", t("tokens.needLabel"));
  show("token-error", "");
  const ttl = $("token-ttl").value;
  $("token-submit").disabled = true;
  try {
    const issued = await api("/api/ingest-tokens",
      { method: "POST", body: { label, ttl_s: ttl ? Number(ttl) : null } });
    $("token-form").reset();
    $("token-value-label").textContent = t("tokens.value", { label: issued.label });
    $("token-value-label").dataset.label = issued.label;
    $("token-value").value = issued.token;
    show("token-copied", "");
    $("token-result").hidden = false;
    $("token-value").focus();
    $("token-value").select();
    show("tokens-done", "");
    await loadTokens().catch((error) => show("tokens-error", failure(error)));
    await readAudit();
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused();
    show("token-error", failure(error));
  } finally {
    $("token-submit").disabled = false;
  }
}

async function copyToken() {
  const input = $("token-value");
  try {
    await navigator.clipboard.writeText(input.value);
    show("token-copied", t("tokens.copied"));
  } catch {
    input.focus();
    input.select();
    show("token-copied", t("tokens.copyManual"));
  }
}

// --- the audit log ---------------------------------------------------------------------------

function pad2(n) {
  return String(n).padStart(2, "0");
}

/** Local ``YYYY-MM-DD HH:MM:SS``, the same in either language. */
function formatStamp(seconds) {
  if (!Number.isFinite(seconds)) return "–";
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} `
    + `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** ``key: value, key: value``; strings as they are, anything else as JSON. */
function formatDetail(detail) {
  if (!detail || typeof detail !== "object") return "";
  return Object.entries(detail)
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(", ");
}

/** Unix seconds of local midnight starting the ``<input type=date>`` value's day, plus
 * ``days``; null when the field is empty. */
function localMidnight(value, days = 0) {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + days).getTime() / 1000;
}

function renderAudit() {
  const { entries, more } = state.audit;
  const rows = entries.map((entry) => {
    const tr = document.createElement("tr");
    tr.dataset.id = String(entry.id);
    tr.dataset.action = entry.action;
    const who = cell(entry.user ?? t("audit.system"));
    if (entry.user === null) who.className = "muted";
    const detail = cell(formatDetail(entry.detail));
    detail.className = "audit-detail";
    tr.append(cell(formatStamp(entry.time_s)), who, cell(entry.action), cell(entry.object ?? "–"),
      detail);
    return tr;
  });
  if (!rows.length) rows.push(emptyRow(t("audit.empty"), 5));
  $("audit").replaceChildren(...rows);
  $("audit-older").hidden = !more;
}

/** The actions and users seen so far, offered in the filter fields. */
function rememberChoices(entries) {
  const { users, actions } = state.audit;
  for (const entry of entries) {
    if (entry.user !== null) users.add(entry.user);
    actions.add(entry.action);
  }
  $("audit-users").replaceChildren(...[...users].sort().map((name) => new Option("", name)));
  $("audit-actions").replaceChildren(...[...actions].sort().map((action) => new Option("", action)));
}

/**
 * Read a page of the audit log with the filters last searched for: the newest page, or
 * the one before ``beforeId``. An answer overtaken by a later request is dropped.
 */
async function loadAudit(beforeId = null) {
  const asked = ++state.audit.asked;
  const query = new URLSearchParams({ ...state.audit.filters, limit: String(AUDIT_PAGE) });
  if (beforeId !== null) query.set("before_id", String(beforeId));
  const page = await api(`/api/audit?${query}`);
  if (asked !== state.audit.asked) return;
  state.audit.entries = beforeId === null ? page : [...state.audit.entries, ...page];
  state.audit.more = page.length === AUDIT_PAGE;
  rememberChoices(page);
  renderAudit();
}

/** Read a page (the newest again after a change made here, which the server audited) and
 * show a failure under the filters; a 403 refuses the whole page. */
async function readAudit(beforeId = null) {
  show("audit-error", "");
  try {
    await loadAudit(beforeId);
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return showRefused();
    show("audit-error", failure(error));
  }
}

async function searchAudit(event) {
  event.preventDefault();
  const form = $("audit-form");
  const since = localMidnight(form.elements.from.value);
  const until = localMidnight(form.elements.to.value, 1);
  if (since !== null && until !== null && since >= until) return show("audit-error", t("audit.badRange"));
  const filters = {};
  const user = form.elements.user.value.trim();
  const action = form.elements.action.value.trim();
  if (user) filters.user = user;
  if (action) filters.action = action;
  if (since !== null) filters.since = String(since);
  if (until !== null) filters.until = String(until);
  state.audit.filters = filters;
  $("audit-search").disabled = true;
  try {
    await readAudit();
  } finally {
    $("audit-search").disabled = false;
  }
}

async function olderAudit() {
  const { entries } = state.audit;
  if (!entries.length) return;
  $("audit-older").disabled = true;
  try {
    await readAudit(entries[entries.length - 1].id);
  } finally {
    $("audit-older").disabled = false;
  }
}

// --- start-up ------------------------------------------------------------------------------

async function load() {
  const [users, agents, seats, tokens, health] = await Promise.all([
    api("/api/users"), api("/api/agents"), api("/api/seats?all=1"), api("/api/ingest-tokens"),
    api("/healthz").catch(() => null)]);
  state.users = users;
  state.agents = agents;
  state.seats = seats.configured ?? [];
  state.tokens = tokens;
  state.baselines.clear();
  $("unscored").hidden = health?.scoring?.enabled !== false;
  renderUsers();
  renderAgents();
  renderSeats();
  renderTeams();
  renderTokens();
}

function renderAll() {
  $("who").textContent = t("nav.signedInAs", { name: user.name, role: roleName(user.role) });
  if ($("admin-main").hidden) return;
  renderRoleOptions();
  renderUsers();
  renderAgents();
  renderSeats();
  renderTokens();
  renderAudit();
  if ($("confirm").open) renderConfirm();
  if (state.resetting && $("reset").open) $("reset-title").textContent = t("reset.title", { name: state.resetting });
  if (state.viewing && $("baseline").open) {
    renderBaseline($("baseline"), agentLabel(state.viewing), state.baselines.get(state.viewing.agent_id));
  }
  if (!$("token-result").hidden) {
    $("token-value-label").textContent = t("tokens.value", { label: $("token-value-label").dataset.label });
  }
}

async function main() {
  applyTo(document);
  if (!user) return toLogin();
  renderAll();
  onLangChange(renderAll);
  $("lang").addEventListener("click", toggleLang);
  $("logout").addEventListener("click", logout);
  try {
    // Asked of the server whatever the role: it alone decides, and says 403 to non-admins.
    await load();
  } catch (error) {
    if ((error instanceof ApiError && error.status === 403) || user.role !== "admin") {
      return showRefused();
    }
    showMain();
    show("load-error", error instanceof ApiError ? t("admin.loadFailed", { detail: error.detail })
      : t("login.unreachable"));
    return;
  }
  if (user.role !== "admin") return showRefused();
  $("to-wall").hidden = false;
  $("to-qa").hidden = false;
  showMain();
  document.body.dataset.status = "ready";
  renderRoleOptions();
  $("new-role").addEventListener("change", showAgentField);
  $("add-user").addEventListener("submit", addUser);
  $("reset-form").addEventListener("submit", submitReset);
  $("reset-cancel").addEventListener("click", () => $("reset").close());
  $("baseline-close").addEventListener("click", () => $("baseline").close());
  $("baseline").addEventListener("close", () => { state.viewing = null; });
  $("agent-form").addEventListener("submit", (event) => saveEntry("agent", event));
  $("seat-form").addEventListener("submit", (event) => saveEntry("seat", event));
  $("token-form").addEventListener("submit", issueToken);
  $("token-copy").addEventListener("click", copyToken);
  $("confirm-form").addEventListener("submit", submitConfirm);
  $("confirm-cancel").addEventListener("click", () => $("confirm").close());
  $("confirm").addEventListener("close", () => { state.confirming = null; });
  $("audit-form").addEventListener("submit", searchAudit);
  $("audit-older").addEventListener("click", olderAudit);
  await readAudit();
}

main();
