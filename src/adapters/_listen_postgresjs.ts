/**
 * LISTEN for the postgres.js adapter, on a connection of its own made with the pool's options.
 *
 * Not `sql.listen()`: it reconnects by itself but cannot report that the connection was lost, it
 * gives up for good when the first reconnect fails, and after a reconnect its `unlisten()` no
 * longer removes the callback. gue's listener reconnects and says when it is listening again.
 *
 * @module
 */
import postgres, { type Sql } from "postgres";
import type { ListenConnection } from "../adapter.ts";

/**
 * Opens a one-connection postgres.js pool with the options of `sql` and runs LISTEN on it.
 *
 * @param sql The application's pool, whose connection options are reused.
 * @param channel The channel.
 * @param onNotify Gets each payload on `channel`.
 * @param onEnd Called once when the connection is lost.
 * @returns The connection, to close.
 */
export async function listenPostgresjs(
  // deno-lint-ignore no-explicit-any
  sql: Sql<any>,
  channel: string,
  onNotify: (payload: string) => void,
  onEnd: (err: unknown) => void,
): Promise<ListenConnection> {
  let ended = false;
  const conn = postgres({
    ...sql.options,
    max: 1,
    idle_timeout: null,
    max_lifetime: null,
    fetch_types: false,
    onnotify: (ch: string, payload: string) => {
      if (ch === channel) onNotify(payload);
    },
    onclose: () => {
      if (ended) return;
      ended = true;
      conn.end({ timeout: 0 }).catch(() => {});
      onEnd(new Error("the LISTEN connection closed"));
    },
    // deno-lint-ignore no-explicit-any
  } as any);
  try {
    await conn.unsafe(`LISTEN "${channel.replaceAll('"', '""')}"`);
  } catch (err) {
    ended = true;
    await conn.end({ timeout: 0 }).catch(() => {});
    throw err;
  }
  return {
    async close() {
      if (ended) return;
      ended = true;
      await conn.end({ timeout: 1 }).catch(() => {});
    },
  };
}
