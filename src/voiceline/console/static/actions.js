// What a supervisor does with an alert: acknowledge it, or resolve it with an outcome from
// a short list plus free text (the resolve dialog of wall.html). Both go through the REST
// API; the server records who did it and tells every connected wall at once (their feeds
// get the event), and this page shows the answer at once too.

import { ApiError, api } from "./api.js";
import { openedAt, seatOf } from "./feed.js";
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);

/** The note stored with a resolution: the outcome's words, then the free text if any. */
export function resolutionNote(outcome, text) {
  const label = t(`outcome.${outcome}`);
  return text ? t("resolve.noteJoin", { outcome: label, text }) : label;
}

export class AlertActions {
  /**
   * @param {object} hooks
   * @param {import("./feed.js").AlertFeed} hooks.feed
   * @param {(agentId: string) => string} hooks.agentName
   * @param {() => void} hooks.onRefused  the server refused this user's role (403)
   * @param {() => void} hooks.onChange  something changed: draw a frame
   */
  constructor({ feed, agentName, onRefused, onChange }) {
    this.feed = feed;
    this.agentName = agentName;
    this.onRefused = onRefused;
    this.onChange = onChange;
    this.resolving = null;
    $("resolve-form").addEventListener("submit", (event) => this._submit(event));
    $("resolve-cancel").addEventListener("click", () => $("resolve").close());
  }

  async acknowledge(alert) {
    try {
      const updated = await api(`/api/alerts/${alert.id}/ack`, { method: "POST" });
      if (updated?.id !== undefined) this.feed.upsert(updated);
    } catch (error) {
      await this._failed(alert, error);
    }
    this.onChange();
  }

  openResolve(alert) {
    this.resolving = alert;
    const form = $("resolve-form");
    form.reset();
    $("resolve-error").hidden = true;
    $("resolve-what").textContent = [t(`severity.${alert.severity}`), t(`kind.${alert.kind}`),
      t("feed.seat", { seat: seatOf(alert) }), alert.agent_id ? this.agentName(alert.agent_id) : ""]
      .filter(Boolean).join(" · ");
    $("resolve").showModal();
    form.querySelector("input[name=outcome]").focus();
  }

  async _submit(event) {
    event.preventDefault();
    const form = $("resolve-form");
    const outcome = form.elements.outcome.value;
    const errorBox = $("resolve-error");
    if (!outcome) {
      errorBox.textContent = t("resolve.choose");
      errorBox.hidden = false;
      return;
    }
    const alert = this.resolving;
    const note = resolutionNote(outcome, form.elements.note.value.trim());
    const submit = $("resolve-submit");
    submit.disabled = true;
    try {
      const updated = await api(`/api/alerts/${alert.id}/resolve`, { method: "POST", body: { note } });
      if (updated?.id !== undefined) this.feed.upsert(updated);
      $("resolve").close();
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) {
        $("resolve").close();
        this.onRefused();
        return;
      }
      errorBox.textContent = await this._why(alert, error);
      errorBox.hidden = false;
    } finally {
      submit.disabled = false;
    }
    this.onChange();
  }

  async _failed(alert, error) {
    if (error instanceof ApiError && error.status === 403) {
      this.onRefused();
      return;
    }
    this.feed.setError(alert.id, await this._why(alert, error));
  }

  /** Why an action failed, in the page's words. Someone else got there first (409): the
   *  alert as it is now, and who did what when (an audit found the server's English with
   *  a raw Unix time in the Chinese page). */
  async _why(alert, error) {
    if (error instanceof ApiError && error.status === 409) {
      try {
        const now = await api(`/api/alerts/${alert.id}`);
        if (now?.id !== undefined) this.feed.upsert(now);
        if (now?.resolved_by) {
          return t("feed.alreadyResolved", { user: now.resolved_by, time: openedAt(now.resolved_s) });
        }
        if (now?.acknowledged_by) {
          return t("feed.alreadyAcked", { user: now.acknowledged_by, time: openedAt(now.acknowledged_s) });
        }
      } catch {
        // the server's own reason, below
      }
    }
    return t("feed.failed", { detail: error.detail ?? error.message });
  }
}
