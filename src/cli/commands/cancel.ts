/**
 * `gue cancel <id>`: stops a job, queued or running.
 *
 * @module
 */
import {
  type Command,
  flag,
  integerOption,
  jobIdArgument,
  noSuchJob,
  wrongState,
} from "../command.ts";
import { withConnection } from "../connect.ts";
import { CliError, ExitCode } from "../exit_codes.ts";

/** `gue cancel`. */
export const cancelCommand: Command = {
  name: "cancel",
  summary: "Cancel a queued or running job",
  usage: "cancel <id> [options]",
  description: `
Cancels a job. A queued one moves to the failed jobs at once, with reason "cancelled": it never
runs ("cancelled <id>"). A running one gets a cancellation request: its worker aborts the
handler's signal shortly after, rolls back what the handler wrote in the job's transaction, and
moves it to the failed jobs as cancelled, not retried ("cancellation requested for running job
<id>"). With --wait, gue waits until the running job has ended as cancelled (or finished before
the request was seen) and prints "cancelled <id>" (or "finished <id> before it was cancelled").

Exit codes: 0 cancelled or requested, 1 the database failed (or --wait timed out), 2 bad
arguments, 3 no job with that id (it finished, was deleted, or never existed), 4 the job has
already failed.`,
  options: {
    wait: { type: "boolean", help: "for a running job: wait until it has stopped" },
    timeout: {
      type: "string",
      value: "SECONDS",
      help: "with --wait: give up after SECONDS, exit 1 (default: 60)",
    },
  },
  positionals: { min: 1, max: 1, names: "<id>" },
  async run({ values, positionals, io }) {
    const id = jobIdArgument(positionals[0], "cancel");
    const wait = flag(values, "wait");
    const timeout = integerOption(values, "timeout", "cancel", { min: 1, max: 86_400 }) ?? 60;
    return await withConnection(values, io, "cancel", async ({ client }) => {
      const result = await client.cancelJob(id);
      if (result === "cancelled") {
        io.out(`cancelled ${id}`);
        return ExitCode.Ok;
      }
      if (result === "requested") {
        if (!wait) {
          io.out(`cancellation requested for running job ${id}`);
          return ExitCode.Ok;
        }
        const deadline = Date.now() + timeout * 1000;
        while (Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 200));
          const job = await client.getJob(id);
          if (job === null) {
            io.out(`finished ${id} before it was cancelled`);
            return ExitCode.Ok;
          }
          if (job.state === "failed") {
            io.out(`cancelled ${id}`);
            return ExitCode.Ok;
          }
        }
        throw new CliError(
          `job ${id} is still running ${timeout} s after the cancellation request: its worker ` +
            "may not look for cancellations (cancelPollInterval), or its handler ignores ctx.signal",
          ExitCode.Failure,
        );
      }
      const job = await client.getJob(id);
      if (job === null) throw noSuchJob(id);
      throw wrongState(`job ${id} is ${job.state}: it cannot be cancelled`);
    });
  },
};
