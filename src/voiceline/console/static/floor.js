// The wall's floor strip: calls in progress, open alerts, the stress index and its
// sparkline; the tile counts per state; and the team filter's choices.

import { drawSparkline } from "./charts.js";
import { t } from "./i18n.js";
import { STATES } from "./tiles.js";

/** Points of the stress sparkline: ten minutes at one snapshot a second. */
export const STRESS_POINTS = 600;
const $ = (id) => document.getElementById(id);

/** The strip from the newest seats message (``latest``), the grid, the feed and the
 *  stress history. */
export function renderStrip(latest, grid, feed, stress) {
  const floor = latest?.floor ?? {};
  const seats = latest?.seats ?? [];
  $("m-in-call").textContent = String(floor.in_call ?? seats.length);
  $("m-seats").textContent = `/ ${grid.tiles.size}`;
  const open = floor.open_alerts ?? [...feed.alerts.values()].filter((a) => a.state === "open").length;
  $("m-open").textContent = String(open);
  $("m-open").parentElement.dataset.hot = String(open > 0);
  const index = floor.stress_index;
  $("m-stress").textContent = typeof index === "number" ? index.toFixed(2) : "–";
  drawSparkline($("spark"), stress, STRESS_POINTS);
}

/** How many tiles are in each state, and how many the filters show. */
export function renderCounts(grid) {
  const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
  for (const tile of grid.tiles.values()) counts[tile.view.state] += 1;
  for (const s of STATES) $(`n-${s}`).textContent = String(counts[s]);
  $("shown").textContent = t("filter.shown", { n: grid.visibleCount, total: grid.tiles.size });
}

/** The team filter's options: the grid's teams, keeping the one chosen. */
export function renderTeams(grid) {
  const select = $("team");
  const teams = grid.teams();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (teams.join("\n") !== have.join("\n")) {
    const chosen = select.value;
    select.replaceChildren(select.options[0], ...teams.map((team) => new Option(team, team)));
    select.value = teams.includes(chosen) ? chosen : "";
  }
  select.closest("label").hidden = teams.length === 0;
}
