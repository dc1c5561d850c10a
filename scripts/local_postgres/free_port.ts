/**
 * Choosing a port for the throwaway server.
 *
 * A fixed port would collide with a PostgreSQL already on the machine, or with a second test run
 * started at the same time; the kernel knows which ports are free, so it picks.
 *
 * @module
 */

import { createServer } from "node:net";

/**
 * Binds port 0 on 127.0.0.1 to let the kernel pick a free port, then releases it for the server.
 *
 * The port is only reserved while it is probed, so another process may take it before the server
 * binds it: callers retry with a new port when the server reports "could not bind".
 *
 * @returns A port that was free a moment ago.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not pick a free port"))));
    });
  });
}
