/**
 * LISTEN for the PGlite adapter. PGlite runs in this process: there is no connection to lose.
 *
 * @module
 */
import type { ListenConnection } from "../adapter.ts";

/** What of a PGlite database LISTEN uses. */
export interface PgliteListenDb {
  /** PGlite's `listen`: resolves to the function that unsubscribes. */
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

/**
 * Runs LISTEN on a PGlite database.
 *
 * @param db The database.
 * @param channel The channel.
 * @param onNotify Gets each payload on `channel`.
 * @returns The subscription, to close.
 */
export async function listenPglite(
  db: PgliteListenDb,
  channel: string,
  onNotify: (payload: string) => void,
): Promise<ListenConnection> {
  let closed = false;
  const unsubscribe = await db.listen(channel, (payload) => {
    if (!closed) onNotify(payload);
  });
  return {
    async close() {
      if (closed) return;
      closed = true;
      await unsubscribe().catch(() => {});
    },
  };
}
