/**
 * `deno task otel` (or `bun examples/otel.ts`): a worker pool that reports gue's OpenTelemetry
 * metrics and spans to the console. It enqueues three jobs — two that succeed, one that fails —
 * works them, then prints every span as it ends and the metrics once at the end, and exits
 * (exit code 1 if the jobs were not worked within 30 s).
 *
 * In an application, swap the console exporters for OTLP ones (`@opentelemetry/exporter-*`) or
 * a Prometheus reader; gue itself depends on `@opentelemetry/api` only.
 */
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import { ConsoleSpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import postgres from "postgres";
import { Client, WorkerPool } from "@gue/gue";
import { postgresjs } from "@gue/gue/adapters/postgresjs";
import { exampleDatabase } from "./_database.ts";

const say = (line: string) => console.log(`# ${line}`);

// The SDK set-up an application does once at start. The context manager lets spans started in
// a handler nest under gue's Worker.WorkOne span.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracerProvider = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() })],
});
const metricReader = new PeriodicExportingMetricReader({
  exporter: new ConsoleMetricExporter(),
  exportIntervalMillis: 60_000, // printed once, at shutdown
});
const meterProvider = new MeterProvider({ readers: [metricReader] });
const meter = meterProvider.getMeter("gue-example");
const tracer = tracerProvider.getTracer("gue-example");

const database = await exampleDatabase(say);
const sql = postgres(database.url, { max: 5, onnotice: () => {} });
const client = new Client(postgresjs(sql), { meter, queueDepth: { interval: 0 } });
try {
  await client.migrate();
  const queue = "otel_example";
  await sql`DELETE FROM gue_jobs WHERE queue = ${queue}`;

  let worked = 0;
  const pool = new WorkerPool(
    client,
    {
      SendEmail: async (job) => {
        // A span of the application's own: a child of Worker.WorkOne.
        const span = tracer.startSpan("smtp.send", {
          attributes: { to: job.json<{ to: string }>().to },
        });
        await new Promise((r) => setTimeout(r, 20));
        span.end();
      },
      ChargeCard: () => {
        throw new Error("card declined");
      },
    },
    2,
    {
      queue,
      pollInterval: 100,
      meter,
      tracer,
      hooks: { jobDone: [() => void worked++] },
    },
  );

  const jobs = await client.enqueueBatch([
    { type: "SendEmail", queue, args: { to: "ada@example.com" } },
    { type: "SendEmail", queue, args: { to: "grace@example.com" } },
    { type: "ChargeCard", queue, args: { amount: 42 } },
  ]);
  say(`enqueued ${jobs.length} jobs; spans follow as they end`);

  const stop = new AbortController();
  const running = pool.run(stop.signal);
  const deadline = Date.now() + 30_000;
  while (worked < jobs.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  stop.abort();
  await running;
  if (worked < jobs.length) {
    say(`only ${worked} of ${jobs.length} jobs worked within 30 s`);
    process.exitCode = 1;
  } else say(`worked ${worked} jobs (the failed one waits for its retry); metrics follow`);
} finally {
  // Shutting down exports the metrics a last time: here, the one time they are printed. The
  // failed job is still in the table, scheduled for its retry: gue_jobs_waiting shows it.
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  await sql.end();
  await database.release();
}
