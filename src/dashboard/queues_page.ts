/**
 * The queues page: each queue's counts and the throughput chart, in a fragment the page's script
 * re-fetches every few seconds.
 *
 * @module
 */
import { throughputChart } from "./chart.ts";
import { queueName } from "./format.ts";
import { type Html, html } from "./html.ts";
import { layout, type PageContext } from "./layout.ts";
import type { QueueCount } from "../client.ts";
import type { ThroughputPoint } from "./throughput.ts";

/** What the queues fragment shows. */
export interface QueuesData {
  /** The counts, one entry per queue. */
  readonly queues: readonly QueueCount[];
  /** The throughput chart's points. */
  readonly throughput: readonly ThroughputPoint[];
  /** Why throughput is unavailable, or null. */
  readonly throughputError: string | null;
  /** When the counts were read. */
  readonly at: Date;
}

const COLUMNS = ["ready", "scheduled", "running", "failing", "failed"] as const;

function jobsLink(base: string, queue: string, state: string): string {
  const q = new URLSearchParams({ queue, state });
  return state === "failed"
    ? `${base}/failed?${new URLSearchParams({ queue })}`
    : `${base}/jobs?${q}`;
}

/**
 * The live part of the queues page.
 *
 * @param base The dashboard's base path.
 * @param data The counts and throughput.
 * @returns The fragment.
 */
export function queuesFragment(base: string, data: QueuesData): Html {
  const columns = COLUMNS;
  const total = (c: (typeof COLUMNS)[number]) => data.queues.reduce((sum, q) => sum + q[c], 0);
  const rows = data.queues.map((q) =>
    html`<tr data-queue="${q.queue}">
<td><a href="${base}/jobs?${new URLSearchParams({ queue: q.queue }).toString()}">${
      queueName(q.queue)
    }</a></td>
${
      columns.map((c) =>
        html`<td class="num${
          q[c] > 0 && (c === "failed" || c === "failing") ? ` count-${c}` : ""
        }" data-count="${c}"><a href="${jobsLink(base, q.queue, c)}">${q[c]}</a></td>`
      )
    }
</tr>`
  );
  return html`
    <section class="card">
      <table class="queues">
    <thead><tr><th>Queue</th>${columns.map((c) => html`<th class="num">${c}</th>`)}</tr></thead>
    <tbody>
    ${rows.length > 0 ? rows : html`
      <tr>
        <td colspan="${columns.length + 1}" class="muted">No jobs in any queue.</td>
      </tr>
    `}
    </tbody>
    ${rows.length > 1
      ? html`
        <tfoot>
          <tr data-queue-total><td><strong>All queues</strong></td>${columns.map((c) =>
            html`<td class="num" data-count="${c}"><strong>${total(c)}</strong></td>`
          )}</tr>
        </tfoot>
      `
      : ""}
      </table>
      <p class="note">Counts at ${data.at.toISOString()}. Ready includes running jobs.</p>
    </section>
    <section class="card">
    <h2>Throughput</h2>
    <div class="legend"><span class="enqueued">enqueued / s</span><span class="finished">finished / s</span></div>
    ${throughputChart(data.throughput, data.throughputError)}
    <p class="note">From PostgreSQL's table statistics (rows inserted into and deleted from gue_jobs), sampled while this page is open; the server publishes them about once a second, so the lines trail by a few seconds.</p>
    </section>
  `;
}

/**
 * The whole queues page.
 *
 * @param ctx The page context.
 * @param data The counts and throughput.
 * @param refreshInterval How often the page refreshes the fragment, ms.
 * @returns The document.
 */
export function queuesPage(ctx: PageContext, data: QueuesData, refreshInterval: number): Html {
  return layout(
    ctx,
    "queues",
    "Queues",
    html`<h1>Queues</h1>
<div id="live-queues" data-live="${ctx.base}/live/queues" data-every="${refreshInterval}">
${queuesFragment(ctx.base, data)}
</div>`,
  );
}
