import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  defineJob,
  InvalidJobArgsError,
  type StandardSchemaResult,
  type StandardSchemaV1,
  Worker,
} from "../mod.ts";
import { useTestDatabase } from "./_db.ts";

const t = useTestDatabase();
const quiet = { debug() {}, info() {}, error() {} };

beforeEach(async () => {
  await t.sql`TRUNCATE gue_failed_jobs`;
});

interface Email {
  to: string;
  subject: string;
}

/** A Standard Schema written by hand, as zod or valibot provide one. */
function emailSchema(async = false): StandardSchemaV1<Email, Email> {
  const validate = (value: unknown): StandardSchemaResult<Email> => {
    const v = value as Partial<Email> | null;
    const issues = [];
    if (typeof v?.to !== "string" || !v.to.includes("@")) {
      issues.push({ message: "must be an email address", path: ["to"] });
    }
    if (typeof v?.subject !== "string") {
      issues.push({ message: "required", path: [{ key: "subject" }] });
    }
    return issues.length ? { issues } : { value: { to: v!.to!, subject: v!.subject! } };
  };
  return {
    "~standard": {
      version: 1,
      vendor: "test",
      validate: async ? (value) => Promise.resolve(validate(value)) : validate,
    },
  };
}

describe("defineJob()", () => {
  test("enqueue and handler share the args type; the handler gets validated args", async () => {
    const SendEmail = defineJob("SendEmail", { queue: "typed", schema: emailSchema() });
    const job = await t.client.enqueue(SendEmail.job({ to: "a@b.c", subject: "Hi" }));
    assert.equal(job.type, "SendEmail");
    assert.equal(job.queue, "typed");
    const seen: Email[] = [];
    const worker = new Worker(t.client, {
      ...SendEmail.handle((args) => void seen.push(args)),
    }, { queue: "typed", logger: quiet });
    assert.equal(await worker.workOne(), true);
    assert.deepEqual(seen, [{ to: "a@b.c", subject: "Hi" }]);
    // @ts-expect-error: the args type is checked at compile time
    assert.throws(() => SendEmail.job({ to: 1 }), InvalidJobArgsError);
  });

  test("bad args are refused at the producer when the validator is synchronous", () => {
    const SendEmail = defineJob("SendEmail", { schema: emailSchema() });
    assert.throws(
      () => SendEmail.job({ to: "nobody", subject: "x" }),
      (err: InvalidJobArgsError) =>
        err instanceof InvalidJobArgsError && err.reason === "invalid" &&
        err.message === 'invalid args for job type "SendEmail": to: must be an email address',
    );
  });

  test("a job whose args fail validation is dead-lettered with the message, not retried", async () => {
    const SendEmail = defineJob("SendEmail", { queue: "typed2", schema: emailSchema(true) });
    // Written by another producer (or an older version) with the wrong shape.
    const bad = await t.client.enqueue({ type: "SendEmail", queue: "typed2", args: { to: "x" } });
    const notJson = await t.client.enqueue({
      type: "SendEmail",
      queue: "typed2",
      args: new Uint8Array([0xff]),
    });
    let calls = 0;
    const worker = new Worker(t.client, { ...SendEmail.handle(() => void calls++) }, {
      queue: "typed2",
      logger: quiet,
    });
    assert.equal(await worker.workOne(), true);
    assert.equal(await worker.workOne(), true);
    assert.equal(calls, 0);
    const failed = await t.client.getJob(bad.id);
    assert.equal(failed?.failReason, "invalid");
    assert.match(failed?.lastError ?? "", /to: must be an email address; subject: required/);
    assert.equal((await t.client.getJob(notJson.id))?.failReason, "invalid");
  });

  test("without a schema the args are typed but trusted; defaults and options combine", () => {
    const Resize = defineJob<{ width: number }>("Resize", { priority: 5, maxAttempts: 3 });
    const input = Resize.job({ width: 200 }, { uniqueKey: "img-1", priority: 1 });
    assert.deepEqual(input, {
      priority: 1,
      maxAttempts: 3,
      uniqueKey: "img-1",
      type: "Resize",
      args: { width: 200 },
    });
    assert.throws(() => defineJob(""), /type must be a non-empty string/);
    // @ts-expect-error: not a Standard Schema
    assert.throws(() => defineJob("X", { schema: {} }), /schema must be a Standard Schema/);
  });
});
