/**
 * The chart of a run, as a self-contained SVG with no dependencies: jobs/s against workers, one
 * panel per backlog, a line per system (ours with each strategy, the limit, pgbench, gue v5's
 * shipped SQL, each peer), whiskers from min to max. Both axes are logarithmic: workers double
 * from point to point, and the figures span from a few jobs/s (gue v5's SQL at a large backlog)
 * to thousands.
 *
 * @module
 */
import type { BenchResults } from "./results.ts";
import type { Summary } from "./stats.ts";

/** One line of the chart. */
interface Series {
  label: string;
  color: string;
  dash?: string;
  points: { x: number; y: Summary }[];
}

/** One panel: a backlog. */
interface Panel {
  title: string;
  series: Series[];
}

const W = 470; // panel width
const H = 330; // panel height
const M = { top: 40, right: 16, bottom: 46, left: 64 }; // margins inside a panel
const LEGEND_ROW = 20;

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

/** Tick values for a log axis: 1, 2 and 5 times each power of ten inside [lo, hi]. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

function panelSvg(panel: Panel, ox: number, xs: number[], yLo: number, yHi: number): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const xLo = Math.log2(Math.min(...xs));
  const xHi = Math.log2(Math.max(...xs));
  const px = (x: number) =>
    ox + M.left + (xHi === xLo ? pw / 2 : ((Math.log2(x) - xLo) / (xHi - xLo)) * pw);
  const py = (y: number) =>
    M.top + ph -
    ((Math.log10(Math.max(y, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * ph;
  const parts: string[] = [];
  parts.push(
    `<text x="${ox + M.left + pw / 2}" y="${M.top - 16}" text-anchor="middle" font-weight="bold">${
      esc(panel.title)
    }</text>`,
  );
  parts.push(
    `<rect x="${
      ox + M.left
    }" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#bbb"/>`,
  );
  for (const t of logTicks(yLo, yHi)) {
    const y = py(t).toFixed(1);
    parts.push(
      `<line x1="${ox + M.left}" x2="${ox + M.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`,
    );
    parts.push(
      `<text x="${ox + M.left - 6}" y="${y}" dy="4" text-anchor="end" font-size="11">${
        compact.format(t)
      }</text>`,
    );
  }
  for (const x of xs) {
    const xp = px(x).toFixed(1);
    parts.push(`<line x1="${xp}" x2="${xp}" y1="${M.top}" y2="${M.top + ph}" stroke="#eee"/>`);
    parts.push(
      `<text x="${xp}" y="${M.top + ph + 16}" text-anchor="middle" font-size="11">${x}</text>`,
    );
  }
  parts.push(
    `<text x="${ox + M.left + pw / 2}" y="${
      H - 8
    }" text-anchor="middle" font-size="12">workers (W)</text>`,
  );
  parts.push(
    `<text transform="translate(${ox + 16} ${
      M.top + ph / 2
    }) rotate(-90)" text-anchor="middle" font-size="12">jobs/s (log scale)</text>`,
  );
  for (const s of panel.series) {
    const pts = [...s.points].sort((a, b) => a.x - b.x);
    if (pts.length === 0) continue;
    const d = pts.map((p, i) =>
      `${i ? "L" : "M"}${px(p.x).toFixed(1)},${py(p.y.median).toFixed(1)}`
    ).join(" ");
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${
        s.dash ? ` stroke-dasharray="${s.dash}"` : ""
      }/>`,
    );
    for (const p of pts) {
      const x = px(p.x).toFixed(1);
      parts.push(
        `<line x1="${x}" x2="${x}" y1="${py(p.y.min).toFixed(1)}" y2="${
          py(p.y.max).toFixed(1)
        }" stroke="${s.color}" stroke-width="1.5"/>`,
      );
      parts.push(
        `<circle cx="${x}" cy="${py(p.y.median).toFixed(1)}" r="3" fill="${s.color}"><title>${
          esc(s.label)
        }, W=${p.x}: ${Math.round(p.y.median)} jobs/s (${Math.round(p.y.min)}–${
          Math.round(p.y.max)
        })</title></circle>`,
      );
    }
  }
  return parts.join("\n");
}

/** Draws panels side by side with one shared legend and one shared y scale. */
function chart(title: string, subtitle: string, panels: Panel[]): string {
  const all = panels.flatMap((p) => p.series.flatMap((s) => s.points));
  const xs = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  const ys = all.flatMap((p) => [p.y.min, p.y.max]).filter((y) => y > 0);
  const yLo = 10 ** Math.floor(Math.log10(Math.min(...ys, 1e9)));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...ys, 1)));
  const legend = [...new Map(panels.flatMap((p) => p.series).map((s) => [s.label, s])).values()];
  const perRow = 3;
  const width = W * Math.max(1, panels.length);
  const top = 44;
  const height = top + H + 16 + Math.ceil(legend.length / perRow) * LEGEND_ROW + 10;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
    `<text x="${width / 2}" y="36" text-anchor="middle" font-size="11" fill="#555">${
      esc(subtitle)
    }</text>`,
    `<g transform="translate(0 ${top})">`,
    ...panels.map((p, i) => panelSvg(p, i * W, xs, yLo, yHi)),
    `</g>`,
  ];
  const colW = width / perRow;
  legend.forEach((s, i) => {
    const x = (i % perRow) * colW + 24;
    const y = top + H + 16 + Math.floor(i / perRow) * LEGEND_ROW;
    out.push(
      `<line x1="${x}" x2="${x + 28}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2.5"${
        s.dash ? ` stroke-dasharray="${s.dash}"` : ""
      }/>`,
      `<text x="${x + 36}" y="${y}" dy="4">${esc(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}

const PEER_COLORS = ["#ff7f0e", "#d62728", "#9467bd", "#8c564b"];

/**
 * The throughput chart of a run: jobs/s against workers for ours (both strategies), the limit,
 * pgbench, gue v5's shipped SQL and each peer, one panel per backlog.
 *
 * @param r The results of the run.
 * @returns SVG text.
 */
export function throughputSvg(r: BenchResults): string {
  const backlogs = [...new Set(r.lock.map((c) => c.backlog))].sort((a, b) => a - b);
  const panels = backlogs.map((backlog): Panel => {
    const lock = (system: string, strategy: string) =>
      r.lock
        .filter((c) => c.backlog === backlog && c.system === system && c.strategy === strategy)
        .map((c) => ({ x: c.workers, y: c.jobsPerSec }));
    const series: Series[] = [
      { label: "ours, OrderByPriority", color: "#1f77b4", points: lock("ours", "OrderByPriority") },
      {
        label: "ours, OrderByRunAtPriority",
        color: "#1f77b4",
        dash: "6 4",
        points: lock("ours", "OrderByRunAtPriority"),
      },
      {
        label: "limit (postgres.js, no library)",
        color: "#2ca02c",
        points: lock("limit", "OrderByPriority"),
      },
      {
        label: "pgbench (same cycle)",
        color: "#2ca02c",
        dash: "2 3",
        points: lock("pgbench", "OrderByPriority"),
      },
      {
        label: "gue v5 SQL as shipped",
        color: "#7f7f7f",
        points: lock("gue-v5", "OrderByPriority"),
      },
      ...r.peers.filter((p) => !p.error).map((p, i): Series => ({
        label: `${p.peer} ${p.version ?? ""}`.trim(),
        color: PEER_COLORS[i % PEER_COLORS.length],
        points: p.throughput.filter((c) => c.backlog === backlog).map((c) => ({
          x: c.workers,
          y: c.jobsPerSec,
        })),
      })),
    ];
    const mode = r.lock.find((c) => c.backlog === backlog)?.mode === "drain"
      ? "drained"
      : "sampled";
    return {
      title: `backlog ${backlog.toLocaleString("en-US")} (${mode})`,
      series: series.filter((s) => s.points.length),
    };
  });
  const pg = r.postgres.version.split(" ").slice(0, 2).join(" ");
  return chart(
    "gue: lock throughput against workers",
    `${r.startedAt} · ${r.machine.cores} cores · ${pg} · median of ${r.parameters.reps}, whiskers min–max`,
    panels,
  );
}
