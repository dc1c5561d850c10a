/**
 * How a batch of jobs is bound to its INSERT: as one JSON text, whatever the batch's size.
 *
 * gue's INSERT binds eight parameters a job, so a batch of 1,000 is a statement of 8,000
 * parameters that the server parses and plans afresh for every batch size, and past 8,191 jobs it
 * no longer fits in one statement (65,535 parameters at most). Bound as one JSON array the
 * statement is the same text for every size (prepared once), one statement is atomic at any
 * size, and a text parameter binds the same way on every driver — arrays would not: postgres.js
 * sends an array of `Date`s as a single timestamp, and arrays of bytes differ between drivers.
 * Measured on 1,000-job batches this is faster than both the eight-parameter INSERT and
 * `unnest` over typed arrays.
 *
 * @module
 */
import type { JobData } from "./job.ts";

type WithBase64 = Uint8Array & { toBase64(): string };

/** Uint8Array.prototype.toBase64 where the runtime has it (Deno, Bun, Node 25). */
const nativeBase64 = typeof (Uint8Array.prototype as Partial<WithBase64>).toBase64 === "function";

/** The bytes in base64, which Postgres' `decode(text, 'base64')` reads back. */
function base64(bytes: Uint8Array): string {
  if (bytes.length === 0) return "";
  if (nativeBase64) return (bytes as WithBase64).toBase64();
  let binary = "";
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

type WellFormed = string & { toWellFormed(): string };

/**
 * The text as a driver would send it: a lone surrogate becomes U+FFFD, as UTF-8 encoding makes
 * it, where JSON would escape it into a `\ud800` the server refuses.
 */
const wellFormed = typeof (String.prototype as Partial<WellFormed>).toWellFormed === "function"
  ? (s: string) => (s as WellFormed).toWellFormed()
  : (s: string) => s;

/** Args up to this many bytes that are ASCII without NUL go as text; the rest in base64. */
const TEXT_ARGS_MAX = 4096;

/**
 * A job's args as a field of its JSON row: `"s":"<text>"` when the bytes are ASCII without NUL
 * (JSON args almost always are: stored back by `convert_to`, byte for byte), otherwise
 * `"a":"<base64>"`. Text costs no encoding here and no decoding on the server.
 */
function argsField(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= TEXT_ARGS_MAX) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (b === 0 || b > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      return `"s":${JSON.stringify(String.fromCharCode.apply(null, bytes as unknown as number[]))}`;
    }
  }
  return `"a":"${base64(bytes)}"`;
}

/** JSON.stringify of a text column's value, as the driver would send it (see `wellFormed`). */
function jsonText(value: string): string {
  return JSON.stringify(wellFormed(value));
}

/**
 * The parameters of `jobInsertBatch` (`src/sql.ts`): the jobs as a JSON array of
 * `{ i: id, q: queue, p: priority, r: runAt, t: type, s: args as text | a: args in base64 }`,
 * and their `created_at`. The rows are written out by hand, not with `JSON.stringify` of an
 * object per job: a batch's jobs mostly share their queue, type and runAt, whose JSON is made
 * once, and the id, priority and time need no escaping (a ULID, an integer, ISO 8601).
 *
 * @param jobs Validated jobs, all made at the same time (`createdAt`).
 * @param own Add our columns too, `m: maxAttempts, u: uniqueKey` (for `jobInsertOwn`).
 * @returns `[json, createdAt]`.
 */
export function jobInsertBatchParams(jobs: readonly JobData[], own = false): [string, Date] {
  const rows = new Array<string>(jobs.length);
  let lastRunAt: Date | undefined;
  let lastIso = "";
  let lastQueue: string | undefined;
  let queueJson = "";
  let lastType: string | undefined;
  let typeJson = "";
  for (let n = 0; n < jobs.length; n++) {
    const j = jobs[n];
    if (j.runAt !== lastRunAt) {
      lastRunAt = j.runAt;
      lastIso = j.runAt.toISOString();
    }
    if (j.queue !== lastQueue) {
      lastQueue = j.queue;
      queueJson = jsonText(j.queue);
    }
    if (j.type !== lastType) {
      lastType = j.type;
      typeJson = jsonText(j.type);
    }
    let row = `{"i":"${j.id}","q":${queueJson},"p":${j.priority},"r":"${lastIso}","t":${typeJson},${
      argsField(j.args)
    }`;
    if (own) {
      const key = j.uniqueKey ?? null;
      row += `,"m":${j.maxAttempts ?? null},"u":${key === null ? "null" : jsonText(key)}`;
    }
    rows[n] = row + "}";
  }
  return ["[" + rows.join(",") + "]", jobs[0].createdAt];
}
