// Audio the engine dropped unscored (it fell behind), over the last minute, from each
// call's ``dropped_s`` in the seat snapshots: an audit found 4,059 s dropped while the
// wall showed green and calm tiles. The banner says how much and on how many seats.

import { t } from "./i18n.js";

/** Seconds over which dropped audio is summed. */
export const LAG_WINDOW_S = 60;

export class DropWatch {
  /** @param {HTMLElement} banner  shown while audio was dropped in the last minute */
  constructor(banner) {
    this.banner = banner;
    this.byCall = new Map(); // call id → dropped_s in the previous snapshot
    this.drops = []; // {t, s, seats} per snapshot that added some, the last minute's
  }

  /** One seat snapshot (``nowS``: its server time, unix s). */
  update(seats, nowS) {
    const seen = new Map();
    let added = 0;
    const lagging = new Set();
    for (const s of seats) {
      const dropped = Number(s.dropped_s);
      if (!s.call_id || !Number.isFinite(dropped)) continue;
      seen.set(s.call_id, dropped);
      const before = this.byCall.get(s.call_id);
      if (before !== undefined && dropped > before) {
        added += dropped - before;
        lagging.add(s.seat_id);
      }
    }
    this.byCall = seen;
    this.drops = this.drops.filter((d) => nowS - d.t <= LAG_WINDOW_S);
    if (added > 0) this.drops.push({ t: nowS, s: added, seats: lagging });
    const total = this.drops.reduce((sum, d) => sum + d.s, 0);
    const seatsHit = new Set(this.drops.flatMap((d) => [...d.seats]));
    const hidden = total <= 0;
    if (this.banner.hidden !== hidden) this.banner.hidden = hidden;
    // Under a second rounds to "0 s went unscored": say "< 1" instead.
    const text = hidden ? "" : t("lag.dropped", { s: total < 0.5 ? "< 1" : Math.round(total), n: seatsHit.size });
    if (this.banner.textContent !== text) this.banner.textContent = text;
  }
}
