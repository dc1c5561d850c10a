/**
 * `deno_postgres_limits.ts`: measures the two deno-postgres 0.19 problems the `denoPostgres`
 * adapter cannot fix, for the README's driver section.
 *
 * 1. Latency of a parameterised statement over TCP and over a Unix socket: the driver writes
 *    Parse, Bind, Describe, Execute and Sync separately and never sets TCP_NODELAY, so over TCP
 *    each statement waits for Nagle's algorithm and the server's delayed ACK.
 * 2. A failed connect loses its pool slot for good: a pool of `size` connections opened while the
 *    server refuses them has no slot left after `size` failures, and the next `connect()` waits
 *    forever.
 *
 * ```sh
 * MAP=$(deno run -A scripts/vendored_import_map.ts)   # where JSR is unreachable
 * deno run -A --import-map "$MAP" scripts/deno_postgres_limits.ts \
 *   postgres://postgres@127.0.0.1:5432/postgres /var/run/postgresql
 * ```
 *
 * @module
 */

// Kept in a variable so `deno check` does not resolve it ahead of time: JSR may be unreachable.
const driver = "jsr:@db/postgres@^0.19";
const { Pool } = await import(driver);

const url = Deno.args[0] ?? Deno.env.get("DATABASE_URL") ??
  "postgres://postgres@127.0.0.1/postgres";
const socketDir = Deno.args[1] ?? "/var/run/postgresql";
const STATEMENTS = 200;

/** Milliseconds per statement for `STATEMENTS` parameterised SELECTs on one connection. */
async function perStatement(options: unknown): Promise<number> {
  const pool = new Pool(options, 1, true);
  const client = await pool.connect();
  try {
    await client.queryObject({ text: "SELECT $1::int AS i", args: [0] }); // warm up
    const start = performance.now();
    for (let i = 0; i < STATEMENTS; i++) {
      await client.queryObject({ text: "SELECT $1::int AS i", args: [i] });
    }
    return (performance.now() - start) / STATEMENTS;
  } finally {
    client.release();
    await pool.end();
  }
}

const u = new URL(url);
const common = {
  user: decodeURIComponent(u.username),
  database: u.pathname.slice(1) || "postgres",
};
const tcp = await perStatement({
  ...common,
  hostname: u.hostname,
  port: Number(u.port || 5432),
  host_type: "tcp",
  tls: { enabled: false },
});
const socket = await perStatement({
  ...common,
  hostname: socketDir,
  port: Number(u.port || 5432),
  host_type: "socket",
});
console.log(`${STATEMENTS} parameterised SELECTs on one connection:`);
console.log(`  TCP ${u.host}: ${tcp.toFixed(2)} ms per statement`);
console.log(`  Unix socket ${socketDir}: ${socket.toFixed(2)} ms per statement`);

// A port nobody listens on: every connect fails at once.
const size = 2;
const refusing = new Pool(
  { ...common, hostname: "127.0.0.1", port: 1, host_type: "tcp", tls: { enabled: false } },
  size,
  true,
);
for (let i = 0; i < size; i++) {
  await refusing.connect().then(
    () => console.log(`  connect ${i + 1}: succeeded?`),
    () => {},
  );
}
const next = await Promise.race([
  refusing.connect().then(() => "connected", (e: Error) => `rejected: ${e.message}`),
  new Promise<string>((r) => setTimeout(() => r("still waiting after 2 s"), 2000)),
]);
console.log(`pool of ${size} after ${size} failed connects: connect() ${next}`);
Deno.exit(0);
