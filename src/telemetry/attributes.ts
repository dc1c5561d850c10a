/**
 * Attribute objects made once and reused for every recording, so a job allocates none, and the
 * shared way gue creates its counters.
 *
 * @module
 */
import { type Attributes, type Counter, type Meter, ValueType } from "@opentelemetry/api";

/**
 * Job types and queues come from the database and are unbounded in principle; past this many,
 * attributes are built per call instead of cached, so a flood of odd names cannot grow memory.
 */
export const MAX_CACHED = 1000;

/** `{ job-type, success }` objects, made once per type and reused for every recording. */
export class OutcomeAttributes {
  readonly #cache = new Map<string, readonly [Attributes, Attributes]>();

  /** The attributes of `type` with `success`. */
  get(type: string, success: boolean): Attributes {
    let pair = this.#cache.get(type);
    if (pair === undefined) {
      pair = [
        Object.freeze({ "job-type": type, success: false }),
        Object.freeze({ "job-type": type, success: true }),
      ];
      if (this.#cache.size < MAX_CACHED) this.#cache.set(type, pair);
    }
    return pair[success ? 1 : 0];
  }
}

/** `{ job-type }` objects, made once per type. */
export class TypeAttributes {
  readonly #cache = new Map<string, Attributes>();

  /** The attributes of `type`. */
  get(type: string): Attributes {
    let attrs = this.#cache.get(type);
    if (attrs === undefined) {
      attrs = Object.freeze({ "job-type": type });
      if (this.#cache.size < MAX_CACHED) this.#cache.set(type, attrs);
    }
    return attrs;
  }
}

/** A counter as gue makes them: unit `1`, integer values. */
export function counter(meter: Meter, name: string, description: string): Counter {
  return meter.createCounter(name, { description, unit: "1", valueType: ValueType.INT });
}
