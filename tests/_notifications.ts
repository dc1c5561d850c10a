/**
 * Test support: counts the notifications on gue's channel with a LISTEN connection of the test's
 * own (postgres.js), independent of the adapter and of the library's listener.
 */
import postgres from "postgres";
import { NOTIFY_CHANNEL } from "../src/notify.ts";

/** What a {@linkcode NotificationCounter} has seen. */
export interface NotificationCounter {
  /** The payloads received, in order. */
  readonly payloads: string[];
  /**
   * Waits until no notification arrived for `quietMs` (they are delivered after commit, a moment
   * later), then returns the payloads.
   */
  settle(quietMs?: number): Promise<string[]>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** Starts counting the notifications on gue's channel in the database at `url`. */
export async function countNotifications(url: string): Promise<NotificationCounter> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const payloads: string[] = [];
  let last = Date.now();
  await sql.listen(NOTIFY_CHANNEL, (payload) => {
    payloads.push(payload);
    last = Date.now();
  });
  return {
    payloads,
    async settle(quietMs = 150) {
      // A round trip through the server first: anything committed before is on its way.
      await sql`SELECT 1`;
      last = Math.max(last, Date.now());
      while (Date.now() - last < quietMs) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return payloads;
    },
    close: () => sql.end({ timeout: 1 }),
  };
}
