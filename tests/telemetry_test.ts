/**
 * OpenTelemetry: gue's metric and span names, units and attributes (spec §5), checked with the
 * SDK's in-memory readers and exporters, plus our queue-depth gauge.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { context, metrics, type Span, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  DataPointType,
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  Client,
  type ConnPool,
  type HookFunc,
  type JobInput,
  MissingTypeError,
  Worker,
  type WorkerOptions,
  WorkerPool,
  type WorkMap,
} from "../mod.ts";
import { NOOP_WORKER_RECORDER, workerRecorder } from "../src/telemetry/worker_recorder.ts";
import { createTestDatabase, useTestDatabase, waitFor } from "./_db.ts";

const t = useTestDatabase();

/** A reader the test collects from by hand, cumulative, so every collect sees all recordings. */
class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** A meter and a tracer of their own for one test, and what they recorded. */
function otel() {
  const reader = new TestReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  return {
    meterProvider,
    tracerProvider,
    meter: meterProvider.getMeter("gue-test"),
    tracer: tracerProvider.getTracer("gue-test"),
    async metrics(): Promise<MetricData[]> {
      const { resourceMetrics, errors } = await reader.collect();
      assert.deepEqual(errors, []);
      return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    },
    spans(): ReadableSpan[] {
      return exporter.getFinishedSpans();
    },
    async shutdown() {
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}
type Otel = ReturnType<typeof otel>;

function metric(all: MetricData[], name: string): MetricData | undefined {
  return all.find((m) => m.descriptor.name === name);
}

/** A counter's points as `"<job-type>/<success>" → value`. */
function counts(all: MetricData[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of metric(all, name)?.dataPoints ?? []) {
    out[`${p.attributes["job-type"]}/${p.attributes.success}`] = p.value as number;
  }
  return out;
}

/** The duration histogram's sample counts per job type. */
function durations(all: MetricData[]): Record<string, number> {
  const m = metric(all, "gue_worker_jobs_duration");
  const out: Record<string, number> = {};
  for (const p of m?.dataPoints ?? []) {
    out[String(p.attributes["job-type"])] = (p.value as { count: number }).count;
  }
  return out;
}

function named(spans: ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

function exceptions(span: ReadableSpan): string[] {
  return span.events.filter((e) => e.name === "exception").map((e) =>
    String(e.attributes?.["exception.message"])
  );
}

function isChildOf(child: ReadableSpan, parent: ReadableSpan): boolean {
  return child.parentSpanContext?.spanId === parent.spanContext().spanId &&
    child.spanContext().traceId === parent.spanContext().traceId;
}

/** Enqueues with a metered client, then works exactly one poll with a traced, metered worker. */
async function workOne(
  o: Otel,
  jobs: JobInput[],
  workMap: WorkMap,
  options: WorkerOptions = {},
): Promise<boolean> {
  const client = new Client(t.pool, { meter: o.meter });
  if (jobs.length > 0) await client.enqueueBatch(jobs);
  const worker = new Worker(client, workMap, { ...options, meter: o.meter, tracer: o.tracer });
  return await worker.workOne();
}

describe("OpenTelemetry", () => {
  // Spans a handler starts nest under Worker.WorkOne only with a context manager, as in any
  // application that set up the SDK.
  before(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  after(() => {
    context.disable();
  });

  test("a successful job: enqueue, lock and worked counted once with its type, one WorkOne span", async () => {
    const o = otel();
    let inner: Span | undefined;
    assert.equal(
      await workOne(o, [{ type: "Ok", queue: "q" }], {
        Ok: async () => {
          // A span the handler starts is a child of Worker.WorkOne.
          inner = o.tracer.startSpan("handler.work");
          await new Promise((r) => setTimeout(r, 5));
          inner.end();
        },
      }, { queue: "q" }),
      true,
    );
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_client_enqueue"), { "Ok/true": 1 });
    assert.deepEqual(counts(all, "gue_client_lock_job"), { "Ok/true": 1 });
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "Ok/true": 1 });
    assert.deepEqual(durations(all), { Ok: 1 });
    const duration = metric(all, "gue_worker_jobs_duration")!;
    assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
    assert.ok(
      (duration.dataPoints[0].value as { sum: number }).sum >= 5,
      "duration covers the handler",
    );

    const spans = o.spans();
    assert.deepEqual(spans.map((s) => s.name).sort(), ["Worker.WorkOne", "handler.work"]);
    const [workOneSpan] = named(spans, "Worker.WorkOne");
    const [row] = await t.sql`SELECT 1 FROM gue_jobs`;
    assert.equal(row, undefined, "the job was deleted");
    assert.equal(workOneSpan.attributes["job-type"], "Ok");
    assert.equal(workOneSpan.attributes["job-queue"], "q");
    assert.match(String(workOneSpan.attributes["job-id"]), /^[0-9A-Z]{26}$/);
    assert.equal(workOneSpan.status.code, SpanStatusCode.UNSET);
    assert.deepEqual(exceptions(workOneSpan), []);
    assert.ok(isChildOf(named(spans, "handler.work")[0], workOneSpan));
    assert.ok(inner !== undefined);
    await o.shutdown();
  });

  test("instruments carry gue's names, kinds, units and descriptions", async () => {
    const o = otel();
    await workOne(o, [{ type: "Ok" }], { Ok: () => {} });
    const all = await o.metrics();
    const described = Object.fromEntries(
      all.map((
        m,
      ) => [m.descriptor.name, [m.dataPointType, m.descriptor.unit, m.descriptor.description]]),
    );
    assert.deepEqual(described, {
      gue_client_enqueue: [DataPointType.SUM, "1", "Number of jobs being enqueued"],
      gue_client_lock_job: [DataPointType.SUM, "1", "Number of jobs being locked (consumed)"],
      gue_worker_jobs_worked: [DataPointType.SUM, "1", "Number of jobs processed"],
      gue_worker_jobs_duration: [
        DataPointType.HISTOGRAM,
        "ms",
        "Duration of the single locked job to be processed with all the hooks",
      ],
    });
    for (const m of all) {
      if (m.dataPointType === DataPointType.SUM) {
        assert.equal(m.isMonotonic, true, m.descriptor.name);
      }
    }
    await o.shutdown();
  });

  test("a failing job: worked counted failed, the error recorded on WorkOne with status error", async () => {
    const o = otel();
    await workOne(o, [{ type: "Fails" }], {
      Fails: () => Promise.reject(new Error("upstream timed out")),
    });
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_client_lock_job"), { "Fails/true": 1 });
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "Fails/false": 1 });
    assert.deepEqual(durations(all), { Fails: 1 });
    const spans = o.spans();
    assert.deepEqual(spans.map((s) => s.name), ["Worker.WorkOne"]);
    assert.deepEqual(exceptions(spans[0]), ["upstream timed out"]);
    assert.equal(spans[0].events[0].attributes?.["exception.type"], "Error");
    assert.deepEqual(spans[0].status, {
      code: SpanStatusCode.ERROR,
      message: "upstream timed out",
    });
    const [row] = await t.sql`SELECT error_count FROM gue_jobs`;
    assert.equal(row.error_count, 1);
    await o.shutdown();
  });

  test("a throwing job: a synchronous throw of a non-Error is recorded like any failure", async () => {
    const o = otel();
    await workOne(o, [{ type: "Throws" }], {
      Throws: () => {
        throw "plain string";
      },
    });
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "Throws/false": 1 });
    assert.deepEqual(durations(all), { Throws: 1 });
    const [span] = o.spans();
    assert.equal(span.name, "Worker.WorkOne");
    assert.deepEqual(exceptions(span), ["plain string"]);
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    await o.shutdown();
  });

  test("a jobDone hook that throws: Worker.recoverPanic under WorkOne, job counted failed once", async () => {
    const o = otel();
    let calls = 0;
    const hook: HookFunc = (_job, err) => {
      calls++;
      if (err === null) throw new Error("hook broke");
    };
    await workOne(o, [{ type: "Ok" }], { Ok: () => {} }, { hooks: { jobDone: [hook] } });
    assert.equal(calls, 2, "called after the handler, then again with the panic");
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "Ok/false": 1 });
    assert.deepEqual(durations(all), { Ok: 1 });
    const spans = o.spans();
    const [workOneSpan] = named(spans, "Worker.WorkOne");
    const [panic] = named(spans, "Worker.recoverPanic");
    assert.ok(isChildOf(panic, workOneSpan));
    assert.deepEqual(exceptions(panic), ["job panicked"]);
    assert.match(String(panic.attributes.stacktrace), /hook broke/);
    assert.equal(panic.status.code, SpanStatusCode.ERROR);
    assert.deepEqual(workOneSpan.status, { code: SpanStatusCode.ERROR, message: "job panicked" });
    assert.equal(named(spans, "Worker.recoverPanicRecovery").length, 0);
    await o.shutdown();
  });

  test("a jobDone hook that throws again in recovery: Worker.recoverPanicRecovery under recoverPanic", async () => {
    const o = otel();
    const hook: HookFunc = () => {
      throw new Error("hook always breaks");
    };
    await workOne(o, [{ type: "Fails" }], {
      Fails: () => {
        throw new Error("handler broke");
      },
    }, { hooks: { jobDone: [hook] } });
    const all = await o.metrics();
    // gue counts this job twice (handler error, then panic); we count each job once.
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "Fails/false": 1 });
    const spans = o.spans();
    const [workOneSpan] = named(spans, "Worker.WorkOne");
    const [panic] = named(spans, "Worker.recoverPanic");
    const [recovery] = named(spans, "Worker.recoverPanicRecovery");
    assert.ok(isChildOf(panic, workOneSpan));
    assert.ok(isChildOf(recovery, panic));
    assert.deepEqual(exceptions(recovery), ["hook job done panicked in job panic recovery"]);
    assert.match(String(recovery.attributes.stacktrace), /hook always breaks/);
    assert.deepEqual(exceptions(workOneSpan), ["handler broke"]);
    assert.deepEqual(workOneSpan.status, { code: SpanStatusCode.ERROR, message: "handler broke" });
    assert.equal(spans.every((s) => s.ended), true);
    await o.shutdown();
  });

  test("an unknown type: worked counted failed, `job with unknown type` recorded on WorkOne", async () => {
    const o = otel();
    await workOne(o, [{ type: "Nope", queue: "u" }], { Other: () => {} }, { queue: "u" });
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_client_lock_job"), { "Nope/true": 1 });
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "Nope/false": 1 });
    assert.deepEqual(durations(all), { Nope: 1 });
    const [span] = o.spans();
    assert.equal(span.name, "Worker.WorkOne");
    assert.equal(span.attributes["job-type"], "Nope");
    assert.deepEqual(exceptions(span), ['job with unknown type: "Nope"']);
    assert.deepEqual(span.status, {
      code: SpanStatusCode.ERROR,
      message: 'job with unknown type: "Nope"',
    });
    await o.shutdown();
  });

  test('a lock error: lock_job and worked counted with type "" failed, the span is ended', async () => {
    const o = otel();
    const broken: ConnPool = {
      name: "broken",
      capabilities: { concurrentTransactions: true },
      query: () => Promise.reject(new Error("connection refused")),
      begin: () => Promise.reject(new Error("connection refused")),
      close: () => Promise.resolve(),
    };
    const client = new Client(broken, { meter: o.meter });
    const locked: unknown[] = [];
    const worker = new Worker(client, {}, {
      meter: o.meter,
      tracer: o.tracer,
      hooks: { jobLocked: [(job, err) => void locked.push(job, err)] },
    });
    assert.equal(await worker.workOne(), false);
    assert.equal(locked[0], null);
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_client_lock_job"), { "/false": 1 });
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "/false": 1 });
    assert.deepEqual(durations(all), {}, "no job, no duration");
    // gue leaves this span unended unless spanWorkOneNoJob; ours is always ended.
    const spans = o.spans();
    assert.deepEqual(spans.map((s) => s.name), ["Worker.WorkOne"]);
    assert.deepEqual(exceptions(spans[0]), [
      "worker failed to lock a job: lockJob: connection refused",
    ]);
    assert.equal(spans[0].status.code, SpanStatusCode.ERROR);
    assert.equal(spans[0].attributes["job-id"], undefined);
    await o.shutdown();
  });

  test("a lock query error is not a lock_job failure (gue counts only a failed begin)", async () => {
    const o = otel();
    const failingQuery: ConnPool = {
      name: "failing-query",
      capabilities: { concurrentTransactions: true },
      query: () => Promise.reject(new Error("no")),
      begin: () =>
        Promise.resolve({
          query: () => Promise.reject(new Error('relation "gue_jobs" does not exist')),
          commit: () => Promise.resolve(),
          rollback: () => Promise.resolve(),
        }),
      close: () => Promise.resolve(),
    };
    const client = new Client(failingQuery, { meter: o.meter });
    const worker = new Worker(client, {}, { meter: o.meter, tracer: o.tracer });
    assert.equal(await worker.workOne(), false);
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_client_lock_job"), {});
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "/false": 1 });
    assert.equal(o.spans().length, 1);
    await o.shutdown();
  });

  test("an empty poll records nothing, and makes an ended span only with spanWorkOneNoJob", async () => {
    const o = otel();
    assert.equal(await workOne(o, [], {}, { queue: "empty" }), false);
    assert.deepEqual(o.spans(), []);
    assert.equal(await workOne(o, [], {}, { queue: "empty", spanWorkOneNoJob: true }), false);
    const spans = o.spans();
    assert.deepEqual(spans.map((s) => [s.name, s.ended, s.status.code]), [
      ["Worker.WorkOne", true, SpanStatusCode.UNSET],
    ]);
    assert.deepEqual(spans[0].attributes, {});
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_client_lock_job"), {});
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), {});
    await o.shutdown();
  });

  test("with spanWorkOneNoJob a locked job's span carries its attributes too", async () => {
    const o = otel();
    await workOne(o, [{ type: "Ok", queue: "n" }], { Ok: () => {} }, {
      queue: "n",
      spanWorkOneNoJob: true,
    });
    const [span] = o.spans();
    assert.equal(span.attributes["job-type"], "Ok");
    assert.equal(span.attributes["job-queue"], "n");
    await o.shutdown();
  });

  test("a batch enqueue counts each job with its type; a failed insert counts them failed", async () => {
    const o = otel();
    const client = new Client(t.pool, { meter: o.meter });
    const stored = await client.enqueueBatch([{ type: "A" }, { type: "B" }, { type: "A" }]);
    await assert.rejects(client.enqueueWithId({ type: "A" }, stored[0].id), { code: "23505" });
    await assert.rejects(client.enqueueBatch([{ type: "A" }, { type: "" }]), MissingTypeError);
    const all = await o.metrics();
    // Bad input fails before any SQL and is not counted, as in gue.
    assert.deepEqual(counts(all, "gue_client_enqueue"), { "A/true": 2, "B/true": 1, "A/false": 1 });
    await o.shutdown();
  });

  test("a worker pool passes its tracer and meter to every worker", async () => {
    const o = otel();
    const client = new Client(t.pool, { meter: o.meter });
    await client.enqueueBatch(Array.from({ length: 6 }, () => ({ type: "P", queue: "pool" })));
    let done = 0;
    // PGlite runs one transaction at a time and refuses a pool of several workers.
    const size = t.pool.capabilities.concurrentTransactions ? 3 : 1;
    const pool = new WorkerPool(client, { P: () => void done++ }, size, {
      queue: "pool",
      pollInterval: 20,
      meter: o.meter,
      tracer: o.tracer,
    });
    const stop = new AbortController();
    const running = pool.run(stop.signal);
    await waitFor(() => done === 6, 10_000, "six jobs");
    stop.abort();
    await running;
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "P/true": 6 });
    assert.deepEqual(durations(all), { P: 6 });
    assert.equal(named(o.spans(), "Worker.WorkOne").length, 6);
    await o.shutdown();
  });

  test("without meter and tracer nothing is recorded and jobs work as usual", async () => {
    // The SDK is installed as the global provider, as in an application that set it up: gue
    // must not fall back to it (metrics.getMeter, trace.getTracer) when given no meter or tracer.
    const o = otel();
    assert.ok(metrics.setGlobalMeterProvider(o.meterProvider));
    assert.ok(trace.setGlobalTracerProvider(o.tracerProvider));
    try {
      const client = new Client(t.pool);
      await client.enqueueBatch([{ type: "Ok" }, { type: "Fails" }, { type: "Nope" }]);
      const worker = new Worker(client, {
        Ok: () => {},
        Fails: () => Promise.reject(new Error("no")),
      }, { hooks: { jobDone: [(_job, err) => void (err ?? 0)] } });
      for (let i = 0; i < 4; i++) await worker.workOne();
      assert.equal((await t.sql`SELECT count(*)::int AS n FROM gue_jobs`)[0].n, 2, "Ok deleted");
      assert.deepEqual(o.spans(), [], "no span");
      assert.deepEqual((await o.metrics()).map((m) => m.descriptor.name), [], "no instrument");

      // The capture works: what does use the global providers is recorded.
      trace.getTracer("probe").startSpan("probe").end();
      metrics.getMeter("probe").createCounter("probe").add(1);
      assert.deepEqual(o.spans().map((s) => s.name), ["probe"]);
      assert.deepEqual((await o.metrics()).map((m) => m.descriptor.name), ["probe"]);
    } finally {
      trace.disable();
      metrics.disable();
      await o.shutdown();
    }
  });

  test("a worker without meter and tracer holds the shared no-op recorder", () => {
    const recorder = workerRecorder({ spanWorkOneNoJob: true });
    assert.equal(recorder, NOOP_WORKER_RECORDER);
    assert.equal(recorder.poll(), recorder.poll(), "one poll recorder for every poll");
    const o = otel();
    assert.notEqual(workerRecorder({ meter: o.meter, spanWorkOneNoJob: false }), recorder);
  });

  test("a meter or tracer that is not one is refused at construction", () => {
    assert.throws(() => new Client(t.pool, { meter: {} as never }), TypeError);
    assert.throws(() => new Worker(t.client, {}, { tracer: 1 as never }), TypeError);
    assert.throws(() => new Client(t.pool, { queueDepth: true }), /queueDepth needs a meter/);
  });

  test("batch mode: each job of the batch has its own WorkOne span, count and duration", async () => {
    const o = otel();
    const inner: Span[] = [];
    assert.equal(
      await workOne(o, [{ type: "Ok", queue: "qb" }, { type: "Ok", queue: "qb" }, {
        type: "Fails",
        queue: "qb",
      }], {
        Ok: () => void inner.push(o.tracer.startSpan("handler.work")),
        Fails: () => {
          throw new Error("nope");
        },
      }, { queue: "qb", batch: { size: 3 }, logger: { debug() {}, info() {}, error() {} } }),
      true,
    );
    for (const span of inner) span.end();
    const all = await o.metrics();
    assert.deepEqual(counts(all, "gue_client_lock_job"), { "Ok/true": 2, "Fails/true": 1 });
    assert.deepEqual(counts(all, "gue_worker_jobs_worked"), { "Ok/true": 2, "Fails/false": 1 });
    assert.deepEqual(durations(all), { Ok: 2, Fails: 1 });
    const spans = o.spans();
    const workOnes = named(spans, "Worker.WorkOne");
    assert.equal(workOnes.length, 3, "one span a job");
    assert.deepEqual(
      workOnes.map((s) => s.attributes["job-type"]).toSorted(),
      ["Fails", "Ok", "Ok"],
    );
    const handlerSpans = named(spans, "handler.work");
    assert.equal(handlerSpans.length, 2);
    const parents = handlerSpans.map((h) => workOnes.findIndex((w) => isChildOf(h, w)));
    assert.ok(parents.every((i) => i >= 0), "each handler's span is under a WorkOne span");
    assert.notEqual(parents[0], parents[1], "under its own job's span");
    const failed = workOnes.find((s) => s.attributes["job-type"] === "Fails")!;
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.deepEqual(exceptions(failed), ["nope"]);
    await o.shutdown();
  });
});

