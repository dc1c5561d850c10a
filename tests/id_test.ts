import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomStringId } from "../mod.ts";
import { MonotonicUlid, parseUlid, ulidTime } from "../src/id.ts";

describe("MonotonicUlid", () => {
  test("makes 26-character Crockford base32 ids that carry the time", () => {
    const id = new MonotonicUlid().next(1_700_000_000_000);
    assert.match(id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
    assert.equal(ulidTime(id), 1_700_000_000_000);
  });

  test("ids strictly increase within one millisecond and when the clock goes back", () => {
    const ids = new MonotonicUlid();
    const made = [
      ...Array.from({ length: 1000 }, () => ids.next(5_000)),
      ids.next(4_000), // clock went back: still after the last
      ids.next(6_000),
    ];
    for (let i = 1; i < made.length; i++) {
      assert.ok(made[i - 1] < made[i], `${made[i - 1]} < ${made[i]}`);
    }
    assert.equal(new Set(made).size, made.length);
    assert.equal(ulidTime(made[1000]), 5_000);
  });

  test("ids of separate generators in the same millisecond differ", () => {
    assert.notEqual(new MonotonicUlid().next(1), new MonotonicUlid().next(1));
  });
});

describe("parseUlid()", () => {
  test("accepts lower case and returns upper case", () => {
    assert.equal(parseUlid("01arz3ndektsv4rrffq69g5fav"), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
  });

  test("rejects wrong length, bad characters and overflow, naming the field", () => {
    for (
      const bad of [
        "",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",
        "81ARZ3NDEKTSV4RRFFQ69G5FAV",
      ]
    ) {
      assert.throws(() => parseUlid(bad, "jobId"), /jobId must be a 26-character ULID/);
    }
    assert.throws(() => parseUlid(42), /id must be a ULID string, got number/);
  });
});

test("randomStringId() gives 6 hex characters", () => {
  assert.match(randomStringId(), /^[0-9a-f]{6}$/);
});
