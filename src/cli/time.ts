/**
 * Times on the command line: `--run-at` values (an ISO 8601 time or a delay such as `+30s`) and
 * ages printed as `1h2m`.
 *
 * @module
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a delay such as `30s`, `+5m`, `1h30m`, `2d` or `250ms`.
 *
 * @param text The delay.
 * @returns Milliseconds, or `undefined` when `text` is not a delay.
 */
export function parseDelay(text: string): number | undefined {
  const body = text.trim().replace(/^\+/, "");
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(body)) return undefined;
  let ms = 0;
  for (const m of body.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
}

/**
 * Parses a `--run-at` value: an ISO 8601 time (`2030-01-01T09:00:00Z`) or a delay from now
 * (`+30s`, `5m`, `1h30m`).
 *
 * @param text The value.
 * @param now The clock.
 * @returns The time, or `undefined` when `text` is neither.
 */
export function parseRunAt(text: string, now = new Date()): Date | undefined {
  const delay = parseDelay(text);
  if (delay !== undefined) return new Date(now.getTime() + delay);
  // Only ISO-looking strings: Date.parse accepts much else, differently per engine.
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    return undefined;
  }
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * Formats a duration compactly: `850ms`, `12s`, `3m4s`, `2h5m`, `3d4h`.
 *
 * @param ms Milliseconds (negative is shown with a leading `-`).
 * @returns The text.
 */
export function formatAge(ms: number): string {
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(Math.round(ms));
  if (rest < 1000) return `${sign}${rest}ms`;
  rest = Math.floor(rest / 1000);
  const d = Math.floor(rest / 86_400);
  const h = Math.floor((rest % 86_400) / 3600);
  const m = Math.floor((rest % 3600) / 60);
  const s = rest % 60;
  if (d > 0) return `${sign}${d}d${h}h`;
  if (h > 0) return `${sign}${h}h${m}m`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}
