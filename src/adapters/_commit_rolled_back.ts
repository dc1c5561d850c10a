/**
 * PostgreSQL answers COMMIT of a failed transaction with the command tag ROLLBACK and no error.
 * Drivers that pass that through (pg, Bun.SQL) would let a lost commit look like a success, so
 * their adapters throw this instead, as the conformance suite requires of every adapter.
 *
 * @module
 */

/** The error for a COMMIT that the server turned into a ROLLBACK (SQLSTATE 25P02 in `code`). */
export function commitRolledBack(): Error {
  return Object.assign(
    new Error("COMMIT rolled back: an earlier statement in the transaction failed"),
    { code: "25P02" },
  );
}
