// The live feed from /ws/alerts: reconnects by itself and resumes from the last alert event.
//
// Every alert event carries an increasing event_id; the connection remembers the last one
// it passed on and asks for everything after it (``since``) when it reconnects, and drops
// any event it has already seen, so the page gets each event once and in order across
// server restarts, network blips and "you fell behind" disconnects. Seat snapshots arrive
// about once a second; if none (and nothing else) arrives for ``staleAfterMs`` the socket
// is taken for dead and replaced. A handshake refused because the session ended is told
// apart from a network failure by asking ``probe()`` (an authenticated HTTP call).
//
// The session token goes in the first message ({"type": "auth", "token", "since"}), not
// in the URL, so it stays out of access logs. The server answers {"type": "hello",
// "since": N, ...}: N below the last id seen means the server's store is not the one the
// events came from (restored from a backup, or replaced); the page then starts over.

/** How often an open feed makes an authenticated call to keep its session (ms). */
export const KEEPALIVE_MS = 10 * 60 * 1000;
export const STATUS = { connecting: "connecting", live: "live", reconnecting: "reconnecting", stopped: "stopped" };

export class LiveConnection {
  /**
   * @param {object} options
   * @param {() => string} options.url  the websocket URL
   * @param {() => object} options.auth  the first message, without ``since``
   * @param {(hello: object) => void} [options.onReset]  the server's event log went back
   * @param {(message: object) => void} options.onMessage  each message, alerts deduplicated
   * @param {(status: string, detail: object) => void} [options.onStatus]
   * @param {() => Promise<boolean>} [options.probe]  false when the session is no longer valid
   * @param {(reason: string) => void} [options.onUnauthorized]  with the server's close reason
   * @param {number} [options.lastEventId]  resume after this event id
   */
  constructor({ url, auth, onMessage, onStatus = () => {}, probe = async () => true, onUnauthorized = () => {},
    onReset = () => {}, lastEventId = 0, staleAfterMs = 5000, minDelayMs = 500, maxDelayMs = 5000 }) {
    this.url = url;
    this.auth = auth;
    this.onReset = onReset;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.probe = probe;
    this.onUnauthorized = onUnauthorized;
    this.lastEventId = lastEventId;
    this.staleAfterMs = staleAfterMs;
    this.minDelayMs = minDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.status = null;
    this.socket = null;
    this.failures = 0;
    this.reconnects = 0;
    this.duplicatesDropped = 0;
    this.lastMessageAt = 0;
    this._retryTimer = null;
    this._staleTimer = null;
  }

  start() {
    this._stopped = false;
    this._connect();
    this._staleTimer = setInterval(() => this._checkStale(), 1000);
    // An authenticated call now and then keeps a wall display's session alive (sessions
    // slide on use); a refusal here is noticed at the next reconnect.
    this._keepAliveTimer = setInterval(() => this.probe().catch(() => {}), KEEPALIVE_MS);
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    clearInterval(this._staleTimer);
    clearInterval(this._keepAliveTimer);
    if (this.socket) this.socket.close(1000, "page closed");
    this._setStatus(STATUS.stopped);
  }

  /** Send a JSON message; false when the socket is not open (the caller may use REST). */
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  _setStatus(status, detail = {}) {
    this.status = status;
    this.onStatus(status, detail);
  }

  _connect() {
    if (this._stopped) return;
    this._setStatus(this.reconnects || this.failures ? STATUS.reconnecting : STATUS.connecting);
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch {
      this._retry();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.lastMessageAt = performance.now();
      // Without a last id, follow from the newest event (a number past it means "now").
      socket.send(JSON.stringify({ ...this.auth(), since: this.lastEventId > 0 ? this.lastEventId : Number.MAX_SAFE_INTEGER }));
    };
    socket.onmessage = (event) => {
      this.lastMessageAt = performance.now();
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "hello") {
        this.failures = 0;
        const since = Number(message.since);
        if (Number.isInteger(since) && since < this.lastEventId) {
          this.lastEventId = since;
          this.onReset(message);
        } else if (Number.isInteger(since)) {
          this.lastEventId = since;
        }
        this.hello = message;
        this._setStatus(STATUS.live);
      } else if (message.type === "alert" && Number.isInteger(message.event_id)) {
        if (message.event_id <= this.lastEventId) {
          this.duplicatesDropped += 1;
          return;
        }
        this.lastEventId = message.event_id;
      }
      this.onMessage(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this._stopped) return;
      if (opened) this.reconnects += 1;
      else this.failures += 1;
      // 4401/4403 or 1008: the server refused this session; no use retrying with it.
      if (event.code === 4401 || event.code === 4403 || event.code === 1008) {
        this.closeReason = event.reason; // told to onUnauthorized (e.g. "the account was disabled")
        this._checkSession();
        return;
      }
      this._retry();
    };
  }

  // Whether the session is still good; if not, stop for good and say so. Network
  // trouble counts as good: keep trying.
  async _sessionStillValid() {
    let valid = true;
    try {
      valid = await this.probe();
    } catch {
      valid = true;
    }
    if (!valid) {
      this._stopped = true;
      clearInterval(this._staleTimer);
      this._setStatus(STATUS.stopped);
      this.onUnauthorized(this.closeReason ?? "");
    }
    return valid;
  }

  async _checkSession() {
    if (await this._sessionStillValid()) this._retry();
  }

  _retry() {
    if (this._stopped) return;
    const attempt = Math.max(this.failures, 1);
    const base = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** (attempt - 1));
    const delayMs = base * (0.75 + 0.5 * Math.random());
    this._setStatus(STATUS.reconnecting, { delayMs });
    clearTimeout(this._retryTimer);
    // Every few failed handshakes, ask whether the session itself is still good.
    if (this.failures > 0 && this.failures % 3 === 0) {
      this._retryTimer = setTimeout(() => this._probeThenConnect(), delayMs);
    } else {
      this._retryTimer = setTimeout(() => this._connect(), delayMs);
    }
  }

  async _probeThenConnect() {
    if (await this._sessionStillValid()) this._connect();
  }

  _checkStale() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (performance.now() - this.lastMessageAt > this.staleAfterMs) {
      // No snapshot for a while: the link is dead even if TCP has not noticed yet.
      this.socket = null;
      socket.onclose = null;
      socket.close(4000, "stale");
      this.reconnects += 1;
      this._retry();
    }
  }
}
