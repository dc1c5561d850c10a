/**
 * Runs the adapter conformance suite (`adapter_conformance.ts`) for every adapter: postgres.js,
 * pg and PGlite everywhere, Bun.SQL on Bun, deno-postgres on Deno where `jsr:@db/postgres`
 * resolves. The others are registered as skipped, with a `skipped:` line saying why.
 *
 * Where JSR is unreachable, deno-postgres resolves only through the import map that
 * `scripts/vendored_import_map.ts` writes, so a plain `deno test` skips it and
 * `deno task test:adapters` runs this suite for it against `../shared/vendor/jsr/`.
 */
import { adapterConformance } from "./adapter_conformance.ts";
import { adapterNames, adapters } from "./_adapters.ts";

// GUE_CONFORMANCE_ADAPTERS=pg,pglite narrows a run while working on one adapter.
const only = process.env.GUE_CONFORMANCE_ADAPTERS?.split(",").map((s) => s.trim());

for (const name of adapterNames) {
  const setup = adapters[name];
  const unselected = only && !only.includes(name)
    ? "not selected by GUE_CONFORMANCE_ADAPTERS"
    : undefined;
  adapterConformance(setup, unselected ?? await setup.unavailable());
}
