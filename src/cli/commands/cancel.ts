/**
 * `gue cancel <id>`: stops a job, queued or running.
 *
 * @module
 */
import { type Command, jobIdArgument, noSuchJob, wrongState } from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode } from "../exit_codes.ts";

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
<id>"). Look at it afterwards with gue show <id>.

Exit codes: 0 cancelled or requested, 1 the database failed, 2 bad arguments, 3 no job with that
id (it finished, was deleted, or never existed), 4 the job has already failed.`,
  options: {},
  positionals: { min: 1, max: 1, names: "<id>" },
  async run({ values, positionals, io }) {
    const id = jobIdArgument(positionals[0], "cancel");
    return await withConnection(values, io, "cancel", async ({ client }) => {
      const result = await client.cancelJob(id);
      if (result === "cancelled") {
        io.out(`cancelled ${id}`);
        return ExitCode.Ok;
      }
      if (result === "requested") {
        io.out(`cancellation requested for running job ${id}`);
        return ExitCode.Ok;
      }
      const job = await client.getJob(id);
      if (job === null) throw noSuchJob(id);
      throw wrongState(`job ${id} is ${job.state}: it cannot be cancelled`);
    });
  },
};
