// The session (token, name, role) and calls to the live service's REST API.
//
// The token is kept in localStorage so that a reload or a second tab stays signed in; the
// server checks it (and the role) on every call, so what is stored here only decides which
// page to show first. A 401 from any call ends the session and goes back to the login page.

const SESSION_KEY = "voiceline.session";

export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.body = body; // the decoded answer, for errors that carry more than a reason
  }
}

export function session() {
  try {
    const value = JSON.parse(localStorage.getItem(SESSION_KEY));
    return value && typeof value.token === "string" ? value : null;
  } catch {
    return null;
  }
}

export function saveSession(value) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(value));
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

/** Go to the login page, saying why (``reason``: "expired", "ended", "disabled", "signedOut"), and come back. */
export function toLogin(reason) {
  const back = location.pathname + location.search;
  const params = new URLSearchParams();
  if (reason) params.set("reason", reason);
  if (back && back !== "/" && !back.startsWith("/login")) params.set("next", back);
  location.replace(`/login.html${params.size ? `?${params}` : ""}`);
}

function detailOf(body, status) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) return body.detail.map((d) => d.msg ?? String(d)).join("; ");
  return `HTTP ${status}`;
}

/**
 * Call the API; returns the decoded JSON body. Throws ApiError (with .status) for an
 * HTTP error and a TypeError for a network failure. A 401 clears the session and sends
 * the user to the login page unless ``{redirectOn401: false}``.
 */
export async function api(path, { method = "GET", body, redirectOn401 = true, signal, keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  const current = session();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    keepalive, // a request sent as the page goes away (it outlives the page)
    cache: "no-store",
  });
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!response.ok) {
    if (response.status === 401 && redirectOn401) {
      clearSession();
      toLogin("expired");
    }
    throw new ApiError(response.status, detailOf(data, response.status), data);
  }
  return data;
}

export async function login(name, password) {
  const data = await api("/api/login", { method: "POST", body: { name, password }, redirectOn401: false });
  saveSession({ ...data, token: data.token, role: data.role, name: data.name ?? data.user?.name ?? name });
  return session();
}

export async function logout() {
  try {
    await api("/api/logout", { method: "POST", redirectOn401: false });
  } catch {
    // signed out locally whatever the server says
  }
  clearSession();
  try {
    sessionStorage.clear(); // what this tab kept for the user, e.g. unsaved verdict notes
  } catch {
    // storage unavailable: nothing was kept
  }
  toLogin("signedOut");
}

/** The websocket URL for ``path`` with extra query parameters (never the session token). */
export function wsUrl(path, params = {}) {
  // No session token here: it goes in the socket's first message, so that it stays out
  // of proxies' access logs and the browser console (a failed connection prints its URL).
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
  }
  return url.toString();
}

/** Which page a role starts on. Roles without a page yet land on the home page's notice. */
export function homeFor(role) {
  if (role === "admin") return "/admin.html";
  return role === "supervisor" ? "/wall.html" : "/index.html";
}
