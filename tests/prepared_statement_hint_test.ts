import { test } from "node:test";
import assert from "node:assert/strict";
import { DatabaseError } from "../src/errors.ts";
import {
  hintPreparedStatements,
  isPreparedStatementLoss,
  PREPARED_STATEMENT_HINT,
} from "../src/prepared_statement_hint.ts";
import { useTestDatabase } from "./_db.ts";

const t = useTestDatabase();

async function serverError(text: string): Promise<unknown> {
  try {
    await t.pool.query(text);
  } catch (err) {
    return err;
  }
  throw new Error(`${text} did not fail`);
}

test("a lost prepared statement is recognised, also inside a DatabaseError's cause", async () => {
  const lost = await serverError("EXECUTE gue_no_such_statement");
  assert.ok(isPreparedStatementLoss(lost), String(lost));
  assert.ok(isPreparedStatementLoss(new DatabaseError("lockJob", lost)));
  assert.equal(isPreparedStatementLoss(await serverError("SELECT 1/0")), false);
  assert.equal(isPreparedStatementLoss(new Error("boom")), false);
  assert.equal(isPreparedStatementLoss(undefined), false);
});

test("the hint says to set prepare: false, at error level, once per process", async () => {
  const lines: { level: string; msg: string }[] = [];
  const logger = {
    debug: (msg: string) => lines.push({ level: "debug", msg }),
    info: (msg: string) => lines.push({ level: "info", msg }),
    error: (msg: string) => lines.push({ level: "error", msg }),
  };
  const lost = await serverError("EXECUTE gue_no_such_statement");
  hintPreparedStatements(logger, new Error("unrelated"));
  assert.equal(lines.length, 0, "nothing for other errors");
  hintPreparedStatements(logger, lost);
  hintPreparedStatements(logger, lost);
  assert.deepEqual(lines, [{ level: "error", msg: PREPARED_STATEMENT_HINT }]);
  assert.match(PREPARED_STATEMENT_HINT, /prepare: false/);
});
