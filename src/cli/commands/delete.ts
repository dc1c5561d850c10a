/**
 * `gue delete <id>`: removes a queued or failed job for good.
 *
 * @module
 */
import { JobNotFoundError } from "../../errors.ts";
import { type Command, jobIdArgument, noSuchJob, wrongState } from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode } from "../exit_codes.ts";

/** `gue delete`. */
export const deleteCommand: Command = {
  name: "delete",
  summary: "Delete a queued or failed job",
  usage: "delete <id> [options]",
  description: `
Deletes a job that is waiting in its queue (ready or scheduled), or a failed (dead-lettered) one.
A running job cannot be deleted: a worker holds it, and its outcome is decided when its handler
ends; cancel it instead (gue cancel).

Exit codes: 0 deleted, 1 the database failed, 2 bad arguments, 3 no job with that id, 4 the job
is running.`,
  options: {},
  positionals: { min: 1, max: 1, names: "<id>" },
  async run({ values, positionals, io }) {
    const id = jobIdArgument(positionals[0], "delete");
    return await withConnection(values, io, "delete", async ({ client }) => {
      const job = await client.getJob(id);
      if (job === null) throw noSuchJob(id);
      if (job.state === "failed") {
        if (!(await client.deleteFailedJob(id))) throw noSuchJob(id);
      } else {
        // Locking it first means no worker has it, and none can take it until we commit.
        let locked;
        try {
          locked = await client.lockJobById(id);
        } catch (err) {
          if (!(err instanceof JobNotFoundError)) throw err;
          if (await client.getJob(id) === null) throw noSuchJob(id);
          throw wrongState(`job ${id} is running: it cannot be deleted; cancel it instead`);
        }
        await locked.delete();
        await locked.done();
      }
      io.out(`deleted ${id}`);
      return ExitCode.Ok;
    });
  },
};
