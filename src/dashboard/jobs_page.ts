/**
 * Job lists: all jobs with filters (queue, state, type) and keyset paging, and the failed jobs
 * with retry and delete on each row.
 *
 * @module
 */
import { argsText, queueName, relative, truncate } from "./format.ts";
import { type Html, html } from "./html.ts";
import { formFields, layout, type PageContext } from "./layout.ts";
import type { JobFilter, JobView } from "./source.ts";

/** The queue filter's value for every queue (`""` is the default queue). */
export const ANY_QUEUE = "*";

/** The states the filter offers ("failing" is a subset of ready and scheduled). */
export const STATE_FILTERS = ["ready", "scheduled", "running", "failing", "failed"] as const;

/**
 * A job's state as a badge.
 *
 * @param job The job.
 * @returns The badge.
 */
export function stateBadge(job: JobView): Html {
  const failing = job.state !== "failed" && job.state !== "running" && job.errorCount > 0;
  return html`<span class="state state-${job.state}">${job.state}</span>${
    failing
      ? html`
        <span class="state state-failing">failing</span>
      `
      : ""
  }`;
}

/**
 * The write buttons that fit a job's state, or nothing when this request may not write.
 *
 * @param ctx The page context.
 * @param job The job.
 * @param canCancel Whether the client can cancel running jobs.
 * @returns The forms.
 */
export function jobActions(ctx: PageContext, job: JobView, canCancel: boolean): Html {
  if (!ctx.mayWrite) return html``;
  const action = (verb: string, label: string, cls: string, confirm: string | null) =>
    html`
      <form class="inline" method="post" action="${ctx.base}/jobs/${encodeURIComponent(
        job.id,
      )}/${verb}"
        ${confirm !== null
          ? html`
            data-confirm="${confirm}"
          `
          : ""}>${formFields(
            ctx,
          )}<button type="submit" class="${cls}" data-action="${verb}">${label}</button></form>
    `;
  if (job.state === "failed") {
    return html`${action("retry", "Retry", "primary", null)} ${
      action("delete", "Delete", "danger", "Delete this failed job for good?")
    }`;
  }
  if (canCancel) {
    return action("cancel", "Cancel", "danger", `Cancel this ${job.state} job?`);
  }
  return html``;
}

/** What one list page shows. */
export interface JobsData {
  /** The filters in force. */
  readonly filter: JobFilter;
  /** The page's jobs. */
  readonly jobs: readonly JobView[];
  /** The cursor of the next page, or null on the last. */
  readonly next: string | null;
  /** The queues known (for the queue filter). */
  readonly queues: readonly string[];
  /** Whether the client can cancel running jobs. */
  readonly canCancel: boolean;
}

function filterQuery(filter: JobFilter, after: string | null): string {
  const q = new URLSearchParams();
  if (filter.queue !== undefined) q.set("queue", filter.queue);
  if (filter.state !== undefined) q.set("state", filter.state);
  if (filter.type) q.set("type", filter.type);
  if (filter.limit !== undefined) q.set("limit", String(filter.limit));
  if (after !== null) q.set("after", after);
  return q.toString();
}

function filters(ctx: PageContext, path: string, data: JobsData, fixedState: boolean): Html {
  const f = data.filter;
  const queues = f.queue !== undefined && !data.queues.includes(f.queue)
    ? [...data.queues, f.queue]
    : data.queues;
  return html`<form class="filters card" method="get" action="${ctx.base}${path}">
<label>Queue<select name="queue"><option value="*"${
    f.queue === undefined
      ? html`
        selected
      `
      : ""
  } data-any>any</option>${
    queues.map((q) =>
      html`
        <option value="${q}" ${f.queue === q
          ? html`
            selected
          `
          : ""}>${queueName(q)}</option>
      `
    )
  }</select></label>
${
    fixedState
      ? ""
      : html`<label>State<select name="state"><option value="">any live job</option>${
        STATE_FILTERS.map((s) =>
          html`
            <option value="${s}" ${f.state === s
              ? html`
                selected
              `
              : ""}>${s}</option>
          `
        )
      }</select></label>`
  }
<label>Type<input name="type" value="${f.type ?? ""}" placeholder="any"></label>
<label>Per page<select name="limit">${
    [25, 100, 500].map((n) =>
      html`<option${
        (f.limit ?? 100) === n
          ? html`
            selected
          `
          : ""
      }>${n}</option>`
    )
  }</select></label>
<button type="submit">Filter</button>
</form>`;
}

/**
 * A list page (`/jobs` or `/failed`).
 *
 * @param ctx The page context.
 * @param data The jobs and filters.
 * @param failedOnly True for the failed jobs page.
 * @returns The document.
 */
export function jobsPage(ctx: PageContext, data: JobsData, failedOnly: boolean): Html {
  const path = failedOnly ? "/failed" : "/jobs";
  const now = Date.now();
  const rows = data.jobs.map((job) => {
    const args = argsText(job.args, false);
    return html`<tr data-job="${job.id}">
<td><a href="${ctx.base}/jobs/${encodeURIComponent(job.id)}"><code>${job.id}</code></a></td>
<td>${queueName(job.queue)}</td>
<td>${job.type}</td>
<td>${stateBadge(job)}</td>
${
      failedOnly
        ? html`
          <td>${job.failReason ?? ""}</td>
          <td class="nowrap" title="${job.failedAt?.toISOString() ?? ""}">${job.failedAt
            ? relative(job.failedAt, now)
            : ""}</td>
        `
        : html`
          <td class="num">${job.priority}</td>
          <td class="nowrap" title="${job.runAt.toISOString()}">${relative(job.runAt, now)}</td>
        `
    }
<td class="num">${job.errorCount}</td>
<td><code class="args">${truncate(args.text, 80)}</code></td>
<td class="muted">${truncate(job.lastError?.split("\n")[0] ?? "", 80)}</td>
${ctx.mayWrite ? html`<td class="nowrap">${jobActions(ctx, job, data.canCancel)}</td>` : ""}
</tr>`;
  });
  const firstPage = data.filter.after
    ? html`<a href="${ctx.base}${path}?${filterQuery(data.filter, null)}">« First page</a>`
    : "";
  const nextPage = data.next !== null
    ? html`<a rel="next" href="${ctx.base}${path}?${
      filterQuery(data.filter, data.next)
    }">Next page »</a>`
    : "";
  const title = failedOnly ? "Failed jobs" : "Jobs";
  return layout(
    ctx,
    failedOnly ? "failed" : "jobs",
    title,
    html`
      <h1>${title}</h1>
      ${filters(ctx, path, data, failedOnly)}
      <section class="card">
        <table class="jobs">
          <thead>
            <tr><th>Id</th><th>Queue</th><th>Type</th><th>State</th>${failedOnly
              ? html`
                <th>Reason</th>
                <th>Failed</th>
              `
              : html`
                <th class="num">Priority</th>
                <th>Run at</th>
              `}<th class="num">Errors</th><th>Args</th><th>Last error</th>${ctx.mayWrite
              ? html`<th></th>`
              : ""}</tr>
          </thead>
          <tbody>
      ${rows.length > 0 ? rows : html`
        <tr>
          <td colspan="10" class="muted">No jobs match.</td>
        </tr>
      `}
          </tbody>
        </table>
        <div class="pager">${firstPage}${nextPage}</div>
      </section>
    `,
  );
}
