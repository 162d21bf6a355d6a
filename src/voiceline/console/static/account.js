// "My account", for every role: who is signed in, and a change of one's own password.
//
// Data: the session (name, role, agent ID) as signed in; POST /api/me/password with the
// current and the new password. The server checks the current one (403, and 429 after
// repeated misses), the new one's strength (400, saying what is required), and signs the
// user's other sessions out; this one stays, so the page stays signed in. The two new
// passwords must match before anything is sent.

import { ApiError, api, logout, session, toLogin } from "./api.js";
import { applyTo, onLangChange, roleName, t, toggleLang } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const user = session();
let shown = { error: null, done: null }; // message keys and parameters, redrawn on a language change

function message(id, text) {
  $(id).textContent = text;
  $(id).hidden = !text;
}

function renderMessages() {
  message("password-error", shown.error ? t(...shown.error) : "");
  $("password-done").textContent = shown.done ? t(...shown.done) : "";
}

function say(kind, key, params) {
  shown = { error: null, done: null, [kind]: key ? [key, params] : null };
  renderMessages();
}

function render() {
  $("who").textContent = t("nav.signedInAs", { name: user.name, role: roleName(user.role) });
  $("me-name").textContent = user.name;
  $("me-role").textContent = roleName(user.role);
  $("me-agent").textContent = user.agent_id ?? "";
  for (const el of document.querySelectorAll(".me-agent")) el.hidden = !user.agent_id;
  renderMessages();
}

async function changePassword(event) {
  event.preventDefault();
  const form = $("password-form");
  const current = form.elements.current.value;
  const fresh = form.elements.new.value;
  const [problem, field] = !current ? ["account.needCurrent", "current"]
    : !fresh ? ["account.needNew", "new"]
      : fresh !== form.elements.repeat.value ? ["account.mismatch", "repeat"] : [null, null];
  if (problem) {
    say("error", problem);
    form.elements[field].select();
    return;
  }
  say("error", null);
  for (const name of ["current", "new", "repeat"]) form.elements[name].removeAttribute("aria-invalid");
  $("password-submit").disabled = true;
  try {
    const done = await api("/api/me/password", {
      method: "POST", body: { current_password: current, new_password: fresh },
    });
    form.reset();
    say("done", "account.done", { n: done.revoked_sessions });
  } catch (error) {
    // 403 (the current one is wrong) and 429 (too many misses) in the page's words (an
    // audit: "密码未修改：the current password is wrong"); 400 (a weak new password):
    // the server's policy says what is required.
    if (error instanceof ApiError && error.status === 403) say("error", "account.wrongCurrent");
    else if (error instanceof ApiError && error.status === 429) {
      say("error", "account.tooMany", { s: /(\d+) s/.exec(error.detail ?? "")?.[1] ?? "?" });
    } else if (error instanceof ApiError) say("error", "account.failed", { detail: error.detail });
    else say("error", "login.unreachable");
    const field = form.elements[error instanceof ApiError && error.status === 400 ? "new" : "current"];
    field.setAttribute("aria-invalid", "true");
    field.select();
  } finally {
    $("password-submit").disabled = false;
  }
}

function main() {
  applyTo(document);
  if (!user) return toLogin();
  $("me-username").defaultValue = user.name; // kept by form.reset()
  render();
  onLangChange(render);
  $("lang").addEventListener("click", toggleLang);
  $("logout").addEventListener("click", logout);
  $("password-form").addEventListener("submit", changePassword);
  $("account-main").hidden = false;
  document.body.dataset.status = "ready";
  $("current-password").focus();
}

main();
