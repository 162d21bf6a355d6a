// What each seat's agent sounded like over the last minutes, gathered from the snapshots.
//
// The server sends only the present; the seat detail draws the past from here. Each seat
// has a ring of ``capacity`` samples (time, loudness, pitch, speaking rate, speaking flag)
// allocated the first time the seat is in a call: at 1 Hz and 300 samples, five minutes
// for 1,000 seats in about 12 MB. A seat's ring starts over when another agent sits down.

export const FIELDS = ["loudness_sone", "f0_hz", "speech_rate_syl_s"];
const WIDTH = 2 + FIELDS.length; // t, speaking, fields…

function finiteOrNaN(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : NaN;
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
        ring = { data: new Float64Array(this.capacity * WIDTH), next: 0, size: 0, agent: seat.agent_id };
        this.rings.set(id, ring);
      }
      if (ring.size && ring.data[((ring.next - 1 + this.capacity) % this.capacity) * WIDTH] >= t) continue;
      const row = ring.next * WIDTH;
      ring.data[row] = t;
      ring.data[row + 1] = seat.agent_speaking ? 1 : 0;
      for (let f = 0; f < FIELDS.length; f += 1) ring.data[row + 2 + f] = finiteOrNaN(seat[FIELDS[f]]);
      ring.next = (ring.next + 1) % this.capacity;
      ring.size = Math.min(ring.size + 1, this.capacity);
      ring.call = seat.call_id;
    }
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
