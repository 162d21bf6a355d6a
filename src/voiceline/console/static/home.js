// The start page: sends each role to its page; a role without one yet is told so here.

import { homeFor, logout, session, toLogin } from "./api.js";
import { applyTo, roleName, t, toggleLang } from "./i18n.js";

const user = session();
// QA staff start on the review queue, agents on their own report.
const page = user && (user.role === "qa" ? "/qa.html"
  : user.role === "agent" ? "/report.html" : homeFor(user.role));
if (!user) {
  toLogin();
} else if (page !== "/index.html") {
  location.replace(page);
} else {
  const render = () => {
    applyTo(document);
    document.getElementById("home-body").textContent = t("home.unavailableBody", { role: roleName(user.role) });
    document.getElementById("signed-in").textContent = t("nav.signedInAs", { name: user.name, role: roleName(user.role) });
  };
  document.getElementById("lang").addEventListener("click", () => {
    toggleLang();
    render();
  });
  document.getElementById("logout").addEventListener("click", logout);
  render();
  document.getElementById("home").hidden = false;
}
