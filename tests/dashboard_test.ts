import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { dashboard, type DashboardHandler } from "../src/dashboard/mod.ts";
import { CONTENT_SECURITY_POLICY } from "../src/dashboard/responses.ts";
import { html } from "../src/dashboard/html.ts";
import { Throughput } from "../src/dashboard/throughput.ts";
import { useTestDatabase, waitFor } from "./_db.ts";

const t = useTestDatabase();
const ORIGIN = "http://dash.test";
const TOKEN = "s3cret-write-token";

/** Makes a failed job the way a worker does: its only attempt fails. */
async function failJob(queue = "emails", type = "SendEmail"): Promise<string> {
  const { id } = await t.client.enqueue({
    type,
    queue,
    args: { to: "x@example.com" },
    maxAttempts: 1,
  });
  await (await t.client.lockJobById(id)).error(new Error("boom"));
  return id;
}

function get(handle: DashboardHandler, path: string, headers: HeadersInit = {}): Promise<Response> {
  return handle(new Request(ORIGIN + path, { headers: { accept: "text/html", ...headers } }));
}

/** The CSRF token a page's forms carry. */
async function csrfOf(handle: DashboardHandler, headers: HeadersInit = {}): Promise<string> {
  const page = await (await get(handle, "/", headers)).text();
  const m = /name="csrf" value="([0-9a-f]+)"|name="csrf-token" content="([0-9a-f]+)"/.exec(page);
  assert.ok(m, "the page has a form with a csrf field");
  return m[1] ?? m[2];
}

function post(
  handle: DashboardHandler,
  path: string,
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return handle(
    new Request(ORIGIN + path, {
      method: "POST",
      body: new URLSearchParams(fields),
      headers: {
        accept: "text/html",
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-site": "same-origin",
        origin: ORIGIN,
        ...headers,
      },
    }),
  );
}

/** Signs in through the form and returns the cookie header to send afterwards. */
async function signIn(handle: DashboardHandler): Promise<string> {
  const csrf = await csrfOf(handle);
  const res = await post(handle, "/login", { token: TOKEN, csrf, next: "/" });
  assert.equal(res.status, 303);
  const cookie = res.headers.get("set-cookie");
  assert.ok(cookie);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.ok(!cookie.includes(TOKEN), "the cookie does not hold the token itself");
  return cookie.split(";")[0];
}

