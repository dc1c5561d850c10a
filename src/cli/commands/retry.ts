/**
 * `gue retry <id>` and `gue retry --all-failed`: move failed jobs back into their queue.
 *
 * @module
 */
import type { Client } from "../../client.ts";
import {
  type Command,
  flag,
  jobIdArgument,
  noSuchJob,
  stringOption,
  wrongState,
} from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode, usageError } from "../exit_codes.ts";
import { parseRunAt } from "../time.ts";

/** `gue retry`. */
export const retryCommand: Command = {
  name: "retry",
  summary: "Move failed jobs back into their queue",
  usage: "retry <id> [options] | retry --all-failed [--queue NAME] [--type TYPE] [options]",
  description: `
Moves a failed (dead-lettered) job back into its queue with its error count reset to 0, so it
gets all its attempts again; its last error is kept. With --all-failed, every failed job, or
those of one --queue and/or --type. A job that has failed before but is still queued ("failing")
is retried by its workers at its run-at; it is not a failed job.

Exit codes: 0 retried (with --all-failed: even when none matched), 1 the database failed (e.g. a
queued job holds the failed job's unique key), 2 bad arguments, 3 no job with that id, 4 the job
has not failed (it is queued or running).`,
  options: {
    "all-failed": { type: "boolean", help: "retry every failed job (narrowed by --queue, --type)" },
    queue: {
      type: "string",
      short: "q",
      value: "NAME",
      help: "with --all-failed: only this queue",
    },
    type: {
      type: "string",
      short: "t",
      value: "TYPE",
      help: "with --all-failed: only this job type",
    },
    "run-at": {
      type: "string",
      value: "TIME",
      help: "when to run them: ISO 8601 or a delay (+30s, 5m) (default: now)",
    },
  },
  positionals: { min: 0, max: 1, names: "<id> or --all-failed" },
  async run({ values, positionals, io }) {
    const all = flag(values, "all-failed");
    if (all === (positionals.length === 1)) {
      throw usageError("give either a job <id> or --all-failed", "retry");
    }
    const queue = stringOption(values, "queue");
    const type = stringOption(values, "type");
    if (!all && (queue !== undefined || type !== undefined)) {
      throw usageError("--queue and --type go with --all-failed", "retry");
    }
    const runAtText = stringOption(values, "run-at");
    const runAt = runAtText === undefined ? undefined : parseRunAt(runAtText);
    if (runAtText !== undefined && runAt === undefined) {
      throw usageError(
        `--run-at must be an ISO 8601 time or a delay (+30s, 5m), got ${JSON.stringify(runAtText)}`,
        "retry",
      );
    }
    const id = all ? undefined : jobIdArgument(positionals[0], "retry");
    return await withConnection(values, io, "retry", async ({ client }) => {
      if (id === undefined) {
        const n = await retryAll(client, { queue, type, runAt });
        io.out(`retried ${n} failed job${n === 1 ? "" : "s"}`);
        return ExitCode.Ok;
      }
      if (await client.retryFailedJob(id, { runAt })) {
        io.out(`retried ${id}`);
        return ExitCode.Ok;
      }
      const job = await client.getJob(id);
      if (job === null) throw noSuchJob(id);
      throw wrongState(
        `job ${id} is ${job.state}, not failed: only failed jobs are retried ` +
          `(a queued job that has failed before runs again at its run-at by itself)`,
      );
    });
  },
};

async function retryAll(
  client: Client,
  filter: { queue?: string; type?: string; runAt?: Date },
): Promise<number> {
  let retried = 0;
  let after: string | null = null;
  do {
    const page = await client.listJobs({
      state: "failed",
      queue: filter.queue,
      type: filter.type,
      limit: 1000,
      after,
    });
    for (const job of page.jobs) {
      if (await client.retryFailedJob(job.id, { runAt: filter.runAt })) retried++;
    }
    after = page.next;
  } while (after !== null);
  return retried;
}
