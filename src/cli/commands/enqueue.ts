/**
 * `gue enqueue <type> [json-args]`: adds one job.
 *
 * @module
 */
import { type Command, flag, integerOption, stringOption } from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode, usageError } from "../exit_codes.ts";
import { jobJson } from "../job_view.ts";
import { parseRunAt } from "../time.ts";
import type { JobInput } from "../../client.ts";

/** `gue enqueue`. */
export const enqueueCommand: Command = {
  name: "enqueue",
  summary: "Add a job",
  usage: "enqueue <type> [json-args | -] [options]",
  description: `
Enqueues one job of <type>. [json-args] is the job's args as JSON text (quote it for the shell),
or "-" to read them from standard input; without it the job has no args. Prints the new job's id,
or the stored job as JSON with --json. With --unique-key, when a queued or running job already
holds the key nothing is enqueued: its id is printed and standard error says so ("inserted":
false with --json); the exit code is 0 either way.

  gue enqueue SendEmail '{"to":"a@example.com"}' --queue emails
  gue enqueue Report --run-at +1h --priority=-100 --unique-key report-2030-01
  echo '{"id":42}' | gue enqueue Reindex - --json

Exit codes: 0 enqueued, 1 the database failed, 2 bad arguments (nothing enqueued).`,
  options: {
    queue: {
      type: "string",
      short: "q",
      value: "NAME",
      help: 'the queue (default: "", the default queue)',
    },
    priority: {
      type: "string",
      short: "p",
      value: "N",
      help: "-32768..32767, lower runs first (default: 0)",
    },
    "run-at": {
      type: "string",
      value: "TIME",
      help: "when to run it: ISO 8601 (2030-01-01T09:00:00Z) or a delay (+30s, 5m, 1h30m)",
    },
    "max-attempts": {
      type: "string",
      value: "N",
      help: "attempts in all before it moves to the failed jobs (default: retried forever)",
    },
    "unique-key": {
      type: "string",
      value: "KEY",
      help: "enqueue nothing while a queued or running job holds KEY (prints that job's id)",
    },
    json: { type: "boolean", help: "print the stored job as JSON instead of its id" },
  },
  positionals: { min: 1, max: 2, names: "<type>" },
  async run({ values, positionals, io }) {
    const [type, argsText] = positionals;
    if (type.trim() === "") throw usageError("<type> must not be empty", "enqueue");
    const job: JobInput = { type };
    const queue = stringOption(values, "queue");
    if (queue !== undefined) job.queue = queue;
    const priority = integerOption(values, "priority", "enqueue", { min: -32768, max: 32767 });
    if (priority !== undefined) job.priority = priority;
    const maxAttempts = integerOption(values, "max-attempts", "enqueue", {
      min: 1,
      max: 2147483647,
    });
    if (maxAttempts !== undefined) job.maxAttempts = maxAttempts;
    const uniqueKey = stringOption(values, "unique-key");
    if (uniqueKey !== undefined) job.uniqueKey = uniqueKey;
    const runAtText = stringOption(values, "run-at");
    if (runAtText !== undefined) {
      const runAt = parseRunAt(runAtText);
      if (runAt === undefined) {
        throw usageError(
          `--run-at must be an ISO 8601 time (2030-01-01T09:00:00Z) or a delay (+30s, 5m, 1h30m), ` +
            `got ${JSON.stringify(runAtText)}`,
          "enqueue",
        );
      }
      job.runAt = runAt;
    }
    if (argsText !== undefined) {
      const text = argsText === "-" ? await io.stdin() : argsText;
      try {
        job.args = JSON.parse(text);
      } catch (err) {
        throw usageError(
          `json-args must be JSON (${(err as Error).message}), got ${
            JSON.stringify(text.slice(0, 80))
          }`,
          "enqueue",
        );
      }
    }
    const stored = await withConnection(values, io, "enqueue", ({ client }) => client.enqueue(job));
    if (!stored.inserted) {
      io.err(`gue enqueue: job ${stored.id} already holds unique key ${JSON.stringify(uniqueKey)}`);
    }
    io.out(flag(values, "json") ? JSON.stringify(jobJson(stored)) : stored.id);
    return ExitCode.Ok;
  },
};