describe("dashboard(): pages", () => {
  test("the queues page shows each queue's counts as countJobs() gives them", async () => {
    await t.client.enqueueBatch([
      { type: "A", queue: "emails" },
      { type: "A", queue: "emails" },
      { type: "B", queue: "reports", runAt: new Date(Date.now() + 3_600_000) },
      { type: "C" },
    ]);
    const res = await get(dashboard(t.client), "/");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const page = await res.text();
    for (const q of await t.client.countJobs()) {
      const row = new RegExp(`<tr data-queue="${q.queue}">[\\s\\S]*?</tr>`).exec(page);
      assert.ok(row, `a row for queue ${JSON.stringify(q.queue)}`);
      for (const [state, n] of [["ready", q.ready], ["scheduled", q.scheduled]] as const) {
        assert.match(
          row[0],
          new RegExp(`data-count="${state}"><a [^>]*>${n}</a>`),
          `${q.queue} ${state}`,
        );
      }
    }
    assert.match(page, /\(default\)/, "the default queue is named");
  });

  test("the live fragment and the JSON API give the same counts", async () => {
    await t.client.enqueue({ type: "A", queue: "live" });
    const handle = dashboard(t.client);
    const fragment = await (await get(handle, "/live/queues")).text();
    assert.ok(!fragment.includes("<html"), "a fragment, not a page");
    assert.match(fragment, /<tr data-queue="live">/);
    const api = await (await get(handle, "/api/queues", { accept: "application/json" })).json();
    assert.deepEqual(api.queues.map((q: { queue: string; ready: number }) => [q.queue, q.ready]), [[
      "live",
      1,
    ]]);
  });

  test("untrusted names are escaped: a queue called <script> is text", async () => {
    const evil = `<script>window.__pwned=1</script>"'&`;
    await t.client.enqueue({ type: evil, queue: evil });
    const page = await (await get(dashboard(t.client), "/")).text();
    assert.ok(!page.includes("<script>window"), "no raw script tag");
    assert.ok(page.includes("&lt;script&gt;window.__pwned=1&lt;/script&gt;&quot;&#39;&amp;"));
  });

  test("every response carries the Content-Security-Policy and no-sniff headers", async () => {
    const handle = dashboard(t.client);
    for (
      const path of ["/", "/live/queues", "/assets/dashboard.js", "/assets/dashboard.css", "/nope"]
    ) {
      const res = await get(handle, path);
      assert.equal(res.headers.get("content-security-policy"), CONTENT_SECURITY_POLICY, path);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
      await res.body?.cancel();
    }
    assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/, "no inline scripts");
  });

  test("pages use no inline script or style (the policy would block them)", async () => {
    await t.client.enqueue({ type: "A" });
    const page = await (await get(dashboard(t.client), "/")).text();
    assert.ok(!/<script(?![^>]*\bsrc=)[^>]*>/.test(page), "every script has a src");
    assert.ok(!/<style|\sstyle=/.test(page), "no style element or attribute");
  });

  test("under a basePath, links point inside it and other paths are 404", async () => {
    const handle = dashboard(t.client, { basePath: "/admin/gue/" });
    const page = await (await get(handle, "/admin/gue")).text();
    assert.match(page, /href="\/admin\/gue\/assets\/dashboard.css"/);
    assert.match(page, /data-live="\/admin\/gue\/live\/queues"/);
    assert.equal((await get(handle, "/admin/other")).status, 404);
    assert.equal((await get(handle, "/admin/gue/assets/dashboard.js")).status, 200);
  });

  test("unknown paths are 404 and other methods 405", async () => {
    const handle = dashboard(t.client);
    assert.equal((await get(handle, "/nothing-here")).status, 404);
    const res = await handle(new Request(`${ORIGIN}/`, { method: "DELETE" }));
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD, POST");
  });

  test("bad options fail naming the option", () => {
    assert.throws(() => dashboard(t.client, { writeToken: "" }), /writeToken/);
    assert.throws(() => dashboard(t.client, { basePath: "gue" }), /basePath/);
    assert.throws(() => dashboard(t.client, { refreshInterval: 10 }), /refreshInterval/);
  });
});

describe("dashboard(): writes", () => {
  const someId = "01J0000000000000000000000Z";

  test("a read-only dashboard refuses every write with 403 and shows no sign-in", async () => {
    const handle = dashboard(t.client);
    const csrf = /name="csrf"/.test(await (await get(handle, "/")).text());
    assert.equal(csrf, false, "no forms on a read-only dashboard's queues page");
    const res = await post(handle, `/jobs/${someId}/retry`, { csrf: "x" });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /read-only/);
  });

  test("with a write token, a write without it is refused (403)", async () => {
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const csrf = await csrfOf(handle);
    const res = await post(handle, `/jobs/${someId}/retry`, { csrf, next: "/failed" });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /sign in/);
    const wrong = await post(handle, `/jobs/${someId}/delete`, { csrf }, {
      authorization: "Bearer not-the-token",
      accept: "*/*",
    });
    assert.equal(wrong.status, 403);
  });

  test("a wrong token does not sign in", async () => {
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const csrf = await csrfOf(handle);
    const res = await post(handle, "/login", { token: "guess", csrf });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get("set-cookie"), null);
  });

  test("signed in: cross-site posts and posts without the page's csrf token are refused", async () => {
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const cookie = await signIn(handle);
    const csrf = await csrfOf(handle, { cookie });
    const path = `/jobs/${someId}/delete`;
    const crossSite = await post(handle, path, { csrf }, {
      cookie,
      "sec-fetch-site": "cross-site",
    });
    assert.equal(crossSite.status, 403);
    assert.match(await crossSite.text(), /cross-site/);
    const noFetchMetadata = new Request(ORIGIN + path, {
      method: "POST",
      body: new URLSearchParams({ csrf }),
      headers: {
        cookie,
        origin: "https://evil.example",
        "content-type": "application/x-www-form-urlencoded",
      },
    });
    assert.equal((await handle(noFetchMetadata)).status, 403);
    const badCsrf = await post(handle, path, { csrf: "0".repeat(32) }, { cookie });
    assert.equal(badCsrf.status, 403);
    assert.match(await badCsrf.text(), /csrf/);
    const anonymousCsrf = await csrfOf(handle);
    assert.notEqual(anonymousCsrf, csrf, "the token is bound to the session");
    const otherSession = await post(handle, path, { csrf: anonymousCsrf }, { cookie });
    assert.equal(otherSession.status, 403);
    await otherSession.body?.cancel();
  });

  test("the authorize hook decides writes, and csrf checks still apply", async () => {
    const handle = dashboard(t.client, {
      authorize: (req) => req.headers.get("x-admin") === "yes",
    });
    const csrf = await csrfOf(handle, { "x-admin": "yes" });
    const path = `/jobs/${someId}/retry`;
    assert.equal((await post(handle, path, { csrf })).status, 403);
    assert.equal((await post(handle, path, { csrf: "nope" }, { "x-admin": "yes" })).status, 403);
    const allowed = await post(handle, path, { csrf, next: "/failed" }, { "x-admin": "yes" });
    assert.notEqual(allowed.status, 403);
    await allowed.body?.cancel();
  });

  test("a form's next is kept inside the dashboard (no open redirect)", async () => {
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const csrf = await csrfOf(handle);
    for (const next of ["https://evil.example/", "//evil.example/x", "/\\evil.example"]) {
      const res = await post(handle, "/login", { token: TOKEN, csrf, next });
      assert.equal(res.status, 303);
      assert.equal(res.headers.get("location"), "/?notice=signed-in", next);
    }
  });
});

