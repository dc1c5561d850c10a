/**
 * Progress lines for the person watching, on stderr, so stdout carries only the tables.
 *
 * @module
 */
const encoder = new TextEncoder();
const started = performance.now();

/** Writes one progress line to stderr, stamped with seconds since the bench started. */
export function progress(message: string): void {
  const t = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  Deno.stderr.writeSync(encoder.encode(`[${t}s] ${message}\n`));
}
