/**
 * `gue list`: jobs with filters, a page at a time, as a table or JSON.
 *
 * @module
 */
import type { JobStateFilter, ListJobsOptions } from "../../inspect.ts";
import { type Command, flag, integerOption, stringOption } from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode, usageError } from "../exit_codes.ts";
import { argsSummary, jobJson } from "../job_view.ts";
import { renderTable } from "../table.ts";

const STATES: readonly JobStateFilter[] = ["ready", "scheduled", "running", "failing", "failed"];

/** `gue list`. */
export const listCommand: Command = {
  name: "list",
  summary: "List jobs, filtered by queue, state and type",
  usage: "list [options]",
  description: `
Lists jobs, --limit at a time. Without --state: every job in the queue table (ready, scheduled
and running); failed (dead-lettered) jobs are listed with --state failed. Jobs of one queue come
in the order workers take them by run-at; otherwise in id (creation) order. When there are more,
the cursor of the next page is printed to standard error ("next page: --after …"); with --json
the output is { jobs, next }.

States: ready (due, waiting), scheduled (due later), running (a worker holds it), failing (has
failed before, waiting for a retry), failed (dead-lettered).

  gue list --queue emails --state failing
  gue list --state failed --json | jq '.jobs[].lastError'

Exit codes: 0 done (even when nothing matches), 1 the database failed, 2 bad options.`,
  options: {
    queue: {
      type: "string",
      short: "q",
      value: "NAME",
      help: 'only this queue (--queue "" is the default queue; default: every queue)',
    },
    state: {
      type: "string",
      short: "s",
      value: "STATE",
      help: `only this state: ${STATES.join(", ")}`,
    },
    type: { type: "string", short: "t", value: "TYPE", help: "only this job type" },
    limit: { type: "string", short: "n", value: "N", help: "jobs per page, 1-1000 (default: 50)" },
    after: {
      type: "string",
      value: "CURSOR",
      help: "the page after this cursor (from the previous page)",
    },
    json: { type: "boolean", help: "print JSON ({ jobs, next }) instead of a table" },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run({ values, io }) {
    const options: ListJobsOptions = {
      limit: integerOption(values, "limit", "list", { min: 1, max: 1000 }) ?? 50,
    };
    const state = stringOption(values, "state");
    if (state !== undefined) {
      if (!(STATES as string[]).includes(state)) {
        throw usageError(
          `--state must be one of ${STATES.join(", ")}, got ${JSON.stringify(state)}`,
          "list",
        );
      }
      options.state = state as JobStateFilter;
    }
    const queue = stringOption(values, "queue");
    if (queue !== undefined) options.queue = queue;
    const type = stringOption(values, "type");
    if (type !== undefined) options.type = type;
    const after = stringOption(values, "after");
    if (after !== undefined) options.after = after;
    const page = await withConnection(values, io, "list", async ({ client }) => {
      try {
        return await client.listJobs(options);
      } catch (err) {
        // A malformed cursor is the caller's mistake, not the database's.
        if (err instanceof TypeError || err instanceof RangeError) {
          throw usageError(err.message, "list");
        }
        throw err;
      }
    });
    if (flag(values, "json")) {
      io.out(JSON.stringify({ jobs: page.jobs.map(jobJson), next: page.next }));
      return ExitCode.Ok;
    }
    if (page.jobs.length === 0) io.out("no jobs");
    else {
      const failed = options.state === "failed";
      const lines = renderTable(
        [
          { header: "ID" },
          { header: "QUEUE" },
          { header: "TYPE" },
          { header: "STATE" },
          { header: "PRIORITY", numeric: true },
          { header: failed ? "FAILED AT" : "RUN AT" },
          { header: "ERRORS", numeric: true },
          { header: "ARGS" },
        ],
        page.jobs.map((j) => [
          j.id,
          j.queue || "(default)",
          j.type,
          j.failReason ? `failed (${j.failReason})` : j.state,
          String(j.priority),
          shortTime((failed ? j.failedAt : null) ?? j.runAt),
          String(j.errorCount),
          argsSummary(j.args),
        ]),
      );
      for (const line of lines) io.out(line);
    }
    if (page.next !== null) io.err(`next page: --after ${page.next}`);
    return ExitCode.Ok;
  },
};

/** `2030-01-01 09:00:00Z`: ISO 8601 to the second, fit for a table. */
function shortTime(date: Date): string {
  return date.toISOString().slice(0, 19).replace("T", " ") + "Z";
}
