/**
 * Job ids: ULIDs, as gue v5 stores them (26 uppercase Crockford base32 characters: a 48-bit
 * millisecond timestamp, then 80 random bits), and the short ids of clients and workers.
 *
 * @module
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const MAX_TIME = 2 ** 48 - 1;
const RANDOM_LIMIT = 1n << 80n;

function encode(time: number, random: bigint): string {
  let out = "";
  let t = time;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  let r = random;
  let tail = "";
  for (let i = 0; i < 16; i++) {
    tail = ALPHABET[Number(r & 31n)] + tail;
    r >>= 5n;
  }
  return out + tail;
}

function randomBigInt(bytes: number): bigint {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let n = 0n;
  for (const b of buf) n = (n << 8n) | BigInt(b);
  return n;
}

/**
 * Makes ULIDs that strictly increase, like gue's per-client monotonic entropy: within one
 * millisecond each id's random part is the previous one plus a random step in [1, 2^32), so a
 * client's ids sort in the order it made them (a batch's ids follow the batch order).
 */
export class MonotonicUlid {
  #lastTime = -1;
  #lastRandom = 0n;

  /**
   * Returns the next id.
   *
   * @param now The timestamp to use, in ms since the epoch (the clock by default).
   * @returns A 26-character ULID, greater than every id this instance returned before.
   */
  next(now: number = Date.now()): string {
    if (now > this.#lastTime) {
      this.#lastTime = now;
      this.#lastRandom = randomBigInt(10);
    } else {
      // Same millisecond, or the clock went back: stay on the last time and step the random part.
      const step = randomBigInt(4) || 1n;
      this.#lastRandom += step;
      if (this.#lastRandom >= RANDOM_LIMIT) {
        // 2^80 / 2^32 ids in one millisecond: move to the next millisecond rather than fail.
        this.#lastTime += 1;
        this.#lastRandom = randomBigInt(10);
      }
    }
    if (this.#lastTime > MAX_TIME) throw new RangeError("could not generate new Job ULID ID");
    return encode(this.#lastTime, this.#lastRandom);
  }
}

/**
 * Checks and normalises a job id given by a caller (`enqueueWithId`, `lockJobById`).
 *
 * @param id A ULID string; lower case is accepted and stored upper case, as gue stores it.
 * @param field The name of the argument, for the error message.
 * @returns The id in canonical (upper case) form.
 * @throws {TypeError} When `id` is not a 26-character Crockford base32 ULID.
 */
export function parseUlid(id: unknown, field = "id"): string {
  if (typeof id !== "string") {
    throw new TypeError(`${field} must be a ULID string, got ${typeof id}`);
  }
  const canonical = id.toUpperCase();
  if (!ULID_PATTERN.test(canonical)) {
    throw new TypeError(
      `${field} must be a 26-character ULID (Crockford base32), got ${JSON.stringify(id)}`,
    );
  }
  return canonical;
}

/** Reads the millisecond timestamp out of a ULID. */
export function ulidTime(id: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]);
  return t;
}

/**
 * Returns a short random id (6 hex characters) for clients, workers and pools, used in logs only
 * (gue's `RandomStringID`; ours is random rather than derived from the clock).
 *
 * @example
 * ```ts
 * import { randomStringId } from "@gue/gue";
 * console.assert(/^[0-9a-f]{6}$/.test(randomStringId()));
 * ```
 */
export function randomStringId(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
