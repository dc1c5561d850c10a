/**
 * The chaos table, and the verdict: which targets a scenario missed.
 *
 * @module
 */
import type { ScenarioResult } from "./run_scenario.ts";

/** After a restart, every worker must commit again within this many ms of the server's return. */
export const RESTART_RECOVERY_MS = 2000;

/**
 * The targets `result` missed (empty when it met them all, or is informational or skipped).
 *
 * @param result A scenario's row.
 * @returns One short text per missed target.
 */
export function missedTargets(result: ScenarioResult): string[] {
  if (result.skipped || result.informational) return [];
  const missed: string[] = [];
  if (result.jobs === 0) missed.push("no job was enqueued");
  if (result.lost > 0) missed.push(`${result.lost} lost`);
  if (result.failed > 0) missed.push(`${result.failed} moved to the failed jobs`);
  if (result.duplicated > 0) missed.push(`${result.duplicated} duplicated effects`);
  if (result.leftover > 0) missed.push(`${result.leftover} left over`);
  if (result.crashed > 0) missed.push(`${result.crashed} crashed`);
  if (result.hung > 0) missed.push(`${result.hung} hung`);
  if (result.stuck > 0) missed.push(`${result.stuck} workers never committed again`);
  if (
    result.name.startsWith("restart") && result.worstMs !== null &&
    result.worstMs > RESTART_RECOVERY_MS
  ) {
    missed.push(`recovery ${result.worstMs} ms > ${RESTART_RECOVERY_MS} ms`);
  }
  return missed;
}

/**
 * The table, one row per scenario, then the notes and missed targets of each.
 *
 * @param results The rows.
 * @returns Printable text.
 */
export function formatTable(results: ScenarioResult[]): string {
  const header = [
    "scenario",
    "faults",
    "jobs",
    "lost",
    "failed",
    "dup",
    "leftover",
    "crashed",
    "hung",
    "stuck",
    "recover",
    "wall",
    "verdict",
  ];
  const rows = results.map((r) => {
    if (r.skipped) return [r.name, ...header.slice(1, -1).map(() => "-"), "skipped"];
    const missed = missedTargets(r);
    return [
      r.name,
      String(r.faults),
      String(r.jobs),
      String(r.lost),
      String(r.failed),
      String(r.duplicated),
      String(r.leftover),
      String(r.crashed),
      String(r.hung),
      String(r.stuck),
      r.worstMs === null ? "-" : `${(r.worstMs / 1000).toFixed(2)} s`,
      `${(r.wallMs / 1000).toFixed(0)} s`,
      r.informational ? "info" : missed.length === 0 ? "ok" : "FAIL",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    "| " +
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ") +
    " |";
  const out = [
    line(header),
    "|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") +
    "|",
    ...rows.map(line),
    "",
  ];
  for (const r of results) {
    const missed = r.skipped ? [] : missedTargets(r);
    const extra = [
      ...(r.skipped ? [`skipped: ${r.skipped}`] : []),
      ...(r.enqueueFailures ? [`${r.enqueueFailures} enqueue batches failed (not counted)`] : []),
      ...missed.map((m) => `MISSED: ${m}`),
      ...r.notes,
    ];
    if (extra.length) out.push(`${r.name}:`, ...extra.map((e) => `  ${e}`));
  }
  return out.join("\n");
}
