/**
 * One job: its fields, its args (escaped, pretty-printed when JSON), its last error, and the
 * write buttons its state allows.
 *
 * @module
 */
import { argsText, queueName, relative } from "./format.ts";
import { type Html, html } from "./html.ts";
import { jobActions, stateBadge } from "./jobs_page.ts";
import { layout, type PageContext } from "./layout.ts";
import type { JobView } from "./source.ts";

/**
 * The job page.
 *
 * @param ctx The page context.
 * @param job The job.
 * @param canCancel Whether the client can cancel running jobs.
 * @returns The document.
 */
export function jobPage(ctx: PageContext, job: JobView, canCancel: boolean): Html {
  const args = argsText(job.args, true);
  const now = Date.now();
  const time = (d: Date | null | undefined) =>
    d
      ? html`<time datetime="${d.toISOString()}">${d.toISOString()}</time> <span class="muted">(${
        relative(d, now)
      })</span>`
      : html`<span class="muted">—</span>`;
  return layout(
    ctx,
    "job",
    `Job ${job.id}`,
    html`
      <h1>Job <code>${job.id}</code> ${stateBadge(job)}</h1>
      <section class="card">
        <dl class="fields">
      <dt>Type</dt><dd data-field="type">${job.type}</dd>
      <dt>Queue</dt><dd data-field="queue"><a href="${ctx.base}/jobs?${new URLSearchParams({
        queue: job.queue,
      }).toString()}">${queueName(job.queue)}</a></dd>
      <dt>Priority</dt><dd>${job.priority}</dd>
      <dt>Run at</dt><dd>${time(job.runAt)}</dd>
      <dt>Created</dt><dd>${time(job.createdAt)}</dd>
      ${job.updatedAt !== undefined
        ? html`
          <dt>Updated</dt>
          <dd>${time(job.updatedAt)}</dd>
        `
        : ""}
      <dt>Errors</dt><dd data-field="errorCount">${job.errorCount}${job.maxAttempts
        ? html`
          <span class="muted">of at most ${job.maxAttempts} attempts</span>
        `
        : ""}</dd>
      ${job.state === "failed"
        ? html`
          <dt>Failed</dt>
          <dd>${time(job.failedAt)} <span class="state state-failed">${job.failReason ??
            ""}</span></dd>
        `
        : ""}
        </dl>
        <div class="actions">${jobActions(ctx, job, canCancel)}</div>
      </section>
      <section class="card">
      <h2>Args <span class="muted">(${args.kind}, ${job.args.length} bytes)</span></h2>
      ${args.kind === "empty"
        ? html`<p class="muted">No args.</p>`
        : html`<pre class="block" data-field="args">${args.text}</pre>`}
      </section>
      <section class="card">
      <h2>Last error</h2>
      ${job.lastError !== null
        ? html`<pre class="block" data-field="lastError">${job.lastError}</pre>`
        : html`<p class="muted">None.</p>`}
      </section>
    `,
  );
}
