/**
 * Property-based tests of enqueue input: whatever a caller passes, enqueue either stores exactly
 * what it was given, or fails with a clear error that names the field, and writes nothing.
 *
 * Inputs come from fast-check: hostile strings (NUL, lone surrogates, long and non-BMP text),
 * out-of-range and non-integer priorities, invalid and out-of-range dates, huge and
 * unserialisable args, malformed ids, and batches with one bad job at a random place.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MissingTypeError } from "../mod.ts";
import { JOB_INSERT_MAX_ROWS } from "../src/sql.ts";
import { useTestDatabase } from "./_db.ts";

const t = useTestDatabase();

const RUNS = 60;

async function rowCount(): Promise<number> {
  const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM gue_jobs`;
  return n;
}

async function clear(): Promise<void> {
  await t.sql`DELETE FROM gue_jobs`;
}

/** The error is one of enqueue's input errors and names `field`. */
function assertInputError(err: unknown, field: string): void {
  assert.ok(
    err instanceof TypeError || err instanceof RangeError || err instanceof MissingTypeError,
    `expected a TypeError, RangeError or MissingTypeError for ${field}, got ${String(err)}`,
  );
  assert.ok(
    (err as Error).message.includes(field),
    `the error should name ${field}: ${(err as Error).message}`,
  );
}

/**
 * Runs `enqueue`; when it succeeds, `check` verifies the stored row; when it fails, the error
 * must name `field` and nothing may be written.
 */
async function storedExactlyOrRejected(
  field: string,
  enqueue: () => Promise<unknown>,
  check: () => Promise<void>,
): Promise<void> {
  let failure: unknown;
  try {
    await enqueue();
  } catch (err) {
    failure = err;
  }
  try {
    if (failure === undefined) await check();
    else {
      assertInputError(failure, field);
      assert.equal(await rowCount(), 0, `a rejected ${field} wrote a row`);
    }
  } finally {
    await clear();
  }
}

/** Strings a hostile or careless caller may pass: any code unit, NUL, lone surrogates, long. */
const hostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
  fc.string().map((s) => `${s}\0${s}`),
  fc.constantFrom("\uD800", "a\uDFFFb", "\u0000", "𝄞\uD834", "'; DROP TABLE gue_jobs; --"),
  fc.integer({ min: 10_000, max: 200_000 }).map((n) => "x".repeat(n)),
);

/** Values that are not strings at all. */
const notAString = fc.oneof(
  fc.integer(),
  fc.constant(null),
  fc.boolean(),
  fc.object(),
  fc.constant(Symbol("s")),
) as fc.Arbitrary<unknown>;

