import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { discardJob, rescheduleJobAt, rescheduleJobIn } from "../mod.ts";
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
