import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DatabaseError, discardJob, rescheduleJobAt, rescheduleJobIn } from "../mod.ts";
import { errorText, findOutcome, goDuration } from "../src/errors.ts";

describe("job outcomes", () => {
  test("texts match gue's", () => {
    assert.equal(
      rescheduleJobIn(10_000, "reschedule me for later time").message,
      'rescheduling job in "10s" because "reschedule me for later time"',
    );
    assert.equal(discardJob("bad").message, 'discarding job because "bad"');
    assert.equal(
      rescheduleJobAt(new Date("2025-01-01T12:00:00Z"), "r").message,
      'rescheduling job at "2025-01-01 12:00:00 +0000 UTC" because "r"',
    );
  });

  test("durations are formatted like Go's time.Duration", () => {
    const cases: [number, string][] = [
      [0, "0s"],
      [500, "500ms"],
      [1500, "1.5s"],
      [90_000, "1m30s"],
      [3_600_000, "1h0m0s"],
      [-2000, "-2s"],
      [5_445_000, "1h30m45s"],
    ];
    for (const [ms, text] of cases) assert.equal(goDuration(ms), text);
  });

  test("are found through cause chains, and not in ordinary errors", () => {
    const d = discardJob("x");
    assert.equal(findOutcome(new Error("a", { cause: new Error("b", { cause: d }) })), d);
    assert.equal(findOutcome(new Error("plain")), undefined);
    assert.equal(findOutcome("string"), undefined);
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    assert.equal(findOutcome(loop), undefined, "a cyclic cause chain ends");
  });

  test("bad arguments are refused", () => {
    assert.throws(() => rescheduleJobAt(new Date("x"), "r"), /at must be a valid Date/);
    assert.throws(() => rescheduleJobIn(Infinity, "r"), /ms must be a finite number/);
  });
});

describe("errorText()", () => {
  test("keeps the message and the stack frames, once", () => {
    const text = errorText(new Error("boom"));
    assert.ok(text.startsWith("boom\n"));
    assert.equal(text.split("boom").length, 2, "the message is not repeated");
  });

  test("describes non-Error values", () => {
    assert.equal(errorText("s"), "s");
    assert.equal(errorText(undefined), "non-Error thrown: undefined");
    assert.equal(errorText({ a: 1 }), 'non-Error thrown: {"a":1}');
  });
});

describe("DatabaseError", () => {
  const server = {
    severity: "ERROR",
    code: "23503",
    detail: 'Key (parent_id)=(42) is not present in table "parent".',
    hint: "a hint",
    position: "12",
    internalPosition: "3",
    internalQuery: "select 1",
    where: "PL/pgSQL function f() line 3",
    schema: "public",
    table: "child",
    column: "parent_id",
    dataType: "integer",
    constraint: "child_parent_fk",
    file: "ri_triggers.c",
    line: "2600",
    routine: "ri_ReportViolation",
  };

  test("keeps every server field of pg's and PGlite's errors, and the error as cause", () => {
    const cause = Object.assign(new Error("insert or update violates a foreign key"), server);
    const err = new DatabaseError("job.done", cause);
    assert.equal(err.message, "job.done: insert or update violates a foreign key");
    assert.equal(err.cause, cause);
    assert.equal(err.name, "DatabaseError");
    for (const [key, value] of Object.entries(server)) {
      assert.equal((err as unknown as Record<string, unknown>)[key], value, key);
    }
  });

  test("reads postgres.js' names (schema_name, data type_name, …)", () => {
    const cause = Object.assign(new Error("violates"), {
      severity: "ERROR",
      severity_local: "FEHLER",
      code: "23503",
      detail: server.detail,
      internal_position: "3",
      internal_query: "select 1",
      schema_name: "public",
      table_name: "child",
      column_name: "parent_id",
      "data type_name": "integer",
      constraint_name: "child_parent_fk",
    });
    const err = new DatabaseError("enqueue", cause);
    assert.deepEqual(
      [err.severity, err.code, err.internalPosition, err.internalQuery, err.schema, err.table],
      ["ERROR", "23503", "3", "select 1", "public", "child"],
    );
    assert.deepEqual([err.column, err.dataType, err.constraint], [
      "parent_id",
      "integer",
      "child_parent_fk",
    ]);
  });

  test("reads deno-postgres' fields object", () => {
    const cause = Object.assign(new Error("violates"), { fields: { ...server } });
    const err = new DatabaseError("lockJob", cause);
    for (const [key, value] of Object.entries(server)) {
      assert.equal((err as unknown as Record<string, unknown>)[key], value, key);
    }
  });

  test("says to migrate when gue_jobs is missing; wraps non-Errors", () => {
    const missing = Object.assign(new Error('relation "gue_jobs" does not exist'), {
      code: "42P01",
    });
    assert.match(new DatabaseError("lockJob", missing).message, /call client\.migrate\(\)/);
    const odd = new DatabaseError("enqueue", "socket closed");
    assert.equal(odd.message, "enqueue: socket closed");
    assert.equal(odd.code, undefined);
  });
});