describe("dashboard(): job lists and job pages", () => {
  beforeEach(async () => {
    await t.sql`TRUNCATE gue_failed_jobs`;
  });

  test("/jobs filters by queue, state and type", async () => {
    const [a, , c] = await t.client.enqueueBatch([
      { type: "A", queue: "q1" },
      { type: "B", queue: "q1" },
      { type: "A", queue: "q2", runAt: new Date(Date.now() + 60_000) },
    ]);
    const handle = dashboard(t.client);
    const ids = async (query: string) =>
      [...(await (await get(handle, `/jobs?${query}`)).text()).matchAll(/<tr data-job="([^"]+)"/g)]
        .map((m) => m[1]);
    assert.deepEqual(await ids("queue=q1&type=A"), [a.id]);
    assert.deepEqual(await ids("queue=*&state=scheduled"), [c.id]);
    assert.equal((await ids("queue=*")).length, 3, "* is every queue");
    assert.deepEqual(await ids("queue="), [], "an empty queue is the default queue");
    assert.equal((await get(handle, "/jobs?state=bogus")).status, 400);
    assert.equal((await get(handle, "/jobs?limit=0")).status, 400);
  });

  test("/jobs pages with the keyset cursor: each job once, a next link until the last page", async () => {
    const jobs = await t.client.enqueueBatch(
      Array.from({ length: 5 }, () => ({ type: "P", queue: "p" })),
    );
    const handle = dashboard(t.client);
    const seen: string[] = [];
    let path: string | null = "/jobs?queue=p&limit=2";
    let pages = 0;
    while (path !== null) {
      const page = await (await get(handle, path)).text();
      seen.push(...[...page.matchAll(/<tr data-job="([^"]+)"/g)].map((m) => m[1]));
      const next = /<a rel="next" href="([^"]+)"/.exec(page);
      path = next ? next[1].replaceAll("&amp;", "&") : null;
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), jobs.map((j) => j.id).sort());
  });

  test("/failed lists failed jobs only, with buttons only for a browser that may write", async () => {
    const id = await failJob();
    await t.client.enqueue({ type: "Live", queue: "emails" });
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const anonymous = await (await get(handle, "/failed")).text();
    assert.deepEqual([...anonymous.matchAll(/<tr data-job="([^"]+)"/g)].map((m) => m[1]), [id]);
    assert.ok(!anonymous.includes('data-action="retry"'));
    const cookie = await signIn(handle);
    assert.ok(
      (await (await get(handle, "/failed", { cookie })).text()).includes('data-action="retry"'),
    );
  });

  test("retry with the bearer token answers JSON and moves the job back", async () => {
    const id = await failJob();
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const retry = () =>
      handle(
        new Request(`${ORIGIN}/jobs/${id}/retry`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
        }),
      );
    const res = await retry();
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id, action: "retry", done: true, result: true });
    assert.equal((await t.client.getJob(id))?.state, "ready");
    assert.equal((await retry()).status, 404, "not failed any more");
  });

  test("cancel of a queued job moves it to the failed jobs (501 for a client without cancelJob)", async () => {
    const canCancel = typeof (t.client as { cancelJob?: unknown }).cancelJob === "function";
    const job = await t.client.enqueue({ type: "Long", queue: "c" });
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const cancel = () =>
      handle(
        new Request(`${ORIGIN}/jobs/${job.id}/cancel`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
        }),
      );
    const res = await cancel();
    if (!canCancel) {
      assert.equal(res.status, 501);
      await res.body?.cancel();
      return;
    }
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      id: job.id,
      action: "cancel",
      done: true,
      result: "cancelled",
    });
    const after = await t.client.getJob(job.id);
    assert.equal(after?.state, "failed");
    assert.equal(after?.failReason, "cancelled");
    assert.equal((await cancel()).status, 404, "nothing left to cancel");
  });

  test("delete from a signed-in job page goes back to the failed list", async () => {
    const id = await failJob();
    const handle = dashboard(t.client, { writeToken: TOKEN });
    const cookie = await signIn(handle);
    const csrf = await csrfOf(handle, { cookie });
    const res = await post(handle, `/jobs/${id}/delete`, { csrf, next: `/jobs/${id}` }, { cookie });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/failed?notice=deleted");
    assert.equal(await t.client.getJob(id), null);
  });

  test(
    "a job's page shows its args escaped, as text",
    async () => {
      const job = await t.client.enqueue({
        type: "Evil",
        args: { html: "<script>window.__pwned = true</script>", img: `<img src=x onerror="x()">` },
      });
      const page = await (await get(dashboard(t.client), `/jobs/${job.id}`)).text();
      assert.ok(!page.includes("<script>window"));
      assert.ok(!page.includes("<img src=x"));
      assert.match(page, /&lt;script&gt;window.__pwned = true&lt;\/script&gt;/);
    },
  );

  test("an unknown or malformed job id is a 404", async () => {
    const handle = dashboard(t.client);
    assert.equal((await get(handle, "/jobs/01J0000000000000000000000Z")).status, 404);
    assert.equal((await get(handle, "/jobs/not-an-id")).status, 404);
  });
});

