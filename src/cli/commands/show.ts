/**
 * `gue show <id>`: one job with its state, args and last error.
 *
 * @module
 */
import { type Command, flag, jobIdArgument, noSuchJob } from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode } from "../exit_codes.ts";
import { argsValue, jobJson } from "../job_view.ts";

/** `gue show`. */
export const showCommand: Command = {
  name: "show",
  summary: "Show one job: state, args, errors",
  usage: "show <id> [options]",
  description: `
Prints a job, queued, running or failed, with its args (as JSON when they are JSON, base64
otherwise) and its last error in full.

Exit codes: 0 found, 1 the database failed, 2 bad arguments, 3 no job with that id (it finished,
was deleted, or never existed).`,
  options: {
    json: { type: "boolean", help: "print the job as JSON" },
  },
  positionals: { min: 1, max: 1, names: "<id>" },
  async run({ values, positionals, io }) {
    const id = jobIdArgument(positionals[0], "show");
    const job = await withConnection(values, io, "show", ({ client }) => client.getJob(id));
    if (job === null) throw noSuchJob(id);
    if (flag(values, "json")) {
      io.out(JSON.stringify(jobJson(job)));
      return ExitCode.Ok;
    }
    const fields: [string, string][] = [
      ["id", job.id],
      ["queue", job.queue === "" ? '"" (default)' : job.queue],
      ["type", job.type],
      ["state", job.state + (job.failReason ? ` (${job.failReason})` : "")],
      ["priority", String(job.priority)],
      ["run at", job.runAt.toISOString()],
      ["created at", job.createdAt.toISOString()],
      ["updated at", job.updatedAt.toISOString()],
      ["errors", String(job.errorCount)],
      ["max attempts", job.maxAttempts === null ? "unlimited" : String(job.maxAttempts)],
    ];
    if (job.uniqueKey !== null) fields.push(["unique key", job.uniqueKey]);
    if (job.failedAt !== null) fields.push(["failed at", job.failedAt.toISOString()]);
    const width = Math.max(...fields.map(([k]) => k.length)) + 1;
    for (const [key, value] of fields) io.out(`${(key + ":").padEnd(width)} ${value}`);
    const args = argsValue(job.args);
    io.out(`args:${args === null ? " (none)" : "\n" + indent(JSON.stringify(args, null, 2))}`);
    io.out(`last error:${job.lastError === null ? " (none)" : "\n" + indent(job.lastError)}`);
    return ExitCode.Ok;
  },
};

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}