describe("gue_jobs_waiting", () => {
  /** The gauge's points as `"<queue>/<state>" → value`. */
  function waiting(all: MetricData[]): Record<string, number> {
    const out: Record<string, number> = {};
    for (const p of metric(all, "gue_jobs_waiting")?.dataPoints ?? []) {
      out[`${p.attributes["job-queue"]}/${p.attributes.state}`] = p.value as number;
    }
    return out;
  }

  test("is off by default", async () => {
    const o = otel();
    new Client(t.pool, { meter: o.meter });
    assert.equal(metric(await o.metrics(), "gue_jobs_waiting"), undefined);
    await o.shutdown();
  });

  test("counts ready and scheduled jobs per queue; an emptied queue reads 0", async () => {
    const o = otel();
    const client = new Client(t.pool, { meter: o.meter, queueDepth: { interval: 0 } });
    const later = new Date(Date.now() + 3_600_000);
    await client.enqueueBatch([
      { type: "X", queue: "a" },
      { type: "X", queue: "a" },
      { type: "X", queue: "a", runAt: later },
      { type: "X", queue: "" },
    ]);
    let all = await o.metrics();
    assert.deepEqual(waiting(all), {
      "a/ready": 2,
      "a/scheduled": 1,
      "/ready": 1,
      "/scheduled": 0,
    });
    const gauge = metric(all, "gue_jobs_waiting")!;
    assert.equal(gauge.dataPointType, DataPointType.GAUGE);
    assert.equal(gauge.descriptor.unit, "1");
    await t.sql`DELETE FROM gue_jobs WHERE queue = 'a'`;
    all = await o.metrics();
    assert.deepEqual(waiting(all), {
      "a/ready": 0,
      "a/scheduled": 0,
      "/ready": 1,
      "/scheduled": 0,
    });
    await o.shutdown();
  });

  test("reads the table at most once per interval, however often metrics are collected", async () => {
    const o = otel();
    let queries = 0;
    const counting: ConnPool = {
      ...t.pool,
      name: t.pool.name,
      capabilities: t.pool.capabilities,
      begin: () => t.pool.begin(),
      close: () => Promise.resolve(),
      query: (text, params) => {
        queries++;
        return t.pool.query(text, params);
      },
    };
    new Client(counting, { meter: o.meter, queueDepth: { interval: 60_000 } });
    await t.client.enqueue({ type: "X", queue: "c" });
    assert.deepEqual(waiting(await o.metrics()), { "c/ready": 1, "c/scheduled": 0 });
    await t.client.enqueue({ type: "X", queue: "c" });
    await Promise.all([o.metrics(), o.metrics(), o.metrics()]);
    assert.deepEqual(waiting(await o.metrics()), { "c/ready": 1, "c/scheduled": 0 }, "cached");
    assert.equal(queries, 1);
    await o.shutdown();
  });

  test("a failed read reports nothing and logs the error", async () => {
    const o = otel();
    const errors: string[] = [];
    const broken: ConnPool = {
      name: "broken",
      capabilities: { concurrentTransactions: true },
      query: () => Promise.reject(new Error("server closed the connection")),
      begin: () => Promise.reject(new Error("server closed the connection")),
      close: () => Promise.resolve(),
    };
    new Client(broken, {
      meter: o.meter,
      queueDepth: true,
      logger: { debug() {}, info() {}, error: (msg) => void errors.push(msg) },
    });
    assert.deepEqual(waiting(await o.metrics()), {});
    assert.deepEqual(errors, ["Failed to count waiting jobs"]);
    await o.shutdown();
  });
});

describe("examples/otel.ts", () => {
  test("prints the spans and metrics of the jobs it works", async () => {
    const db = await createTestDatabase();
    try {
      const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
      const child = spawn(
        process.execPath,
        isDeno ? ["run", "-A", "examples/otel.ts"] : ["examples/otel.ts"],
        {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          env: { ...process.env, DATABASE_URL: db.url },
        },
      );
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      const code = await new Promise((resolve, reject) => {
        child.on("error", reject);
        child.on("close", resolve);
      });
      assert.equal(code, 0, out);
      for (
        const name of [
          "Worker.WorkOne",
          "smtp.send",
          "card declined",
          "gue_client_enqueue",
          "gue_client_lock_job",
          "gue_worker_jobs_worked",
          "gue_worker_jobs_duration",
          "gue_jobs_waiting",
        ]
      ) assert.ok(out.includes(name), `${name} in the output:\n${out}`);
      assert.match(out, /worked 3 jobs/);
    } finally {
      await db.drop();
    }
  });
});
