/**
 * LISTEN for the node-postgres adapter: a `Client` of its own, made like the pool makes its
 * connections (`new pool.Client(pool.options)`), outside the pool so it never holds a pooled
 * connection.
 *
 * @module
 */
import type { ListenConnection } from "../adapter.ts";

/** A node-postgres client as LISTEN uses it. */
export interface PgListenClient {
  /** Opens the connection. */
  connect(): Promise<unknown>;
  /** Runs a statement. */
  query(text: string): Promise<unknown>;
  /** Closes the connection. */
  end(): Promise<void>;
  /** `notification` (`{ channel, payload }`), `error`, `end`. */
  on(event: string, listener: (arg: never) => void): unknown;
}

/** What of a node-postgres pool LISTEN uses: its client class and connection options. */
export interface PgListenPool {
  /** The client class the pool makes connections with. */
  // deno-lint-ignore no-explicit-any
  Client?: new (options: any) => PgListenClient;
  /** The pool's options, connection settings included. */
  options?: unknown;
}

/**
 * Opens a dedicated node-postgres client with the pool's settings and runs LISTEN on it.
 *
 * @param pool The application's pool.
 * @param channel The channel.
 * @param onNotify Gets each payload on `channel`.
 * @param onEnd Called once when the connection is lost.
 * @returns The connection, to close.
 */
export async function listenPg(
  pool: PgListenPool,
  channel: string,
  onNotify: (payload: string) => void,
  onEnd: (err: unknown) => void,
): Promise<ListenConnection> {
  if (typeof pool.Client !== "function") {
    throw new TypeError("pg: the pool has no Client class to open a LISTEN connection with");
  }
  const client = new pool.Client(pool.options);
  let ended = false;
  let lastError: unknown;
  client.on("notification", (message: { channel: string; payload?: string }) => {
    if (message.channel === channel) onNotify(message.payload ?? "");
  });
  // Without an error listener a dead connection would crash the process.
  client.on("error", (err: unknown) => {
    lastError = err;
  });
  client.on("end", () => {
    if (ended) return;
    ended = true;
    onEnd(lastError ?? new Error("the LISTEN connection closed"));
  });
  try {
    await client.connect();
    await client.query(`LISTEN "${channel.replaceAll('"', '""')}"`);
  } catch (err) {
    ended = true;
    await client.end().catch(() => {});
    throw err;
  }
  return {
    async close() {
      if (ended) return;
      ended = true;
      await client.end().catch(() => {});
    },
  };
}
