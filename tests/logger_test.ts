/** Loggers: `jsonLogger`'s lines, and a `@std/log`-shaped logger used as it is. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, jsonLogger, type Logger, noopLogger, Worker } from "../mod.ts";
import { useTestDatabase } from "./_db.ts";

const t = useTestDatabase();

function capture(): { lines: string[]; entries: () => Record<string, unknown>[]; logger: Logger } {
  const lines: string[] = [];
  return {
    lines,
    entries: () => lines.map((l) => JSON.parse(l)),
    logger: jsonLogger((line) => lines.push(line)),
  };
}

describe("jsonLogger", () => {
  test("writes one JSON object per line: time, level, msg, then the fields", () => {
    const { lines, entries, logger } = capture();
    logger.debug("Job finished", { "job-id": "01J0", "job-type": "Email" });
    logger.info("Worker finished");
    logger.error("Worker failed to lock a job", { "worker-id": "w1" });
    assert.equal(lines.length, 3);
    assert.ok(lines.every((l) => !l.includes("\n")), "one line each");
    const [a, b, c] = entries();
    assert.deepEqual(Object.keys(a), ["time", "level", "msg", "job-id", "job-type"]);
    assert.equal(new Date(a.time as string).toISOString(), a.time);
    assert.deepEqual({ ...a, time: 0 }, {
      time: 0,
      level: "debug",
      msg: "Job finished",
      "job-id": "01J0",
      "job-type": "Email",
    });
    assert.deepEqual([b.level, b.msg], ["info", "Worker finished"]);
    assert.deepEqual([c.level, c["worker-id"]], ["error", "w1"]);
  });

  test("writes an Error as its message, with its stack under <key>-stack", () => {
    const { entries, logger } = capture();
    const err = new TypeError("bad input");
    logger.error("Got an error on deleting a job", { error: err, "job-error": new Error("x") });
    const [entry] = entries();
    assert.equal(entry.error, "bad input");
    assert.equal(entry["error-stack"], err.stack);
    assert.equal(entry["job-error"], "x");
  });

  test("never throws: cycles, BigInts, symbols, functions, bytes, throwing getters", () => {
    const { entries, logger } = capture();
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const shared = { n: 1 };
    logger.info("odd fields", {
      cyclic,
      big: 2n ** 70n,
      sym: Symbol("s"),
      fn: function handler() {},
      bytes: new Uint8Array(4),
      a: shared,
      b: shared,
      nested: { err: new Error("inner") },
      skipped: undefined,
    });
    const [entry] = entries();
    assert.deepEqual(entry.cyclic, { name: "loop", self: "[Circular]" });
    assert.equal(entry.big, "1180591620717411303424");
    assert.equal(entry.sym, "Symbol(s)");
    assert.equal(entry.fn, "[Function handler]");
    assert.equal(entry.bytes, "<4 bytes>");
    assert.deepEqual([entry.a, entry.b], [{ n: 1 }, { n: 1 }], "a repeated object is no cycle");
    assert.deepEqual(entry.nested, { err: "inner" });
    assert.equal("skipped" in entry, false);

    const hostile = {
      get boom(): never {
        throw new Error("getter exploded");
      },
    };
    logger.error("still logged", { hostile });
    const last = entries()[1];
    assert.equal(last.msg, "still logged");
    assert.match(String(last["log-error"]), /getter exploded/);

    const broken = jsonLogger(() => {
      throw new Error("disk full");
    });
    assert.doesNotThrow(
      () => broken.error("nowhere to go"),
      "a failing sink is not the caller's problem",
    );
  });

  test("its fields cannot overwrite time, level or msg", () => {
    const { entries, logger } = capture();
    logger.info("real", { msg: "fake", level: "error", time: "never" });
    const [entry] = entries();
    assert.deepEqual([entry.msg, entry.level], ["real", "info"]);
    assert.notEqual(entry.time, "never");
  });

  test("logs a worker's life with gue's messages and keys", async () => {
    const { entries, logger } = capture();
    const client = new Client(t.pool, { logger, id: "c1" });
    await client.enqueue({ type: "Ok", queue: "json" });
    const worker = new Worker(client, { Ok: () => {} }, { queue: "json", id: "w1", logger });
    await worker.workOne();
    const got = entries().map((e) => [e.level, e.msg, e["client-id"] ?? e["worker-id"]]);
    assert.deepEqual(got, [
      ["debug", "Tried to enqueue a job", "c1"],
      ["debug", "Job finished", "w1"],
    ]);
    assert.equal(entries()[1]["job-type"], "Ok");
  });
});

// `@std/log`'s `Logger` (JSR, unreachable here) has these method signatures; a structural
// stand-in shows that such a logger is accepted as it is, by the compiler and at run time.
type GenericFunction = (...args: unknown[]) => unknown;
interface LogRecord {
  levelName: string;
  msg: string;
  args: unknown[];
  loggerName: string;
}

class StdLogLikeLogger {
  readonly loggerName: string;
  readonly records: LogRecord[] = [];

  constructor(loggerName: string) {
    this.loggerName = loggerName;
  }

  #log<T>(
    levelName: string,
    msg: (T extends GenericFunction ? never : T) | (() => T),
    args: unknown[],
  ): T | undefined {
    const value = msg instanceof Function ? msg() : msg;
    this.records.push({ levelName, msg: String(value), args, loggerName: this.loggerName });
    return value;
  }

  debug<T>(msg: () => T, ...args: unknown[]): T | undefined;
  debug<T>(msg: T extends GenericFunction ? never : T, ...args: unknown[]): T;
  debug<T>(
    msg: (T extends GenericFunction ? never : T) | (() => T),
    ...args: unknown[]
  ): T | undefined {
    return this.#log("DEBUG", msg, args);
  }
  info<T>(msg: () => T, ...args: unknown[]): T | undefined;
  info<T>(msg: T extends GenericFunction ? never : T, ...args: unknown[]): T;
  info<T>(
    msg: (T extends GenericFunction ? never : T) | (() => T),
    ...args: unknown[]
  ): T | undefined {
    return this.#log("INFO", msg, args);
  }
  warn<T>(msg: () => T, ...args: unknown[]): T | undefined;
  warn<T>(msg: T extends GenericFunction ? never : T, ...args: unknown[]): T;
  warn<T>(
    msg: (T extends GenericFunction ? never : T) | (() => T),
    ...args: unknown[]
  ): T | undefined {
    return this.#log("WARN", msg, args);
  }
  error<T>(msg: () => T, ...args: unknown[]): T | undefined;
  error<T>(msg: T extends GenericFunction ? never : T, ...args: unknown[]): T;
  error<T>(
    msg: (T extends GenericFunction ? never : T) | (() => T),
    ...args: unknown[]
  ): T | undefined {
    return this.#log("ERROR", msg, args);
  }
  critical<T>(msg: () => T, ...args: unknown[]): T | undefined;
  critical<T>(msg: T extends GenericFunction ? never : T, ...args: unknown[]): T;
  critical<T>(
    msg: (T extends GenericFunction ? never : T) | (() => T),
    ...args: unknown[]
  ): T | undefined {
    return this.#log("CRITICAL", msg, args);
  }
}

/**
 * Runs `fn` with every console method and `process.stdout`/`process.stderr` writes recorded
 * instead of printed, and returns what was written, as `"<where>: <text>"`.
 */
