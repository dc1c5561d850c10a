/**
 * LISTEN for the Bun.SQL adapter, through `sql.listen()`. Bun keeps the listening connection
 * alive by itself: after the connection dies it reconnects and listens again, without telling
 * anyone, so gue's listener never sees it end. Notifications sent while it reconnects are lost;
 * the workers' polls find those jobs.
 *
 * @module
 */
import type { ListenConnection } from "../adapter.ts";

/** What of a Bun.SQL pool LISTEN uses. */
export interface BunSqlListenPool {
  /** Bun.SQL's `listen`: resolves once LISTEN is in effect. */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
  ): PromiseLike<{ unlisten(): PromiseLike<unknown> }>;
}

/**
 * Runs LISTEN through Bun.SQL.
 *
 * @param sql The application's pool.
 * @param channel The channel.
 * @param onNotify Gets each payload on `channel`.
 * @returns The subscription, to close.
 */
export async function listenBunSql(
  sql: BunSqlListenPool,
  channel: string,
  onNotify: (payload: string) => void,
): Promise<ListenConnection> {
  let closed = false;
  const subscription = await sql.listen(channel, (payload) => {
    if (!closed) onNotify(payload);
  });
  return {
    async close() {
      if (closed) return;
      closed = true;
      await Promise.resolve(subscription.unlisten()).catch(() => {});
    },
  };
}
