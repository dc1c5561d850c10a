/**
 * The dashboard's request handler: routes, reads through the client's inspection API, writes
 * behind {@linkcode Access}.
 *
 * @module
 */
import type { Client } from "../client.ts";
import { Access } from "./access.ts";
import { dashboardScript, dashboardStyle } from "./assets.ts";
import { html } from "./html.ts";
import { jobPage } from "./job_page.ts";
import { ANY_QUEUE, jobsPage, STATE_FILTERS } from "./jobs_page.ts";
import { layout, NOTICES, type PageContext } from "./layout.ts";
import { queuesFragment, queuesPage } from "./queues_page.ts";
import { assetResponse, htmlResponse, jsonResponse, redirect, textResponse } from "./responses.ts";
import type { CancelOutcome, DashboardSource, JobFilter } from "./source.ts";
import { Throughput } from "./throughput.ts";

/** Options of {@linkcode dashboard}. */
export interface DashboardOptions {
  /**
   * Enables writes (retry, delete, cancel) for requests that carry this token: as
   * `Authorization: Bearer <token>`, or through the sign-in form, which sets an `HttpOnly`,
   * `SameSite=Strict` cookie holding a hash of it. Use a long random string.
   * @default none: read-only, unless `authorize` allows
   */
  writeToken?: string;
  /**
   * Allows writes by your own rule, e.g. your application's session: return true to allow the
   * request. Cross-site request forgery checks still apply to it. Reading is not guarded by the
   * dashboard: mount it behind your own authentication when its data is private.
   * @default none
   */
  authorize?: (req: Request) => boolean | Promise<boolean>;
  /**
   * The path the handler is mounted at, e.g. `"/gue"`: links and cookies use it, and requests
   * outside it get a 404. @default {""} (the root)
   */
  basePath?: string;
  /** How often an open queues page refreshes its counts, in ms (250 or more). @default {2000} */
  refreshInterval?: number;
}

/** A fetch-style request handler, as `Deno.serve`, `Bun.serve` and Hono take. */
export type DashboardHandler = (req: Request) => Promise<Response>;

const JOB_PATH = /^\/jobs\/([^/]+)$/;
const JOB_ACTION = /^\/jobs\/([^/]+)\/(retry|delete|cancel)$/;
const MAX_FORM_BYTES = 64 * 1024;

/** A request the handler answers with a 4xx page. */
class ClientError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function checkOptions(options: DashboardOptions): { base: string; refresh: number } {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`dashboard: options must be an object, got ${options}`);
  }
  const { writeToken, authorize, basePath = "", refreshInterval = 2000 } = options;
  if (writeToken !== undefined && (typeof writeToken !== "string" || writeToken.length === 0)) {
    throw new TypeError("dashboard: writeToken must be a non-empty string");
  }
  if (authorize !== undefined && typeof authorize !== "function") {
    throw new TypeError("dashboard: authorize must be a function (request) => boolean");
  }
  if (typeof basePath !== "string" || (basePath !== "" && !basePath.startsWith("/"))) {
    throw new TypeError(
      `dashboard: basePath must be "" or start with "/", got ${JSON.stringify(basePath)}`,
    );
  }
  if (!Number.isFinite(refreshInterval) || refreshInterval < 250) {
    throw new RangeError(
      `dashboard: refreshInterval must be 250 ms or more, got ${refreshInterval}`,
    );
  }
  return { base: basePath.replace(/\/+$/, ""), refresh: refreshInterval };
}

/**
 * Makes the web dashboard's request handler: queues with their counts and a live throughput
 * chart, job lists with filters and paging, each job's args and last error, and — with a write
 * token or an `authorize` hook — retry and delete of failed jobs and cancel of running ones.
 *
 * The handler is a plain `(Request) => Promise<Response>`: it mounts in `Deno.serve`,
 * `Bun.serve`, Hono or any fetch-style server. It holds no timer and no connection of its own;
 * it queries through `client` per request. Pages are rendered on the server with every value
 * escaped, and a strict Content-Security-Policy allows only the dashboard's own script.
 *
 * @param client The client whose database to show.
 * @param options Write token or hook, base path, refresh interval.
 * @returns The handler.
 * @throws {TypeError | RangeError} For bad options.
 *
 * @example Serve it on its own port
 * ```ts
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 * import { dashboard } from "@gue/gue/dashboard";
 *
 * const client = new Client(postgresjs(postgres(Deno.env.get("DATABASE_URL")!)));
 * Deno.serve({ hostname: "127.0.0.1", port: 8080 }, dashboard(client, {
 *   writeToken: Deno.env.get("GUE_DASHBOARD_TOKEN"),
 * }));
 * ```
 *
 * @example Mount it in a Hono app, under /gue, writes for your admins
 * ```ts ignore
 * const gue = dashboard(client, { basePath: "/gue", authorize: (req) => isAdmin(req) });
 * app.all("/gue/*", (c) => gue(c.req.raw));
 * ```
 */
