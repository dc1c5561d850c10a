/**
 * A web dashboard for gue's queues, served by your own server: a fetch-style handler
 * (`(Request) => Promise<Response>`) for `Deno.serve`, `Bun.serve`, Hono or anything that
 * speaks web-standard `Request`/`Response`.
 *
 * It shows each queue's ready, scheduled, running, failing and failed jobs and a throughput
 * chart, refreshed live; lists jobs with filters and paging; shows a job's args (escaped) and
 * last error. With a write token (or your own `authorize` hook) it also retries and deletes
 * failed jobs and cancels running ones; every write is a POST checked against cross-site request
 * forgery. It is read-only otherwise.
 *
 * @example Serve the dashboard
 * ```ts
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 * import { dashboard } from "@gue/gue/dashboard";
 *
 * const client = new Client(postgresjs(postgres(Deno.env.get("DATABASE_URL")!)));
 * const handler = dashboard(client, { writeToken: Deno.env.get("GUE_DASHBOARD_TOKEN") });
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, handler); // Bun: Bun.serve({ port: 8080, fetch: handler })
 * ```
 *
 * @module
 */
export { dashboard, type DashboardHandler, type DashboardOptions } from "./dashboard.ts";