describe("enqueue() with hostile input", () => {
  test("type: stored exactly, or a clear error naming job.type and nothing written", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileString, notAString), async (type) => {
        await storedExactlyOrRejected(
          "job.type",
          () => t.client.enqueue({ type: type as string }),
          async () => {
            const rows = await t.sql`SELECT job_type FROM gue_jobs`;
            assert.equal(rows.length, 1);
            assert.equal(rows[0].job_type, type);
          },
        );
      }),
      { numRuns: RUNS },
    );
  });

  test("queue: stored exactly, or a clear error naming job.queue and nothing written", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileString, notAString), async (queue) => {
        await storedExactlyOrRejected(
          "job.queue",
          () => t.client.enqueue({ type: "T", queue: queue as string }),
          async () => {
            const rows = await t.sql`SELECT queue FROM gue_jobs`;
            assert.equal(rows.length, 1);
            assert.equal(rows[0].queue, queue);
          },
        );
      }),
      { numRuns: RUNS },
    );
  });

  test("priority: an integer in −32768..32767 is stored, anything else is a RangeError", async () => {
    const priority = fc.oneof(
      fc.integer({ min: -32768, max: 32767 }),
      fc.integer(),
      fc.double(),
      fc.constantFrom(NaN, Infinity, -Infinity, -32769, 32768, 2 ** 53, 0.5, -0),
      fc.bigInt(),
      fc.string(),
    ) as fc.Arbitrary<unknown>;
    await fc.assert(
      fc.asyncProperty(priority, async (p) => {
        await storedExactlyOrRejected(
          "job.priority",
          () => t.client.enqueue({ type: "T", priority: p as number }),
          async () => {
            assert.ok(Number.isInteger(p) && (p as number) >= -32768 && (p as number) <= 32767);
            const rows = await t.sql`SELECT priority FROM gue_jobs`;
            assert.equal(rows[0].priority, p === 0 ? 0 : p);
          },
        );
      }),
      { numRuns: RUNS },
    );
  });

  test("runAt: any date is stored to the millisecond, or rejected naming job.runAt", async () => {
    const runAt = fc.oneof(
      fc.date({ noInvalidDate: false }),
      fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01") }),
      fc.constantFrom(
        new Date(NaN),
        new Date(8.64e15),
        new Date(-8.64e15),
        new Date("0000-01-01T00:00:00Z"),
        new Date("10000-01-01T00:00:00Z"),
      ),
      fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
    ) as fc.Arbitrary<unknown>;
    await fc.assert(
      fc.asyncProperty(runAt, async (at) => {
        await storedExactlyOrRejected(
          "job.runAt",
          () => t.client.enqueue({ type: "T", runAt: at as Date }),
          async () => {
            const rows = await t.sql`SELECT run_at FROM gue_jobs`;
            assert.equal(rows.length, 1);
            assert.equal(
              (rows[0].run_at as Date).getTime(),
              (at as Date).getTime(),
              `run_at ${(at as Date).toISOString()} stored as ${rows[0].run_at}`,
            );
          },
        );
      }),
      { numRuns: RUNS },
    );
  });

  test("args: stored as their JSON text (bytes as they are), or rejected naming job.args", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const args = fc.oneof(
      fc.jsonValue(),
      fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true }),
      fc.uint8Array({ maxLength: 256 }),
      fc.constantFrom<unknown>(cyclic, () => 1, Symbol("s"), 1n, undefined, { toJSON: () => 1n }),
      fc.integer({ min: 1, max: 3 }).map((mb) => ({ blob: "y".repeat(mb * 1024 * 1024) })),
    ) as fc.Arbitrary<unknown>;
    await fc.assert(
      fc.asyncProperty(args, async (a) => {
        await storedExactlyOrRejected(
          "job.args",
          () => t.client.enqueue({ type: "T", args: a }),
          async () => {
            const rows = await t.sql`SELECT args FROM gue_jobs`;
            assert.equal(rows.length, 1);
            const stored = new Uint8Array(rows[0].args);
            const expected = a instanceof Uint8Array
              ? a
              : a === undefined
              ? new Uint8Array(0)
              : new TextEncoder().encode(JSON.stringify(a));
            assert.deepEqual(stored, new Uint8Array(expected));
          },
        );
      }),
      { numRuns: 25 },
    );
  });

  test("args in a batch and with a unique key (the JSON-bound INSERTs): stored byte for byte", async () => {
    // Two jobs make enqueueBatch bind its JSON array; a unique key takes our own INSERT. Both
    // send ASCII args as text and any other bytes (NUL, non-ASCII, invalid UTF-8) in base64.
    const args = fc.oneof(
      fc.jsonValue(),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ min: 1, max: 0x7f, maxLength: 300 }),
      fc.constant(new Uint8Array(5000).fill(0x41)),
    ) as fc.Arbitrary<unknown>;
    await fc.assert(
      fc.asyncProperty(args, fc.boolean(), async (a, unique) => {
        const expected = a instanceof Uint8Array ? a : new TextEncoder().encode(JSON.stringify(a));
        if (unique) await t.client.enqueue({ type: "T", args: a, uniqueKey: "k" });
        else await t.client.enqueueBatch([{ type: "T", args: a }, { type: "T", args: a }]);
        try {
          const rows = await t.sql`SELECT args FROM gue_jobs`;
          assert.equal(rows.length, unique ? 1 : 2);
          for (const row of rows) assert.deepEqual(new Uint8Array(row.args), expected);
        } finally {
          await clear();
        }
      }),
      { numRuns: RUNS },
    );
  });

  test("enqueueWithId: a malformed id is rejected naming id, and nothing is written", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileString, notAString), async (id) => {
        await storedExactlyOrRejected(
          "id",
          () => t.client.enqueueWithId({ type: "T" }, id as string),
          async () => {
            const rows = await t.sql`SELECT job_id FROM gue_jobs`;
            assert.equal(rows.length, 1);
          },
        );
      }),
      { numRuns: RUNS },
    );
  });
});

describe("enqueueBatch() with one bad job", () => {
  test("any batch size, one bad job anywhere: an error naming jobs[i], nothing written", async () => {
    const bad = fc.constantFrom<Record<string, unknown>>(
      { type: "" },
      { type: "T", priority: 40_000 },
      { type: "T", runAt: new Date(NaN) },
      { type: "T", queue: "a\0b" },
      { type: "T", args: 1n },
      { type: 7 },
    );
    const batch = fc.integer({ min: 1, max: 3 * JOB_INSERT_MAX_ROWS }).chain((size) =>
      fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 }), bad)
    );
    await fc.assert(
      fc.asyncProperty(batch, async ([size, at, badJob]) => {
        const jobs = Array.from({ length: size }, (_, i) => (i === at ? badJob : { type: "T" }));
        await assert.rejects(
          t.client.enqueueBatch(jobs as { type: string }[]),
          (err) => {
            assertInputError(err, `jobs[${at}]`);
            return true;
          },
        );
        assert.equal(await rowCount(), 0);
      }),
      { numRuns: 20 },
    );
  });

  test("a batch larger than one statement's parameter limit is stored whole", async () => {
    const size = 2 * JOB_INSERT_MAX_ROWS + 17;
    try {
      const jobs = await t.client.enqueueBatch(
        Array.from({ length: size }, (_, i) => ({ type: "T", args: { i } })),
      );
      assert.equal(jobs.length, size);
      assert.equal(await rowCount(), size);
    } finally {
      await clear();
    }
  });
});
