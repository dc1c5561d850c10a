import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  backoffNever,
  constantBackoff,
  defaultExponentialBackoff,
  exponentialBackoff,
} from "../mod.ts";

describe("defaultExponentialBackoff", () => {
  test("follows gue: 1 s × 1.6 per retry, ±20 % jitter, capped at 1 h", () => {
    const bases: [number, number][] = [[1, 1600], [2, 2560], [3, 4096], [5, 10_486], [
      17,
      2_951_479,
    ]];
    for (const [retries, base] of bases) {
      for (let i = 0; i < 200; i++) {
        const d = defaultExponentialBackoff(retries);
        assert.ok(
          d >= base * 0.8 - 1 && d <= base * 1.2 + 1,
          `retries ${retries}: ${d} near ${base}`,
        );
      }
    }
    for (const retries of [18, 30, 1000]) {
      const d = defaultExponentialBackoff(retries);
      assert.ok(d >= 2_880_000 && d <= 4_320_000, `capped at 1 h ±20 %, got ${d}`);
    }
  });

  test("jitter spreads the delays", () => {
    const seen = new Set(Array.from({ length: 50 }, () => defaultExponentialBackoff(1)));
    assert.ok(seen.size > 10);
  });

  test("retries 0 gives the base delay exactly", () => {
    assert.equal(defaultExponentialBackoff(0), 1000);
  });
});

describe("exponentialBackoff()", () => {
  test("uses the given settings; no jitter gives exact values", () => {
    const b = exponentialBackoff({ baseDelay: 100, multiplier: 2, jitter: 0, maxDelay: 1000 });
    assert.deepEqual([1, 2, 3, 4, 5].map(b), [200, 400, 800, 1000, 1000]);
  });

  test("rejects settings that make no sense, naming them", () => {
    assert.throws(
      () => exponentialBackoff({ multiplier: 0.5 }),
      /multiplier must be a finite number >= 1/,
    );
    assert.throws(() => exponentialBackoff({ baseDelay: -1 }), /baseDelay/);
    assert.throws(() => exponentialBackoff({ jitter: NaN }), /jitter/);
  });
});

describe("constantBackoff() and backoffNever", () => {
  test("constant returns its delay; negative discards", () => {
    assert.equal(constantBackoff(250)(9), 250);
    assert.equal(constantBackoff(-1)(1), -1);
    assert.throws(() => constantBackoff(NaN), /ms must be a number/);
  });

  test("backoffNever is negative (discard on the first error)", () => {
    assert.ok(backoffNever(1) < 0);
  });
});
