// "My account", for every role: who is signed in, and a change of one's own password.
//
// Data: the session (name, role, agent ID) as signed in; POST /api/me/password with the
// current and the new password. The server checks the current one (403, and 429 after
// repeated misses), the new one's strength (400, saying what is required), and signs the
// user's other sessions out; this one stays, so the page stays signed in. The two new
// passwords must match before anything is sent. A refusal the page knows is said in its
// own words only; the server's text shows only for one it does not know. The field at
// fault is marked invalid and described by the message until the user edits it.

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

/** Mark ``field`` as the one at fault, read with the error message, and select it. */
function markInvalid(field) {
  field.setAttribute("aria-invalid", "true");
  field.setAttribute("aria-describedby", "password-error");
  field.select();
}

function clearInvalid(field) {
  field.removeAttribute("aria-invalid");
  field.removeAttribute("aria-describedby");
}

/** What the server's refusal means, as [message key, params, field at fault]: 403 (the
 *  current password is wrong), 429 (too many misses) and 400 for the policy's length
 *  rules (voiceline.auth.check_password_policy) in the page's words; any other with the
 *  server's text (an audit read "密码未修改：the current password is wrong"). */
function refusal(error) {
  if (!(error instanceof ApiError)) return ["login.unreachable", {}, "current"];
  const detail = error.detail ?? "";
  if (error.status === 403) return ["account.wrongCurrent", {}, "current"];
  if (error.status === 429) return ["account.tooMany", { s: /(\d+) s/.exec(detail)?.[1] ?? "?" }, "current"];
  const short = /at least (\d+) characters; this one has (\d+)/.exec(detail);
  if (error.status === 400 && short) return ["account.tooShort", { min: short[1], n: short[2] }, "new"];
  const long = /at most (\d+) characters; this one has (\d+)/.exec(detail);
  if (error.status === 400 && long) return ["account.tooLong", { max: long[1], n: long[2] }, "new"];
  return ["account.failed", { detail }, error.status === 400 ? "new" : "current"];
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
  for (const name of ["current", "new", "repeat"]) clearInvalid(form.elements[name]);
  if (problem) {
    say("error", problem);
    markInvalid(form.elements[field]);
    return;
  }
  say("error", null);
  $("password-submit").disabled = true;
  try {
    const done = await api("/api/me/password", {
      method: "POST", body: { current_password: current, new_password: fresh },
    });
    form.reset();
    say("done", "account.done", { n: done.revoked_sessions });
  } catch (error) {
    const [key, params, field] = refusal(error);
    say("error", key, params);
    markInvalid(form.elements[field]);
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
  $("password-form").addEventListener("input", (event) => clearInvalid(event.target));
  $("account-main").hidden = false;
  document.body.dataset.status = "ready";
  $("current-password").focus();
}

main();
