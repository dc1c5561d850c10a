/**
 * How the dashboard shows stored values: a job's args (opaque bytes, usually JSON), times and
 * ages. Everything here returns plain text; escaping happens in `html.ts`.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A job's args as text: pretty JSON, the UTF-8 text, or a hex dump of binary args. */
export interface ArgsText {
  /** What the bytes are. */
  readonly kind: "empty" | "json" | "text" | "binary";
  /** The text to show. */
  readonly text: string;
}

/**
 * Renders a job's args for people.
 *
 * @param args The stored bytes.
 * @param pretty Indent JSON (detail page) or keep it on one line (lists).
 * @returns The kind and the text.
 */
export function argsText(args: Uint8Array, pretty: boolean): ArgsText {
  if (args.length === 0) return { kind: "empty", text: "" };
  let text: string;
  try {
    text = decoder.decode(args);
  } catch {
    const shown = Array.from(args.subarray(0, 512), (b) => b.toString(16).padStart(2, "0"));
    return {
      kind: "binary",
      text: `${args.length} bytes: ${shown.join(" ")}${args.length > 512 ? " …" : ""}`,
    };
  }
  try {
    return { kind: "json", text: JSON.stringify(JSON.parse(text), null, pretty ? 2 : undefined) };
  } catch {
    return { kind: "text", text };
  }
}

/**
 * Shortens text to `max` characters for a table cell.
 *
 * @param text The text.
 * @param max The most characters to keep.
 * @returns The text, or its start and an ellipsis.
 */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A duration for people: "now", "12s", "4m 5s", "3h 2m", "2d 4h".
 *
 * @param ms The duration in ms (negative durations are shown as their size).
 * @returns The text.
 */
export function duration(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 1) return "now";
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/**
 * A time relative to now: "in 5m 0s" or "3s ago".
 *
 * @param date The time.
 * @param now The clock, in ms.
 * @returns The text.
 */
export function relative(date: Date, now: number = Date.now()): string {
  const ms = date.getTime() - now;
  const d = duration(ms);
  if (d === "now") return d;
  return ms > 0 ? `in ${d}` : `${d} ago`;
}

/**
 * The name to show for a queue (`""` is the default queue).
 *
 * @param queue The queue.
 * @returns The queue, or "(default)".
 */
export function queueName(queue: string): string {
  return queue === "" ? "(default)" : queue;
}
