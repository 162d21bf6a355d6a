// What a screen reader says of the wall: one sentence per new or escalated alert and per
// change made by a shortcut, through two visually hidden live regions (the feed and the
// banners themselves are not live: their timers would flood it).
//
// After a reconnect the server replays the events missed meanwhile (the hello's ``since``
// up to its ``last_event_id``); said one by one they would bury the first live alert, so
// they are counted instead and summed up in one sentence once the replay is over: at its
// last event, or at the first seat snapshot (the server sends its catch-up before those).

import { seatOf } from "./feed.js";
import { t } from "./i18n.js";

/** Sentences kept in each region: enough for a burst, not a log. */
const KEPT_LINES = 3;

export class Announcer {
  /**
   * @param {object} options
   * @param {HTMLElement} options.urgent  an aria-live="assertive" region (interrupts)
   * @param {HTMLElement} options.polite  an aria-live="polite" region (waits its turn)
   * @param {(agentId: string) => string} options.agentName
   */
  constructor({ urgent, polite, agentName }) {
    this.regions = { urgent, polite };
    this.agentName = agentName;
    this.replayUntil = 0; // the last event id of a replay under way; 0: none
    this.replaying = false; // the event being applied is part of the replay
    this.missed = new Map(); // alert id → critical, of the replay so far
  }

  /** Say one sentence: ``urgent`` interrupts the screen reader, else it waits. Sentences
   *  are added (so two at once are both said) and the oldest dropped. */
  say(text, urgent = false) {
    const region = urgent ? this.regions.urgent : this.regions.polite;
    const line = document.createElement("p");
    line.textContent = text;
    region.append(line);
    while (region.childElementCount > KEPT_LINES) region.firstElementChild.remove();
  }

  /** An alert that opened or turned critical (the feed's ``onAnnounce``): "严重告警：座席
   *  S006，杨芳，情绪激动" / "Critical alert: seat S006, <name>, agitation"; in a replay,
   *  counted for its summary instead. */
  alert(alert, escalated) {
    const critical = alert.severity === "critical";
    if (this.replaying) {
      this.missed.set(alert.id, critical || Boolean(this.missed.get(alert.id)));
      return;
    }
    const what = [t("feed.seat", { seat: seatOf(alert) }), alert.agent_id ? this.agentName(alert.agent_id) : "",
      t(`kind.${alert.kind}`).toLowerCase()].filter(Boolean).join(t("announce.sep"));
    const key = escalated ? "announce.escalated" : critical ? "announce.critical" : "announce.warning";
    this.say(t(key, { what }), critical);
  }

  /** The server's hello: the events after ``since`` up to ``last_event_id`` that follow
   *  are a replay of what happened while the wall was disconnected. */
  hello(message) {
    const since = Number(message.since);
    const last = Number(message.last_event_id);
    if (Number.isInteger(since) && Number.isInteger(last) && last > since) {
      this.replayUntil = Math.max(this.replayUntil, last);
    }
  }

  /** One alert event, handed to ``apply`` (which may call ``alert``); the replay's last
   *  event ends it. */
  event(message, apply) {
    this.replaying = this.replayUntil > 0 && message.event_id <= this.replayUntil;
    try {
      apply(message);
    } finally {
      this.replaying = false;
    }
    if (this.replayUntil > 0 && message.event_id >= this.replayUntil) this.replayOver();
  }

  /** The replay is over: "断线期间有 3 条告警，其中 1 条严重", urgent if any was critical;
   *  nothing when none was missed. */
  replayOver() {
    this.replayUntil = 0;
    const n = this.missed.size;
    const critical = [...this.missed.values()].filter(Boolean).length;
    this.missed.clear();
    if (n === 0) return;
    this.say(t(critical ? "announce.missedCritical" : "announce.missed", { n, critical }), critical > 0);
  }
}
