// The alert sound, made with WebAudio (no sound files): a rising three-tone chime for
// critical alerts, repeated while one waits for acknowledgement; mute is remembered.
//
// Browsers start an AudioContext suspended until the user interacts with the page, so the
// context is resumed on the first click or key press; until then ``blocked`` is true and
// the wall says "click anywhere to enable the alert sound".

const MUTE_KEY = "voiceline.muted";

export class Alarm {
  constructor() {
    this.muted = readMuted();
    this.ctx = null;
    this.played = 0; // chimes started (a test reads it: headless browsers have no speakers)
    this._listeners = new Set();
    const unlock = () => this._ensureContext();
    window.addEventListener("pointerdown", unlock, { capture: true });
    window.addEventListener("keydown", unlock, { capture: true });
    if (!this.muted) this._ensureContext(); // runs at once where the browser allows it
  }

  get blocked() {
    return !this.ctx || this.ctx.state !== "running";
  }

  onChange(listener) {
    this._listeners.add(listener);
  }

  setMuted(muted) {
    this.muted = Boolean(muted);
    try {
      localStorage.setItem(MUTE_KEY, this.muted ? "1" : "0");
    } catch {
      // remembered for this page only
    }
    this._notify();
  }

  toggle() {
    this.setMuted(!this.muted);
    if (!this.muted) this.chime("warning");
  }

  /** Play the chime for ``severity`` unless muted; returns whether it was started. */
  chime(severity = "critical") {
    if (this.muted) return false;
    const ctx = this._ensureContext();
    if (!ctx) return false;
    const start = ctx.currentTime + 0.02;
    const notes = severity === "critical" ? [880, 1175, 1568] : [660];
    const gain = severity === "critical" ? 0.22 : 0.12;
    notes.forEach((hz, i) => tone(ctx, hz, start + i * 0.16, 0.14, gain));
    if (severity === "critical") notes.forEach((hz, i) => tone(ctx, hz, start + 0.6 + i * 0.16, 0.14, gain));
    this.played += 1;
    return true;
  }

  _ensureContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!this.ctx) {
      try {
        this.ctx = new Context();
        this.ctx.onstatechange = () => this._notify();
      } catch {
        return null;
      }
    }
    if (this.ctx.state === "suspended") this.ctx.resume().then(() => this._notify(), () => {});
    return this.ctx;
  }

  _notify() {
    for (const listener of this._listeners) listener(this);
  }
}

function tone(ctx, hz, at, lengthS, peak) {
  const osc = ctx.createOscillator();
  const env = ctx.createGain();
  osc.type = "triangle";
  osc.frequency.setValueAtTime(hz, at);
  env.gain.setValueAtTime(0.0001, at);
  env.gain.exponentialRampToValueAtTime(peak, at + 0.015);
  env.gain.exponentialRampToValueAtTime(0.0001, at + lengthS);
  osc.connect(env).connect(ctx.destination);
  osc.start(at);
  osc.stop(at + lengthS + 0.02);
}

function readMuted() {
  try {
    return localStorage.getItem(MUTE_KEY) === "1";
  } catch {
    return false;
  }
}
