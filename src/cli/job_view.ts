/**
 * How the command line shows a job: args decoded as JSON when they are JSON (base64 otherwise,
 * since gue's args are opaque bytes), times as ISO 8601 UTC.
 *
 * @module
 */

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Base64 of any size (spreading a large array into one call would overflow the stack). */
function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * The job's args for display: the JSON value when the bytes are UTF-8 JSON, `null` when empty,
 * `{ text: "…" }` for other UTF-8 text, `{ base64: "…" }` for binary.
 *
 * @param args The stored bytes.
 * @returns A JSON-serialisable value.
 */
export function argsValue(args: Uint8Array): unknown {
  if (args.length === 0) return null;
  let text: string;
  try {
    text = decoder.decode(args);
  } catch {
    return { base64: base64(args) };
  }
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

/**
 * A job (or any record of a job's fields) as plain JSON: `Date`s become ISO strings, `args`
 * bytes are decoded by {@linkcode argsValue}, functions are dropped.
 *
 * @param job The job's fields.
 * @returns A JSON-serialisable object with the same keys.
 */
export function jobJson(job: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(job)) {
    if (typeof value === "function") continue;
    if (value instanceof Date) out[key] = value.toISOString();
    else if (value instanceof Uint8Array) {
      out[key] = key === "args" ? argsValue(value) : base64(value);
    } else out[key] = value;
  }
  return out;
}

/**
 * One line of args for a table: compact JSON, cut to `max` characters.
 *
 * @param args The stored bytes.
 * @param max The widest it may be.
 * @returns The text.
 */
export function argsSummary(args: Uint8Array, max = 40): string {
  if (args.length === 0) return "";
  const text = JSON.stringify(argsValue(args));
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}
