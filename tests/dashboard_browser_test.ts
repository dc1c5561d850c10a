/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by
 * playwright-core, against the handler served on 127.0.0.1 with real jobs in a fresh database.
 * Set GUE_DASHBOARD_SCREENSHOTS=1 to write the README's screenshots into docs/.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { dashboard, type DashboardHandler } from "../src/dashboard/mod.ts";
import { Client } from "../src/client.ts";
import { noopLogger } from "../src/logger.ts";
import { Worker } from "../src/worker.ts";
import { useTestDatabase, waitFor } from "./_db.ts";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "browser-test-write-token";
const skip = existsSync(CHROMIUM) ? false : "skipped: chromium not installed";
if (skip) console.log(skip);
const screenshots = process.env.GUE_DASHBOARD_SCREENSHOTS === "1";
const docs = fileURLToPath(new URL("../docs/", import.meta.url));

/** Serves a handler on 127.0.0.1 and a free port with the runtime's own server. */
function serve(handler: DashboardHandler): { url: string; close(): Promise<void> } {
  const bun =
    (globalThis as { Bun?: { serve(o: unknown): { port: number; stop(force: boolean): void } } })
      .Bun;
  if (bun !== undefined) {
    const server = bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    return {
      url: `http://127.0.0.1:${server.port}`,
      close: () => Promise.resolve(server.stop(true)),
    };
  }
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  return { url: `http://127.0.0.1:${server.addr.port}`, close: () => server.shutdown() };
}

const t = useTestDatabase();
const canCancel = typeof (Client.prototype as { cancelJob?: unknown }).cancelJob === "function";

/** Signs the browser in with the header's form, unless it already is. */
async function signIn(page: Page): Promise<void> {
  if (await page.locator('input[name="token"]').count() === 0) return;
  await page.fill('input[name="token"]', TOKEN);
  await page.click('header button[type="submit"]');
  await page.locator(".notice").filter({ hasText: "Signed in" }).waitFor();
}

/** Makes a failed job the way a worker does: its only attempt fails with `error` as the stack. */
async function failJob(type: string, args: unknown, error: string): Promise<string> {
  const { id } = await t.client.enqueue({ type, queue: "emails", args, maxAttempts: 1 });
  const err = new Error(error.split("\n")[0].replace(/^Error: /, ""));
  err.stack = error;
  await (await t.client.lockJobById(id)).error(err);
  return id;
}

