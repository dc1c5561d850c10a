/**
 * What the core needs from an adapter, checked when a `Client`, `Worker` or `WorkerPool` is
 * made rather than discovered later as a hang or a timeout. Each capability an adapter declares
 * in {@linkcode AdapterCapabilities} has a line here saying what it means, so a refusal reads
 * as a sentence: who needs what, which adapter lacks it, and what to do instead.
 *
 * A new capability (LISTEN, pipelining, …) is a new flag in `AdapterCapabilities`, a line in
 * {@linkcode CAPABILITY_TEXT}, and a {@linkcode requireCapability} call where it is needed.
 *
 * @module
 */
import type { AdapterCapabilities, ConnPool } from "./adapter.ts";

/** The name of one capability flag of {@linkcode AdapterCapabilities}. */
export type Capability = keyof AdapterCapabilities;

/** What each capability lets the core do, and why an adapter may lack it; for refusals. */
export const CAPABILITY_TEXT: Readonly<Record<Capability, { needs: string; lacks: string }>> = {
  concurrentTransactions: {
    needs: "transactions open at the same time",
    lacks: "it runs one transaction at a time",
  },
  pipelining: {
    needs: "statements sent without waiting for the answer to the one before",
    lacks: "its driver waits for each answer",
  },
  listen: {
    needs: "a LISTEN connection that wakes idle workers when jobs are enqueued",
    lacks: "its driver cannot receive notifications",
  },
};

/**
 * Whether `pool` declares `capability`. An adapter that states nothing about a capability
 * does not have it.
 *
 * @param pool The adapter's pool.
 * @param capability The flag.
 * @returns True when the adapter has it.
 */
export function hasCapability(pool: ConnPool, capability: Capability): boolean {
  const capabilities = pool.capabilities as Partial<AdapterCapabilities> | undefined;
  return capabilities?.[capability] === true;
}

/**
 * Refuses a use of `pool` that needs `capability` when the adapter does not have it, with a
 * message saying who needs it, what the adapter lacks and what to do.
 *
 * @param pool The adapter's pool.
 * @param capability The flag the use needs.
 * @param who Who needs it, e.g. `"a WorkerPool of 4 workers"`.
 * @param remedy What to do instead, e.g. `"use one Worker, or a server-backed adapter"`.
 * @throws {TypeError} When the adapter does not have the capability.
 */
export function requireCapability(
  pool: ConnPool,
  capability: Capability,
  who: string,
  remedy: string,
): void {
  if (hasCapability(pool, capability)) return;
  const { needs, lacks } = CAPABILITY_TEXT[capability];
  throw new TypeError(
    `${who} needs ${needs} (capabilities.${capability}), which the ${pool.name} adapter ` +
      `does not have: ${lacks}; ${remedy}`,
  );
}