export function dashboard(client: Client, options: DashboardOptions = {}): DashboardHandler {
  const { base, refresh } = checkOptions(options);
  // cancelJob is looked up at run time: the buttons appear only when the client offers it.
  const source: DashboardSource = client;
  const access = new Access(options.writeToken, options.authorize, base || "/");
  const throughput = new Throughput(client.pool);

  async function context(req: Request, url: URL): Promise<PageContext> {
    const here = new URL(url);
    here.searchParams.delete("notice");
    const notice = url.searchParams.get("notice");
    return {
      base,
      here: here.pathname + here.search,
      mayWrite: await access.mayWrite(req),
      writable: access.writable,
      hasToken: access.hasToken,
      csrf: await access.csrfToken(req),
      notice: notice !== null && notice in NOTICES ? notice : null,
    };
  }

  async function queuesData() {
    const [queues] = await Promise.all([source.countJobs(), throughput.sample()]);
    return {
      queues,
      throughput: throughput.points(),
      throughputError: throughput.error,
      at: new Date(),
    };
  }

  /** Cancelling a running job needs a client that offers it. */
  function cancel(): (id: string) => Promise<CancelOutcome> {
    const method = source.cancelJob;
    if (typeof method !== "function") {
      throw new ClientError(501, "this client cannot cancel jobs");
    }
    return (id) => method.call(source, id);
  }

  function listFilter(url: URL, failedOnly: boolean): JobFilter {
    const p = url.searchParams;
    const filter: JobFilter = {};
    const queue = p.get("queue");
    if (queue !== null && queue !== ANY_QUEUE) filter.queue = queue;
    const state = p.get("state") || undefined;
    if (failedOnly) filter.state = "failed";
    else if (state !== undefined) {
      if (!(STATE_FILTERS as readonly string[]).includes(state)) {
        throw new ClientError(
          400,
          `state must be one of ${STATE_FILTERS.join(", ")}, got ${state}`,
        );
      }
      filter.state = state as JobFilter["state"];
    }
    const type = p.get("type");
    if (type) filter.type = type;
    const limit = p.get("limit");
    if (limit) {
      const n = Number(limit);
      if (!Number.isInteger(n) || n < 1 || n > 1000) {
        throw new ClientError(400, `limit must be an integer from 1 to 1000, got ${limit}`);
      }
      filter.limit = n;
    }
    const after = p.get("after");
    if (after) filter.after = after;
    return filter;
  }

  async function get(req: Request, url: URL, path: string): Promise<Response> {
    switch (path) {
      case "/":
        return htmlResponse(queuesPage(await context(req, url), await queuesData(), refresh));
      case "/live/queues":
        return htmlResponse(queuesFragment(base, await queuesData()));
      case "/api/queues": {
        const data = await queuesData();
        return jsonResponse(data);
      }
      case "/assets/dashboard.js":
        return assetResponse(dashboardScript, "text/javascript; charset=utf-8");
      case "/assets/dashboard.css":
        return assetResponse(dashboardStyle, "text/css; charset=utf-8");
      case "/jobs":
      case "/failed": {
        const failedOnly = path === "/failed";
        const filter = listFilter(url, failedOnly);
        const [page, counts] = await Promise.all([source.listJobs(filter), source.countJobs()]);
        return htmlResponse(jobsPage(await context(req, url), {
          filter,
          jobs: page.jobs,
          next: page.next,
          queues: counts.map((c) => c.queue),
          canCancel: typeof source.cancelJob === "function",
        }, failedOnly));
      }
    }
    const m = JOB_PATH.exec(path);
    if (m !== null) {
      const id = decodeURIComponent(m[1]);
      const job = await source.getJob(id).catch((err) => {
        if (err instanceof TypeError || err instanceof RangeError) return null; // not an id
        throw err;
      });
      if (job === null) throw new ClientError(404, `There is no job ${id} (it may have finished).`);
      return htmlResponse(
        jobPage(await context(req, url), job, typeof source.cancelJob === "function"),
      );
    }
    throw new ClientError(404, `Nothing at ${url.pathname}.`);
  }

  async function readForm(req: Request): Promise<URLSearchParams> {
    const length = Number(req.headers.get("content-length") ?? 0);
    if (length > MAX_FORM_BYTES) throw new ClientError(413, "the form is too large");
    const type = req.headers.get("content-type") ?? "";
    if (type.startsWith("application/x-www-form-urlencoded")) {
      const text = await req.text();
      if (text.length > MAX_FORM_BYTES) throw new ClientError(413, "the form is too large");
      return new URLSearchParams(text);
    }
    if (type.startsWith("multipart/form-data")) {
      const form = await req.formData();
      const params = new URLSearchParams();
      for (const [k, v] of form) if (typeof v === "string") params.append(k, v);
      return params;
    }
    return new URLSearchParams();
  }

  /** Where a form goes back to: a path of this dashboard only, never another site. */
  function backTo(url: URL, form: URLSearchParams, notice: string, fallback = "/"): string {
    const next = form.get("next") ?? "";
    let target = new URL(base + fallback, url);
    if (next.startsWith("/") && !next.startsWith("//") && !next.includes("\\")) {
      const candidate = new URL(next, url);
      if (
        candidate.origin === url.origin &&
        (candidate.pathname === base || candidate.pathname.startsWith(`${base}/`))
      ) target = candidate;
    }
    target.searchParams.set("notice", notice);
    return target.pathname + target.search;
  }

  function refused(req: Request, url: URL, status: number, why: string): Promise<Response> {
    return errorResponse(req, url, status, why);
  }

  async function post(req: Request, url: URL, path: string): Promise<Response> {
    const form = await readForm(req);
    if (path === "/login" || path === "/logout") {
      if (!access.hasToken) {
        throw new ClientError(404, "this dashboard has no write token to sign in with");
      }
      const origin = await access.sameOrigin(req, form);
      if (origin !== null) return refused(req, url, 403, `Refused: ${origin}.`);
      if (path === "/logout") {
        return redirect(backTo(url, form, "signed-out"), await access.cookieHeader(req, false));
      }
      if (!(await access.tokenMatches(form.get("token") ?? ""))) {
        return refused(req, url, 403, "Refused: that is not the write token.");
      }
      return redirect(backTo(url, form, "signed-in"), await access.cookieHeader(req, true));
    }
    const m = JOB_ACTION.exec(path);
    if (m === null) throw new ClientError(404, `Nothing to post to at ${url.pathname}.`);
    const refusal = await access.checkWrite(req, form);
    if (refusal !== null) {
      return refused(
        req,
        url,
        403,
        refusal === "read-only"
          ? "Refused: this dashboard is read-only (start it with a write token to change jobs)."
          : refusal === "not signed in"
          ? "Refused: sign in with the write token first."
          : `Refused: ${refusal}.`,
      );
    }
    const id = decodeURIComponent(m[1]);
    const verb = m[2] as "retry" | "delete" | "cancel";
    const run = verb === "retry"
      ? (id: string) => source.retryFailedJob(id)
      : verb === "delete"
      ? (id: string) => source.deleteFailedJob(id)
      : cancel();
    const result = await run(id).catch((err) => {
      if (err instanceof TypeError || err instanceof RangeError) return false; // not an id
      throw err;
    });
    // cancelJob answers "cancelled" (it was queued), "requested" (its worker will stop it) or
    // "absent"; the others answer whether they did it.
    const done = result === true || result === "cancelled" || result === "requested";
    if (!(req.headers.get("accept") ?? "").includes("text/html") && !form.has("next")) {
      return jsonResponse({ id, action: verb, done, result }, done ? 200 : 404);
    }
    const notice = !done
      ? "gone"
      : verb === "retry"
      ? "retried"
      : verb === "delete"
      ? "deleted"
      : result === "requested"
      ? "cancel-requested"
      : "cancelled";
    // A deleted job's page is gone: go to the failed list instead.
    const next = form.get("next") ?? "";
    if (verb === "delete" && next.startsWith(`${base}/jobs/${m[1]}`)) {
      form.set("next", `${base}/failed`);
    }
    return redirect(backTo(url, form, notice));
  }

  async function errorResponse(
    req: Request,
    url: URL,
    status: number,
    message: string,
  ): Promise<Response> {
    if (!(req.headers.get("accept") ?? "").includes("text/html")) {
      return textResponse(message, status);
    }
    const ctx = await context(req, url).catch(() => null);
    if (ctx === null) return textResponse(message, status);
    return htmlResponse(
      layout(
        ctx,
        "error",
        String(status),
        html`
          <h1>${status}</h1>
          <p class="error-message">${message}</p>
        `,
      ),
      status,
    );
  }

  return async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    let path = url.pathname;
    if (base !== "") {
      if (path === base) path = "/";
      else if (path.startsWith(`${base}/`)) path = path.slice(base.length);
      else return textResponse(`Nothing at ${url.pathname}.`, 404);
    }
    try {
      if (req.method === "GET" || req.method === "HEAD") {
        const res = await get(req, url, path);
        return req.method === "HEAD" ? new Response(null, res) : res;
      }
      if (req.method === "POST") return await post(req, url, path);
      return textResponse("Method not allowed: the dashboard takes GET and POST.", 405, {
        allow: "GET, HEAD, POST",
      });
    } catch (err) {
      if (err instanceof ClientError) return await errorResponse(req, url, err.status, err.message);
      client.logger.error("dashboard request failed", { error: err, path: url.pathname });
      const message = err instanceof Error ? err.message : String(err);
      return await errorResponse(req, url, 500, `The dashboard could not answer: ${message}`);
    }
  };
}
