/**
 * Job ids: ULIDs, as gue v5 stores them (26 uppercase Crockford base32 characters: a 48-bit
 * millisecond timestamp, then 80 random bits), and the short ids of clients and workers.
 *
 * @module
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;
const MAX_TIME = 2 ** 48 - 1;
/** The 80 random bits are kept as two 40-bit halves: exact in a double, no BigInt. */
const HALF = 2 ** 40;

/** `chars` base32 characters of `n` (an integer below 32^chars), most significant first. */
function base32(n: number, chars: number): string {
  let out = "";
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[n % 32] + out;
    n = Math.floor(n / 32);
  }
  return out;
}

/** The 4 base32 characters of a 20-bit integer, with bit operations. */
function base32of20(n: number): string {
  return ALPHABET[n >>> 15] + ALPHABET[(n >>> 10) & 31] + ALPHABET[(n >>> 5) & 31] +
    ALPHABET[n & 31];
}

/** The 8 base32 characters of a 40-bit integer (one id's half), the fast way. */
function base32of40(n: number): string {
  const high = Math.floor(n / 2 ** 20);
  return base32of20(high) + base32of20(n - high * 2 ** 20);
}

/**
 * Random 32-bit words, fetched from the system's generator a few hundred at a time: one
 * `getRandomValues` call per id is most of the cost of making ids for a large batch.
 */
class RandomWords {
  readonly #words = new Uint32Array(256);
  #next = this.#words.length;

  /** A random integer in [0, 2^32). */
  word(): number {
    if (this.#next === this.#words.length) {
      crypto.getRandomValues(this.#words);
      this.#next = 0;
    }
    return this.#words[this.#next++];
  }

  /** A random integer in [0, 2^40). */
  half(): number {
    return (this.word() & 0xff) * 2 ** 32 + this.word();
  }
}

/**
 * Makes ULIDs that strictly increase, like gue's per-client monotonic entropy: within one
 * millisecond each id's random part is the previous one plus a random step in [1, 2^32), so a
 * client's ids sort in the order it made them (a batch's ids follow the batch order).
 */
export class MonotonicUlid {
  #lastTime = -1;
  #hi = 0;
  #lo = 0;
  #time = "";
  /** `#time` and the base32 of `#hi`, which changes only with the time or on a carry. */
  #prefix = "";
  #hiFor = -1;
  readonly #random = new RandomWords();

  /**
   * Returns the next id.
   *
   * @param now The timestamp to use, in ms since the epoch (the clock by default).
   * @returns A 26-character ULID, greater than every id this instance returned before.
   */
  next(now: number = Date.now()): string {
    if (now > this.#lastTime) {
      this.#newTime(now);
    } else {
      // Same millisecond, or the clock went back: stay on the last time and step the random part.
      this.#lo += this.#random.word() || 1;
      if (this.#lo >= HALF) {
        this.#lo -= HALF;
        this.#hi += 1;
        // 2^80 / 2^32 ids in one millisecond: move to the next millisecond rather than fail.
        if (this.#hi >= HALF) this.#newTime(this.#lastTime + 1);
      }
    }
    if (this.#hi !== this.#hiFor) {
      this.#hiFor = this.#hi;
      this.#prefix = this.#time + base32of40(this.#hi);
    }
    return this.#prefix + base32of40(this.#lo);
  }

  #newTime(time: number): void {
    if (time > MAX_TIME) throw new RangeError("could not generate new Job ULID ID");
    this.#lastTime = time;
    this.#time = base32(time, 10);
    this.#hiFor = -1;
    this.#hi = this.#random.half();
    this.#lo = this.#random.half();
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
