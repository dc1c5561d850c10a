/**
 * The markdown tables printed at the end of a run, one per scenario, all drawn from one
 * {@linkcode BenchResults}. Throughput cells read `median (min–max)` over the repetitions; ratios
 * divide medians.
 *
 * @module
 */
import { STRATEGY_LABEL } from "./cycle_sql.ts";
import type { BenchResults, LatencyCell, LockCell, PeerResult } from "./results.ts";
import { wakeupCostTables } from "./scenarios/wakeup_cost.ts";
import type { Summary } from "./stats.ts";

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** `1,708 (1,650–1,780)`, or `—` when the figure was not measured. */
function rate(s: Summary | undefined): string {
  if (!s) return "—";
  return `${int.format(s.median)} (${int.format(s.min)}–${int.format(s.max)})`;
}

/** Latency in ms, `27.6 (26.6–28.0)`. */
function ms(s: Summary): string {
  const f = (n: number) => n >= 100 ? int.format(n) : n.toFixed(1);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

/** `0.62`, or `—`. */
function ratio(a: Summary | undefined, b: Summary | undefined): string {
  if (!a || !b || b.median === 0) return "—";
  return (a.median / b.median).toFixed(2);
}

function table(head: string[], rows: string[][], align?: ("l" | "r")[]): string {
  const sep = head.map((_, i) => (align?.[i] ?? (i === 0 ? "l" : "r")) === "r" ? "---:" : "---");
  return [head, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

function find<T extends { jobsPerSec: Summary }>(
  cells: T[],
  match: Partial<T>,
): Summary | undefined {
  return cells.find((c) =>
    Object.entries(match).every(([k, v]) => (c as Record<string, unknown>)[k] === v)
  )?.jobsPerSec;
}

function backlogs(r: BenchResults): number[] {
  return [...new Set(r.lock.map((c) => c.backlog))].sort((a, b) => a - b);
}

function workers(cells: { workers: number }[]): number[] {
  return [...new Set(cells.map((c) => c.workers))].sort((a, b) => a - b);
}

function modeNote(cells: LockCell[], backlog: number): string {
  return cells.find((c) => c.backlog === backlog)?.mode === "drain" ? "drained" : "sampled";
}

/** Scenario 1: the library's pool, both strategies, every backlog and W. */
export function lockTable(r: BenchResults): string {
  const rows: string[][] = [];
  const gue = r.lock.filter((c) => c.system === "gue-v5");
  for (const backlog of backlogs(r)) {
    for (const w of workers(r.lock.filter((c) => c.backlog === backlog && c.system === "ours"))) {
      rows.push([
        `${int.format(backlog)} (${modeNote(r.lock, backlog)})`,
        String(w),
        rate(find(r.lock, { system: "ours", strategy: "OrderByPriority", backlog, workers: w })),
        rate(
          find(r.lock, { system: "ours", strategy: "OrderByRunAtPriority", backlog, workers: w }),
        ),
        gue.length ? rate(find(gue, { backlog, workers: w })) : "—",
      ]);
    }
  }
  return table(
    [
      "backlog",
      "W",
      "ours, OrderByPriority",
      "ours, OrderByRunAtPriority",
      "gue v5 SQL as shipped",
    ],
    rows,
  );
}

/**
 * Scenario 2: ours against each limit, per strategy. "awaited" is the cycle with every statement
 * awaited (4 round trips a job), "pipelined" the same statements sent in pairs (2 round trips a
 * job, the best the driver can do); pgbench runs the awaited cycle from C.
 */
export function limitTable(r: BenchResults): string {
  const rows: string[][] = [];
  const strategies = [
    ...new Set(r.lock.filter((c) => c.system === "limit").map((c) => c.strategy)),
  ];
  for (const backlog of backlogs(r)) {
    for (const w of workers(r.lock.filter((c) => c.backlog === backlog && c.system === "limit"))) {
      for (const strategy of strategies) {
        const get = (system: string, s = strategy) =>
          find(r.lock, { system, strategy: s, backlog, workers: w } as Partial<LockCell>);
        const ours = get("ours");
        const pgbench = strategy === "OrderByPriority" ? get("pgbench") : undefined;
        rows.push([
          int.format(backlog),
          String(w),
          STRATEGY_LABEL[strategy],
          rate(ours),
          rate(get("limit")),
          ratio(ours, get("limit")),
          rate(get("limit-pipelined")),
          ratio(ours, get("limit-pipelined")),
          rate(pgbench),
          ratio(ours, pgbench),
        ]);
      }
    }
  }
  return table(
    [
      "backlog",
      "W",
      "strategy",
      "ours",
      "limit, awaited (4 RT)",
      "ours / awaited",
      "limit, pipelined (2 RT)",
      "ours / pipelined",
      "pgbench (4 RT, C)",
      "ours / pgbench",
    ],
    rows,
  );
}

/** Round trips and statements per job, and per empty poll, for ours and both limits. */
export function roundTripTable(r: BenchResults): string {
  const label: Record<string, string> = {
    ours: "ours (Worker.workOne)",
    "ours-run": "ours (Worker.run, draining)",
    limit: "limit, awaited",
    "limit-pipelined": "limit, pipelined",
  };
  return table(
    ["system", "jobs", "round trips / job", "statements / job", "round trips / empty poll"],
    r.roundTrips.map((c) => [
      label[c.system] ?? c.system,
      int.format(c.jobs),
      c.roundTripsPerJob.toFixed(2),
      c.statementsPerJob.toFixed(2),
      c.roundTripsPerEmptyPoll.toFixed(2),
    ]),
  );
}

/** RSS and heap of a pool draining a large backlog. */
export function memoryTable(r: BenchResults): string {
  const mib = (n: number) => n.toFixed(1);
  return table(
    [
      "W",
      "jobs",
      "RSS start MiB",
      "RSS end MiB",
      "RSS max MiB",
      "heap start MiB",
      "heap end MiB",
      "jobs/s",
    ],
    r.memory.map((c) => [
      String(c.workers),
      int.format(c.jobs),
      mib(c.rssStartMiB),
      mib(c.rssEndMiB),
      mib(c.rssMaxMiB),
      mib(c.heapStartMiB),
      mib(c.heapEndMiB),
      int.format(c.jobsPerSec),
    ]),
  );
}

/** The batched drain: ours (one job a transaction, and the batch mode) against the peers batched. */
export function batchTable(r: BenchResults): string {
  const peers = r.peers.filter((p) => peerOk(p) && p.batch?.length);
  const ws = workers([...r.batch, ...peers.flatMap((p) => p.batch ?? [])]);
  const rows = ws.map((w) => {
    const ours = find(r.batch, { system: "ours", workers: w });
    const oursBatch = find(r.batch, { system: "ours-batch", workers: w });
    const theirs = peers.map((p) => find(p.batch ?? [], { workers: w }));
    const best = theirs.reduce<Summary | undefined>(
      (b, t) => (t && (!b || t.median > b.median) ? t : b),
      undefined,
    );
    return [
      String(w),
      rate(ours),
      rate(oursBatch),
      ...theirs.map((t) => rate(t)),
      ratio(oursBatch ?? ours, best),
    ];
  });
  const backlog = r.batch[0]?.backlog ?? peers[0]?.batch?.[0]?.backlog;
  return (backlog ? `Backlog ${int.format(backlog)}, K = ${r.parameters.batchFetch}.\n\n` : "") +
    table(
      [
        "W",
        "ours, one job a transaction",
        "ours, batch mode",
        ...peers.map((p) => `${p.peer}, batched`),
        "ours (batch mode, else one a tx) / best peer",
      ],
      rows,
    );
}

function callName(kind: string, batchSize: number, single = "enqueue", batch = "enqueueBatch") {
  return kind === "single" ? single : `${batch}(${int.format(batchSize)})`;
}

/** Scenario 3: enqueue and enqueueBatch against the raw INSERT. */
export function enqueueTable(r: BenchResults): string {
  const keys = [...new Set(r.enqueue.map((c) => `${c.batchSize}/${c.producers}`))];
  const rows = keys.map((key) => {
    const [batchSize, producers] = key.split("/").map(Number);
    const ours = find(r.enqueue, { system: "ours", batchSize, producers });
    const limit = find(r.enqueue, { system: "limit", batchSize, producers });
    return [
      callName(batchSize === 1 ? "single" : "batch", batchSize),
      String(producers),
      rate(ours),
      rate(limit),
      ratio(ours, limit),
    ];
  });
  return table(["call", "producers", "ours", "raw INSERT limit", "ours / limit"], rows);
}

/** Scenario 4: enqueue → handler start. */
export function latencyTable(cells: LatencyCell[], label = "ours"): string {
  return table(
    ["system", "setting", "jobs/rep", "p50 ms", "p95 ms", "p99 ms"],
    cells.map((c) => [label, c.setting, String(c.jobsPerRep), ms(c.p50), ms(c.p95), ms(c.p99)]),
  );
}

const peerOk = (p: PeerResult) => !p.error;

/** Scenario 5a: drain throughput of ours (default strategy) and each peer. */
export function peerThroughputTable(r: BenchResults): string {
  const peers = r.peers.filter(peerOk);
  const rows: string[][] = [];
  for (const backlog of backlogs(r)) {
    for (const w of workers(r.lock.filter((c) => c.backlog === backlog && c.system === "ours"))) {
      const ours = find(r.lock, {
        system: "ours",
        strategy: "OrderByPriority",
        backlog,
        workers: w,
      });
      const row = [int.format(backlog), String(w), rate(ours)];
      for (const p of peers) {
        const theirs = find(p.throughput, { backlog, workers: w });
        row.push(rate(theirs), ratio(ours, theirs));
      }
      rows.push(row);
    }
  }
  return table(
    ["backlog", "W", "ours (priority)", ...peers.flatMap((p) => [p.peer, `ours / ${p.peer}`])],
    rows,
  );
}

/** Scenario 5b: enqueue throughput of ours and each peer. */
export function peerEnqueueTable(r: BenchResults): string {
  const peers = r.peers.filter(peerOk);
  const keys = [...new Set(r.enqueue.map((c) => `${c.batchSize}/${c.producers}`))];
  const rows = keys.map((key) => {
    const [batchSize, producers] = key.split("/").map(Number);
    const ours = find(r.enqueue, { system: "ours", batchSize, producers });
    const row = [
      callName(batchSize === 1 ? "single" : "batch", batchSize),
      String(producers),
      rate(ours),
    ];
    for (const p of peers) {
      const theirs = find(p.enqueue, { batchSize, producers });
      row.push(rate(theirs), ratio(ours, theirs));
    }
    return row;
  });
  return table(
    ["call", "producers", "ours", ...peers.flatMap((p) => [p.peer, `ours / ${p.peer}`])],
    rows,
  );
}

/** Scenario 5c: latency of ours (every setting) and of each peer. */
export function peerLatencyTable(r: BenchResults): string {
  const parts = [latencyTable(r.latency, "ours")];
  for (const p of r.peers.filter(peerOk)) {
    parts.push(latencyTable(p.latency, p.peer).split("\n").slice(2).join("\n"));
  }
  return parts.filter((s) => s).join("\n");
}

/** Whether the server was quiet apart from the bench: figures from a busy server are suspect. */
function activityNote(r: BenchResults): string {
  const a = r.otherActivity;
  if (a.samples === 0) return "Other activity on the server: not sampled.";
  if (a.busySamples === 0) {
    return `Other activity on the server: none seen (${a.samples} samples, one a second).`;
  }
  return `**Other activity on the server**: in ${a.busySamples} of ${a.samples} one-second samples, ` +
    `up to ${a.maxActive} active sessions outside the bench (databases: ${
      a.databases.join(", ")
    }). ` +
    "Figures measured meanwhile may be low; compare with a run on a quiet server.";
}

/** A header naming the machine, the server and the runtimes the figures belong to. */
export function header(r: BenchResults): string {
  const gib = (r.machine.memoryBytes / 2 ** 30).toFixed(1);
  const pg = r.postgres.version.split(" ").slice(0, 2).join(" ");
  const s = r.postgres.settings;
  const peers = r.peers.map((p) => `${p.peer} ${p.version ?? "?"}${p.error ? " (failed)" : ""}`);
  return [
    `# gue bench, ${r.startedAt}`,
    "",
    `${r.machine.cores} cores (${r.machine.cpuModel}), ${gib} GiB, ${r.machine.os} ${r.machine.osRelease}; ` +
    `${pg} (shared_buffers ${s.shared_buffers}, synchronous_commit ${s.synchronous_commit}, ` +
    `fsync ${s.fsync}, max_connections ${s.max_connections}); ` +
    `deno ${r.runtimes.deno}, postgres.js ${r.runtimes.postgresjs}` +
    (r.runtimes.node ? `, node ${r.runtimes.node}` : "") +
    (peers.length ? `; ${peers.join(", ")}` : "") + ".",
    "",
    `Throughput in jobs/s and latency in ms: median (min–max) of ${r.parameters.reps} repetitions. ` +
    `Run took ${Math.round(r.wallSeconds)} s.`,
    "",
    activityNote(r),
  ].join("\n");
}

/**
 * Everything printed on stdout: the header, then one titled table per scenario that ran.
 *
 * @param r The results of the run.
 */
export function renderReport(r: BenchResults): string {
  const out = [header(r)];
  const section = (title: string, body: string) => out.push(`\n## ${title}\n\n${body}`);
  if (r.lock.length) {
    section("1. Lock throughput under contention (jobs/s)", lockTable(r));
    section("2. The limits: the same SQL cycle without the library (jobs/s)", limitTable(r));
  }
  if (r.roundTrips.length) section("Round trips per job (one worker)", roundTripTable(r));
  if (r.enqueue.length) section("3. Enqueue (jobs/s)", enqueueTable(r));
  if (r.latency.length) {
    section("4. Latency, enqueue → handler start, idle workers", latencyTable(r.latency));
  }
  if (r.wakeupCost) section("4b. What wake-up costs", wakeupCostTables(r.wakeupCost));
  if (r.memory.length) section("Memory: a pool draining a large backlog", memoryTable(r));
  if (r.batch.length || r.peers.some((p) => p.batch?.length)) {
    section("Batched drain (jobs/s)", batchTable(r));
  }
  if (r.peers.length) {
    const failed = r.peers.filter((p) => p.error).map((p) => `${p.peer} failed: ${p.error}`);
    section(
      "5. Peers, side by side",
      [
        "### Drain throughput (jobs/s)",
        "",
        peerThroughputTable(r),
        "",
        "### Enqueue (jobs/s)",
        "",
        peerEnqueueTable(r),
        "",
        "### Latency, enqueue → handler start",
        "",
        peerLatencyTable(r),
        ...(failed.length ? ["", ...failed] : []),
      ].join("\n"),
    );
  }
  return out.join("\n") + "\n";
}
