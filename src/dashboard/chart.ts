/**
 * The throughput chart: a small inline SVG made here rather than a charting library. Two lines
 * over a few minutes need only a scale and two polylines; a library (uPlot, Chart.js) would
 * mean shipping and serving a script bundle from a package that JSR serves as TypeScript, and a
 * client-side renderer for what the server can draw once. The SVG is rendered on the server,
 * so it refreshes with the rest of the live fragment and works with scripts disabled.
 *
 * @module
 */
import { type Html, html } from "./html.ts";
import type { ThroughputPoint } from "./throughput.ts";

const WIDTH = 1000;
const HEIGHT = 200;
const LEFT = 48;
const RIGHT = 8;
const TOP = 10;
const BOTTOM = 22;

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value` (at least 1), for a readable axis. */
export function niceCeiling(value: number): number {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function formatRate(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function formatAgo(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s ago` : `${Math.floor(s / 60)}m ${s % 60}s ago`;
}

/**
 * Draws enqueued/s and finished/s over time.
 *
 * @param points The points, oldest first.
 * @param unavailable Why there is no data (shown instead of the chart), if so.
 * @returns An `<svg>` element, or a note when there are fewer than two points.
 */
export function throughputChart(
  points: readonly ThroughputPoint[],
  unavailable: string | null,
): Html {
  if (unavailable !== null && points.length === 0) {
    return html`<p class="note">Throughput unavailable: ${unavailable}</p>`;
  }
  if (points.length < 2) {
    return html`<p class="note" data-chart="waiting">Collecting throughput samples while this page is open…</p>`;
  }
  const first = points[0].at;
  const last = points[points.length - 1].at;
  const max = niceCeiling(Math.max(...points.map((p) => Math.max(p.enqueued, p.finished))));
  const plotW = WIDTH - LEFT - RIGHT;
  const plotH = HEIGHT - TOP - BOTTOM;
  const x = (at: number) => (LEFT + ((at - first) / Math.max(1, last - first)) * plotW).toFixed(1);
  const y = (v: number) => (TOP + plotH - (v / max) * plotH).toFixed(1);
  const line = (pick: (p: ThroughputPoint) => number) =>
    points.map((p) => `${x(p.at)},${y(pick(p))}`).join(" ");
  const ticks = [0, max / 2, max];
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img"
  aria-label="Jobs enqueued and finished per second" data-points="${points.length}">
  ${
    ticks.map((t) =>
      html`
        <line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${y(t)}" y2="${y(t)}" />
        <text class="axis" x="${LEFT - 6}" y="${Number(y(t)) + 4}" text-anchor="end">${formatRate(
          t,
        )}</text>
      `
    )
  }
  <text class="axis" x="${LEFT}" y="${HEIGHT - 6}">${formatAgo(last - first)}</text>
  <text class="axis" x="${WIDTH - RIGHT}" y="${HEIGHT - 6}" text-anchor="end">now</text>
  <polyline class="enqueued" fill="none" points="${line((p) => p.enqueued)}"/>
  <polyline class="finished" fill="none" points="${line((p) => p.finished)}"/>
</svg>`;
}
