// The login page: name and password → a session token, then the page of the user's role.

import { ApiError, homeFor, login, session } from "./api.js";
import { applyTo, t, toggleLang } from "./i18n.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");
const notice = document.getElementById("login-notice");
const submit = document.getElementById("submit");
const params = new URLSearchParams(location.search);

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function showNotice() {
  const reason = params.get("reason");
  const keys = { expired: "login.expired", signedOut: "login.signedOut", ended: "login.ended",
    disabled: "login.disabled" };
  const key = keys[reason] ?? null;
  notice.hidden = !key;
  if (key) notice.textContent = t(key);
}

/** The role's own page: QA staff start on the review queue, agents on their own report. */
function pageOf(role) {
  if (role === "qa") return "/qa.html";
  return role === "agent" ? "/report.html" : homeFor(role);
}

/** Where to go after signing in: the page asked for (same origin only), else the role's. */
function nextPage(role) {
  const next = params.get("next");
  if (next && next.startsWith("/") && !next.startsWith("//")) return next;
  return pageOf(role);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = form.elements.name.value.trim();
  const password = form.elements.password.value;
  if (!name || !password) {
    showError(t("login.wrong"));
    return;
  }
  showError("");
  submit.disabled = true;
  submit.textContent = t("login.busy");
  try {
    const user = await login(name, password);
    location.replace(nextPage(user.role));
  } catch (error) {
    if (error instanceof ApiError) {
      // 403: the password was right but the account is disabled; the server says so.
      showError(error.status === 401 ? t("login.wrong")
        : error.status === 403 ? t("login.refused", { detail: error.detail })
          : t("login.error", { detail: error.detail }));
    } else {
      showError(t("login.unreachable"));
    }
    form.elements.password.select();
  } finally {
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
});

document.getElementById("lang").addEventListener("click", () => {
  toggleLang();
  showNotice();
});

applyTo(document);
showNotice();
if (session() && !params.get("reason")) location.replace(nextPage(session().role));
