// What each seat's agent sounded like over the last minutes, gathered from the snapshots.
//
// The server sends only the present; the seat detail draws the past from here. Each seat
// has a ring of ``capacity`` samples (time, loudness, pitch, speaking rate, speaking flag)
// allocated the first time the seat is in a call: at 1 Hz and 300 samples, five minutes
// for 1,000 seats in about 12 MB. A seat's ring starts over when another agent sits down.
// What happened before the page opened comes from GET /api/seats/{id}/history (merge).

export const FIELDS = ["loudness_sone", "f0_hz", "speech_rate_syl_s"];
const WIDTH = 2 + FIELDS.length; // t, speaking, fields…

function finiteOrNaN(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : NaN;
}

/** Write one sample (t, speaking flag, FIELDS with NaN where missing) at ``offset``. */
function writeRow(data, offset, t, seat) {
  data[offset] = t;
  data[offset + 1] = seat.agent_speaking ? 1 : 0;
  for (let f = 0; f < FIELDS.length; f += 1) data[offset + 2 + f] = finiteOrNaN(seat[FIELDS[f]]);
}

export class SeatHistory {
  constructor(capacity = 300) {
    this.capacity = capacity;
    this.rings = new Map(); // seat → {data: Float64Array, next, size, agent, call}
  }

  /** Record one snapshot (server time ``t`` in unix s) of the seats in call. */
  add(t, seats) {
    for (const seat of seats) {
      const id = seat.seat_id;
      if (typeof id !== "string") continue;
      let ring = this.rings.get(id);
      if (!ring || ring.agent !== seat.agent_id) {
        ring = this._newRing(id, seat.agent_id);
      }
      if (ring.size && ring.data[((ring.next - 1 + this.capacity) % this.capacity) * WIDTH] >= t) continue;
      writeRow(ring.data, ring.next * WIDTH, t, seat);
      ring.next = (ring.next + 1) % this.capacity;
      ring.size = Math.min(ring.size + 1, this.capacity);
      ring.call = seat.call_id;
    }
  }

  /**
   * Add the server's points of a seat (GET /api/seats/{id}/history: {t, agent_speaking,
   * loudness_sone, …}) of agent ``agentId`` to what this page gathered, one sample per
   * ``t`` (the page's own wins), the newest ``capacity`` kept. Points of another agent
   * than the ring's (someone sat down meanwhile) are left out. Returns whether it merged.
   */
  merge(seatId, agentId, points) {
    let ring = this.rings.get(seatId);
    if (ring && ring.agent !== agentId) return false;
    const rows = new Map(); // t → row
    for (const point of points) {
      if (typeof point?.t !== "number" || !Number.isFinite(point.t)) continue;
      const row = new Float64Array(WIDTH);
      writeRow(row, 0, point.t, point);
      rows.set(point.t, row);
    }
    if (ring) {
      const first = (ring.next - ring.size + this.capacity) % this.capacity;
      for (let i = 0; i < ring.size; i += 1) {
        const row = ((first + i) % this.capacity) * WIDTH;
        rows.set(ring.data[row], ring.data.slice(row, row + WIDTH));
      }
    } else {
      ring = this._newRing(seatId, agentId);
    }
    const times = [...rows.keys()].sort((a, b) => a - b).slice(-this.capacity);
    times.forEach((t, i) => ring.data.set(rows.get(t), i * WIDTH));
    ring.size = times.length;
    ring.next = times.length % this.capacity;
    return true;
  }

  _newRing(seatId, agentId) {
    const ring = { data: new Float64Array(this.capacity * WIDTH), next: 0, size: 0, agent: agentId };
    this.rings.set(seatId, ring);
    return ring;
  }

  /** The seat's samples, oldest first: {t: [], speaking: [], loudness_sone: [], …}. */
  series(seatId) {
    const out = { t: [], speaking: [] };
    for (const field of FIELDS) out[field] = [];
    const ring = this.rings.get(seatId);
    if (!ring) return out;
    const first = (ring.next - ring.size + this.capacity) % this.capacity;
    for (let i = 0; i < ring.size; i += 1) {
      const row = ((first + i) % this.capacity) * WIDTH;
      out.t.push(ring.data[row]);
      out.speaking.push(ring.data[row + 1] > 0);
      FIELDS.forEach((field, f) => out[field].push(ring.data[row + 2 + f]));
    }
    return out;
  }
}