describe("Throughput", () => {
  test("charts rows inserted per second from the table statistics", async () => {
    // Record what the sampler read (other tests' inserts may reach the statistics late).
    const read: number[] = [];
    const db = {
      async query<R>(text: string, params?: unknown[]) {
        const result = await t.pool.query<R>(text, params);
        read.push(Number((result.rows[0] as { inserted: unknown }).inserted));
        return result;
      },
    };
    const throughput = new Throughput(db, { window: 10_000 });
    const totals = async () =>
      (await t.sql`SELECT n_tup_ins::int AS n FROM pg_stat_user_tables WHERE relname = 'gue_jobs'`)[
        0
      ].n;
    const start = 1_000_000;
    await throughput.sample(start);
    assert.deepEqual(throughput.points(), [], "one sample is no rate yet");
    await t.client.enqueueBatch(Array.from({ length: 20 }, () => ({ type: "T" })));
    await waitFor(
      async () => (await totals()) >= read[0] + 20,
      20_000,
      "statistics of the inserts",
    );
    await throughput.sample(start + 10_000);
    const [point] = throughput.points();
    assert.equal(point.at, start + 10_000);
    assert.ok(read[1] - read[0] >= 20, "the 20 inserts are counted");
    assert.equal(point.enqueued, (read[1] - read[0]) / 10, "rows per second over 10 s");
    assert.equal(throughput.error, null);
  });

  test("samples at most once per minInterval", async () => {
    const throughput = new Throughput(t.pool, { minInterval: 1000 });
    await throughput.sample(5_000);
    await throughput.sample(5_500);
    await throughput.sample(6_000);
    assert.equal(throughput.points().length, 1, "two samples make one point");
  });
});

test("html`` escapes interpolated values and keeps nested Html as markup", () => {
  const inner = html`<b>${"<i>"}</b>`;
  assert.equal(
    html`<p title="${`"x"`}">${inner}${["a", "<"]}${null}${false}</p>`.text,
    `<p title="&quot;x&quot;"><b>&lt;i&gt;</b>a&lt;</p>`,
  );
});
