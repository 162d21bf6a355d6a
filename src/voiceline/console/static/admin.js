// The admin page: console users (add, reset a password), agents with what their baseline
// rests on (and the baseline itself in plain words), and ingest tokens shown once.
//
// Data: GET /api/users, GET /api/agents (each with its baseline's metadata), GET /healthz
// (is anything scored at all); POST /api/users, /api/users/{name}/password and
// /api/ingest-tokens. The server checks the role on every call: this page asks it first
// (GET /api/users) and shows a plain refusal when it answers 403, as it does to all
// but admins.

import { ApiError, api, clearSession, logout, session, toLogin } from "./api.js";
import { formatIsoDate, renderBaseline } from "./baseline_view.js";
import { applyTo, lang, onLangChange, roleName, t, toggleLang } from "./i18n.js";

const ROLES = ["supervisor", "qa", "agent", "admin"];
const MIN_PASSWORD_CHARS = 8; // voiceline.auth.MIN_PASSWORD_CHARS
const $ = (id) => document.getElementById(id);

const user = session();
const state = { users: [], agents: [], baselines: new Map(), resetting: null, viewing: null };

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
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

// --- users ---------------------------------------------------------------------------------

function renderUsers() {
  $("users").replaceChildren(...state.users.map((u) => {
    const tr = document.createElement("tr");
    tr.dataset.name = u.name;
    const name = cell(u.name + (isMe(u.name) ? t("users.you") : ""));
    const actions = document.createElement("td");
    actions.append(button(t("users.reset"), t("users.resetOf", { name: u.name }), () => openReset(u.name)));
    tr.append(name, cell(roleName(u.role)), cell(u.agent_id ?? "–"), cell(formatTime(u.created_s)), actions);
    return tr;
  }));
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
    if (base) {
      tr.append(cell(t("agents.has")), cell(t("duration.s", { s: Math.round(base.speech_s) })),
        cell(t(`channel.${base.channel_type}`)), cell(formatIsoDate(base.updated || base.created)),
        cell(base.software_version || "–"));
      const actions = document.createElement("td");
      actions.append(button(t("agents.view"), t("agents.viewOf", { agent: agent.agent_id }),
        () => openBaseline(agent)));
      tr.append(actions);
    } else {
      const none = cell(t("agents.none"));
      none.colSpan = 6;
      none.className = "muted";
      tr.append(none);
    }
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const empty = cell(t("agents.empty"));
    empty.colSpan = 9;
    empty.className = "muted";
    tr.append(empty);
    rows.push(tr);
  }
  $("agents").replaceChildren(...rows);
  $("agent-ids").replaceChildren(...state.agents.map((a) => new Option(a.display_name || "", a.agent_id)));
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

// --- ingest tokens ---------------------------------------------------------------------------

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

// --- start-up ------------------------------------------------------------------------------

async function load() {
  const [users, agents, health] = await Promise.all([
    api("/api/users"), api("/api/agents"), api("/healthz").catch(() => null)]);
  state.users = users;
  state.agents = agents;
  state.baselines.clear();
  $("unscored").hidden = health?.scoring?.enabled !== false;
  renderUsers();
  renderAgents();
}

function renderAll() {
  $("who").textContent = t("nav.signedInAs", { name: user.name, role: roleName(user.role) });
  if ($("admin-main").hidden) return;
  renderRoleOptions();
  renderUsers();
  renderAgents();
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
    $("admin-main").hidden = false;
    show("load-error", error instanceof ApiError ? t("admin.loadFailed", { detail: error.detail })
      : t("login.unreachable"));
    return;
  }
  if (user.role !== "admin") return showRefused();
  $("to-wall").hidden = false;
  $("to-qa").hidden = false;
  $("admin-main").hidden = false;
  document.body.dataset.status = "ready";
  renderRoleOptions();
  $("new-role").addEventListener("change", showAgentField);
  $("add-user").addEventListener("submit", addUser);
  $("reset-form").addEventListener("submit", submitReset);
  $("reset-cancel").addEventListener("click", () => $("reset").close());
  $("baseline-close").addEventListener("click", () => $("baseline").close());
  $("baseline").addEventListener("close", () => { state.viewing = null; });
  $("token-form").addEventListener("submit", issueToken);
  $("token-copy").addEventListener("click", copyToken);
}

main();