describe("dashboard in Chromium", { skip }, () => {
  let server: { url: string; close(): Promise<void> };
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  /** What every page's console and page errors said (a script error fails the test). */
  const pageErrors: string[] = [];

  before(async () => {
    server = serve(dashboard(t.client, { writeToken: TOKEN, refreshInterval: 500 }));
    profile = mkdtempSync(`${tmpdir()}/gue-chromium-`);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 800 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on("pageerror", (err) => pageErrors.push(err.message));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(msg.text());
    });
    page.on("dialog", (dialog) => dialog.accept());
  });

  after(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await t.sql`TRUNCATE gue_failed_jobs`;
    pageErrors.length = 0;
  });

  test("the queues page loads, its counts match the database, and they refresh live", async () => {
    await t.client.enqueueBatch([
      { type: "SendEmail", queue: "emails", args: { to: "a@example.com" } },
      { type: "SendEmail", queue: "emails", args: { to: "b@example.com" } },
      { type: "Report", queue: "reports", runAt: new Date(Date.now() + 3_600_000) },
      { type: "Ping" },
    ]);
    await failJob("SendEmail", { to: "c@example.com" }, "Error: mailbox full");
    await page.goto(`${server.url}/`);
    assert.equal(await page.title(), "Queues · gue");
    for (const q of await t.client.countJobs()) {
      const row = page.locator(`tr[data-queue="${q.queue}"]`);
      for (const state of ["ready", "scheduled", "running", "failing", "failed"] as const) {
        assert.equal(
          (await row.locator(`td[data-count="${state}"]`).textContent())?.trim(),
          String(q[state]),
          `${q.queue || "(default)"} ${state}`,
        );
      }
    }
    // Live: a job enqueued now shows up without a reload.
    await t.client.enqueue({ type: "SendEmail", queue: "emails" });
    await page.locator('tr[data-queue="emails"] td[data-count="ready"]').filter({ hasText: "3" })
      .waitFor({ timeout: 10_000 });
    assert.deepEqual(pageErrors, [], "no script errors (CSP violations are console errors)");
  });

  test("a job whose args contain <script> shows it as text and the script does not run", async () => {
    const evil =
      `<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">`;
    const job = await t.client.enqueue({ type: "Evil", queue: "emails", args: { html: evil } });
    await page.goto(`${server.url}/jobs/${job.id}`);
    const shown = await page.locator('pre[data-field="args"]').textContent();
    assert.ok(shown?.includes("<script>window.__pwned = true</script>"), "the args are text");
    assert.ok(shown?.includes('<img src=x onerror=\\"window.__pwned = true\\">'), String(shown));
    await page.goto(`${server.url}/jobs?queue=emails`);
    assert.ok(
      (await page.locator(`tr[data-job="${job.id}"] code.args`).textContent())?.includes(
        "<script>",
      ),
    );
    assert.equal(await page.evaluate(() => (window as { __pwned?: boolean }).__pwned), undefined);
    assert.equal(await page.locator("img[src=x]").count(), 0, "no element was injected");
  });

  test("a write without the token is refused (403)", async () => {
    const id = await failJob("SendEmail", {}, "Error: boom");
    await page.goto(`${server.url}/failed`);
    assert.equal(
      await page.locator("button[data-action=retry]").count(),
      0,
      "no buttons until signed in",
    );
    // A script on the dashboard's own origin, with the page's csrf token but without the token.
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const status = await page.evaluate(async ([id, csrf]) => {
      const res = await fetch(`/jobs/${id}/retry`, {
        method: "POST",
        body: new URLSearchParams({ csrf }),
        headers: { accept: "text/html" },
      });
      return res.status;
    }, [id, csrf]);
    assert.equal(status, 403);
    assert.equal((await t.client.getJob(id))?.state, "failed", "the job stayed failed");
  });

  test("a failed job is retried from the UI and disappears from the failed list", async () => {
    const keep = await failJob("SendEmail", { to: "keep@example.com" }, "Error: keep");
    const id = await failJob(
      "SendEmail",
      { to: "retry@example.com" },
      "Error: SMTP 451\n    at send (mail.ts:12)",
    );
    await page.goto(`${server.url}/failed`);
    await signIn(page);
    if (screenshots) {
      mkdirSync(docs, { recursive: true });
      await page.screenshot({ path: `${docs}dashboard-failed.png`, fullPage: true });
    }
    await page.click(`tr[data-job="${id}"] button[data-action=retry]`);
    await page.locator(".notice").filter({ hasText: "moved back" }).waitFor();
    assert.equal(await page.locator(`tr[data-job="${id}"]`).count(), 0, "gone from the list");
    assert.equal(await page.locator(`tr[data-job="${keep}"]`).count(), 1, "the other stays");
    const job = await t.client.getJob(id);
    assert.equal(job?.state, "ready", "back in its queue");
    assert.deepEqual(pageErrors, []);
  });

  test(
    "a running job is cancelled from its page",
    { skip: canCancel ? false : "skipped: the client has no cancelJob" },
    async () => {
      const stop = new AbortController();
      const worker = new Worker(t.client, {
        // Runs until its signal aborts, as a well-behaved long job does.
        Long: (_job, ctx) =>
          new Promise<void>((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true })
          ),
      }, { queue: "long", pollInterval: 50, logger: noopLogger });
      const running = worker.run(stop.signal);
      try {
        const job = await t.client.enqueue({ type: "Long", queue: "long" });
        await waitFor(async () => (await t.client.getJob(job.id))?.state === "running", 10_000);
        await page.goto(`${server.url}/jobs/${job.id}`);
        await signIn(page);
        await page.click("button[data-action=cancel]");
        await page.locator(".notice").filter({ hasText: "Cancellation requested" }).waitFor();
        await waitFor(async () => (await t.client.getJob(job.id))?.state === "failed", 10_000);
        assert.equal((await t.client.getJob(job.id))?.failReason, "cancelled");
        assert.deepEqual(pageErrors, []);
      } finally {
        stop.abort();
        await running;
      }
    },
  );

  test("screenshots of the main pages", {
    skip: !screenshots && "skipped: set GUE_DASHBOARD_SCREENSHOTS=1",
  }, async () => {
    await t.client.enqueueBatch([
      ...Array.from(
        { length: 14 },
        (_, i) => ({ type: "SendEmail", queue: "emails", args: { to: `user${i}@example.com` } }),
      ),
      ...Array.from(
        { length: 5 },
        (_, i) => ({
          type: "BuildReport",
          queue: "reports",
          priority: -10,
          args: { month: `2026-0${i + 1}` },
          runAt: new Date(Date.now() + (i + 1) * 600_000),
        }),
      ),
      { type: "Resize", queue: "images", args: { key: "uploads/cat.png", width: 640 } },
    ]);
    await failJob(
      "SendEmail",
      { to: "nobody@example.invalid" },
      "Error: 550 mailbox unavailable\n    at deliver (mail.ts:88:11)\n    at SendEmail (worker.ts:20:5)",
    );
    // Some throughput to chart: enqueue and finish jobs while the page samples.
    await page.goto(`${server.url}/`);
    for (let i = 0; i < 12; i++) {
      await t.client.enqueueBatch(
        Array.from({ length: 20 + i * 5 }, () => ({ type: "Tick", queue: "ticks" })),
      );
      await t
        .sql`DELETE FROM gue_jobs WHERE job_id IN (SELECT job_id FROM gue_jobs WHERE queue = 'ticks' LIMIT ${
        15 + i * 4
      })`;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await page.locator("svg.chart").waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${docs}dashboard-queues.png`, fullPage: true });
    await page.goto(`${server.url}/jobs?queue=emails`);
    await page.screenshot({ path: `${docs}dashboard-jobs.png`, fullPage: true });
    const [failed] = (await t.client.listJobs({ state: "failed" })).jobs;
    await page.goto(`${server.url}/jobs/${failed.id}`);
    await page.screenshot({ path: `${docs}dashboard-job.png`, fullPage: true });
  });
});
