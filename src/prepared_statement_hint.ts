/**
 * Says what to change when named prepared statements fail because a connection pooler moves
 * them between server connections (PgBouncer in `pool_mode = transaction`, which keeps no
 * prepared statements unless its `max_prepared_statements` is set): every statement then fails
 * with "prepared statement … does not exist" (or "… already exists"), and nothing in that
 * message names the pooler or the fix. The hint is logged once per process, at error level.
 *
 * @module
 */
import { type Logger, safeLog } from "./logger.ts";

/** The hint's text: what is wrong and what to set. */
export const PREPARED_STATEMENT_HINT =
  "Named prepared statements are failing: the connection goes through a pooler in transaction " +
  "mode (PgBouncer pool_mode = transaction), which runs each transaction on whichever server " +
  "connection is free, where the statement was never prepared. Turn named statements off in the " +
  "driver (postgres.js: postgres(url, { prepare: false })), or use session mode, or set " +
  "PgBouncer's max_prepared_statements (1.21 and later).";

let said = false;

/**
 * Whether `err` (or an error in its `cause` chain) is a lost or duplicated prepared statement.
 *
 * @param err Any error.
 * @returns True for SQLSTATE 26000 / 42P05 about a prepared statement.
 */
export function isPreparedStatementLoss(err: unknown): boolean {
  for (let e = err, depth = 0; e !== null && typeof e === "object" && depth < 8; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (
      (code === "26000" || code === "42P05") && /prepared statement/i.test(String(message)) ||
      /prepared statement "[^"]*" (does not exist|already exists)/.test(String(message))
    ) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Logs {@linkcode PREPARED_STATEMENT_HINT} the first time `err` is a lost prepared statement.
 *
 * @param logger Where to log.
 * @param err A database error.
 */
export function hintPreparedStatements(logger: Logger, err: unknown): void {
  if (said || !isPreparedStatementLoss(err)) return;
  said = true;
  safeLog(logger, "error", PREPARED_STATEMENT_HINT, { error: err });
}