function captureOutput(fn: () => void): string[] {
  const written: string[] = [];
  const methods = ["log", "info", "debug", "warn", "error", "trace", "dir", "table"] as const;
  const savedConsole = methods.map((m) => [m, console[m]] as const);
  const streams = [["stdout", process.stdout], ["stderr", process.stderr]] as const;
  const savedWrites = streams.map(([, stream]) => stream.write);
  for (const m of methods) {
    console[m] = (...args: unknown[]) => void written.push(`console.${m}: ${args.join(" ")}`);
  }
  for (const [name, stream] of streams) {
    stream.write = ((chunk: unknown) => written.push(`${name}: ${String(chunk)}`) > 0) as never;
  }
  try {
    fn();
  } finally {
    for (const [m, original] of savedConsole) console[m] = original as never;
    streams.forEach(([, stream], i) => (stream.write = savedWrites[i]));
  }
  return written;
}

describe("a @std/log-shaped logger", () => {
  test("is a Logger as it is: gue's messages arrive with the fields as the first argument", async () => {
    const std = new StdLogLikeLogger("gue");
    const logger: Logger = std; // compiles: no adapter needed
    // listen: false, so the log is the same whether or not the adapter under test can LISTEN.
    const client = new Client(t.pool, { logger, id: "c2", listen: false });
    await client.enqueue({ type: "Fails", queue: "std" });
    const worker = new Worker(client, {
      Fails: () => {
        throw new Error("nope");
      },
    }, { queue: "std", id: "w2", logger, pollInterval: 10 });
    await worker.workOne();
    const stop = new AbortController();
    stop.abort();
    await worker.run(stop.signal);

    const seen = std.records.map((r) => [r.levelName, r.msg]);
    assert.deepEqual(seen, [
      ["DEBUG", "Tried to enqueue a job"],
      ["ERROR", "Job failed"],
      ["INFO", "Workers poll only: not listening for new jobs"],
      ["INFO", "Worker finished"],
    ]);
    const id = (await t.sql`SELECT job_id FROM gue_jobs`)[0].job_id;
    assert.deepEqual(std.records[0].args, [{
      "client-id": "c2",
      error: undefined,
      queue: "std",
      id,
    }]);
    const failed = std.records[1].args[0] as Record<string, unknown>;
    assert.equal(failed["worker-id"], "w2");
    assert.equal(failed["job-id"], id);
    assert.equal(failed["job-type"], "Fails");
    assert.match(String(failed.error), /nope/);
    assert.deepEqual(std.records[2].args, [{
      "client-id": "c2",
      reason: "listening is off (listen: false)",
    }]);
    assert.deepEqual(std.records[3].args, [{ "worker-id": "w2" }]);
  });
});

describe("noopLogger", () => {
  test("accepts every call and writes nothing", () => {
    const written = captureOutput(() => {
      noopLogger.debug("x", { a: 1 });
      noopLogger.info("x");
      noopLogger.error("x", { error: new Error("e") });
    });
    assert.deepEqual(written, [], "nothing reached the console, stdout or stderr");
  });
});
