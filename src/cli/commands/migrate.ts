/**
 * `gue migrate`: creates the gue tables or brings them up to date.
 *
 * @module
 */
import { migrations } from "../../migrations.ts";
import type { Command } from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode } from "../exit_codes.ts";

/** `gue migrate`. */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "Create the gue tables or bring them up to date",
  usage: "migrate [options]",
  description: `
Applies the migrations this version of gue ships that the database lacks, in order, under an
advisory lock: safe to run from several deploys at once. Prints each migration applied, or that
the schema is already current.

Exit codes: 0 done (or nothing to do), 1 the database failed.`,
  options: {},
  positionals: { min: 0, max: 0, names: "" },
  async run({ values, io }) {
    const applied = await withConnection(values, io, "migrate", ({ client }) => client.migrate());
    const latest = migrations[migrations.length - 1].version;
    for (const version of applied) {
      const name = migrations.find((m) => m.version === version)?.name ?? String(version);
      io.out(`applied ${name}`);
    }
    io.out(
      applied.length === 0
        ? `schema is up to date (version ${latest})`
        : `schema is at version ${latest}`,
    );
    return ExitCode.Ok;
  },
};
