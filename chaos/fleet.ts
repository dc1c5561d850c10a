/**
 * The worker processes of one scenario: starting them, hurting them, and telling a crash (an
 * exit nobody asked for) and a hang (no exit within the stop bound after SIGTERM) apart from the
 * exits the scenario caused.
 *
 * Each child runs `chaos/worker_process.ts` on the runtime running the harness (Deno or Bun).
 * Its stderr (JSON log lines, and whatever a runtime prints on an uncaught error) goes to the
 * scenario's log file, each line prefixed with the child's pid.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import process from "node:process";
import type { WorkerProcessConfig } from "./worker_process.ts";

/** How long a worker process gets to exit after SIGTERM before it counts as hung. */
export const STOP_BOUND_MS = 15_000;

/** One worker process and what became of it. */
export interface WorkerProc {
  /** Its pid (the pid the worker writes into effect rows). */
  pid: number;
  /** When it was started (ms since the epoch). */
  startedAt: number;
  /** When it printed `ready`, if it did. */
  readyAt?: number;
  /** Set when it exited: exit code or signal. */
  exit?: { code: number | null; signal: string | null; at: number };
  /** The scenario sent it a signal (so its exit is not a crash). */
  expected?: "SIGKILL" | "SIGTERM";
  /** It printed `stopped`: its pool stopped and it exits normally. */
  stopped?: boolean;
  /** It did not exit within {@linkcode STOP_BOUND_MS} of SIGTERM. */
  hung?: boolean;
  /** The last lines it printed that were not JSON log lines (an uncaught error's report). */
  rawTail: string[];
  child: ChildProcess;
}

const WORKER_SCRIPT = fileURLToPath(new URL("./worker_process.ts", import.meta.url));

function workerCommand(config: WorkerProcessConfig): [string, string[]] {
  const json = JSON.stringify(config);
  if ("Deno" in globalThis) return [process.execPath, ["run", "-A", WORKER_SCRIPT, json]];
  return [process.execPath, [WORKER_SCRIPT, json]];
}

/**
 * Sends a signal by pid: Deno's `ChildProcess.kill()` sends nothing once it has sent a signal,
 * so a SIGKILL after an ignored SIGTERM would never arrive.
 */
function signal(proc: WorkerProc, sig: "SIGTERM" | "SIGKILL"): void {
  try {
    process.kill(proc.pid, sig);
  } catch {
    // Already gone.
  }
}

/** The worker processes of one scenario. */
export class Fleet {
  /** Every process started, in start order (replacements included). */
  readonly procs: WorkerProc[] = [];
  readonly #config: WorkerProcessConfig;
  readonly #logFile: string;

  /**
   * @param config Passed to every process.
   * @param logFile Where their stderr goes.
   */
  constructor(config: WorkerProcessConfig, logFile: string) {
    this.#config = config;
    this.#logFile = logFile;
  }

  /** Processes that are running (started and not exited). */
  live(): WorkerProc[] {
    return this.procs.filter((p) => p.exit === undefined);
  }

  /**
   * Starts one process and waits until its pool runs.
   *
   * @returns The process.
   */
  async start(): Promise<WorkerProc> {
    const [exe, args] = workerCommand(this.#config);
    const child = spawn(exe, args, { stdio: ["ignore", "pipe", "pipe"] });
    const proc: WorkerProc = { pid: child.pid!, startedAt: Date.now(), rawTail: [], child };
    this.procs.push(proc);
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      if (d.includes("stopped")) proc.stopped = true;
      if (d.includes("ready") && proc.readyAt === undefined) {
        proc.readyAt = Date.now();
        ready();
      }
    });
    let partial = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      const lines = (partial + d).split("\n");
      partial = lines.pop()!;
      appendFileSync(this.#logFile, lines.map((l) => `${proc.pid} ${l}\n`).join(""));
      for (const line of lines) {
        if (!line.startsWith("{") && line.trim() !== "") {
          proc.rawTail.push(line);
          if (proc.rawTail.length > 12) proc.rawTail.shift();
        }
      }
    });
    const exited = new Promise<void>((resolve) => {
      // "close", not "exit": stdout has been read to its end by then (for `stopped`).
      child.on("close", (code, signal) => {
        proc.exit = { code, signal, at: Date.now() };
        ready();
        resolve();
      });
    });
    await Promise.race([isReady, exited, new Promise((r) => setTimeout(r, 60_000))]);
    return proc;
  }

  /**
   * Starts `n` processes at once.
   *
   * @param n How many.
   */
  async startMany(n: number): Promise<void> {
    await Promise.all(Array.from({ length: n }, () => this.start()));
  }

  /**
   * SIGKILLs a process (expected: not a crash).
   *
   * @param proc The victim.
   */
  kill(proc: WorkerProc): void {
    proc.expected = "SIGKILL";
    signal(proc, "SIGKILL");
  }

  /**
   * SIGTERMs a process and waits for its exit; past {@linkcode STOP_BOUND_MS} it is hung, and
   * SIGKILLed so the scenario can go on.
   *
   * @param proc The process.
   * @returns How long it took to exit, in ms.
   */
  async terminate(proc: WorkerProc): Promise<number> {
    if (proc.exit) return 0;
    proc.expected = "SIGTERM";
    const started = Date.now();
    const exited = new Promise<void>((r) => proc.child.once("close", () => r()));
    signal(proc, "SIGTERM");
    const inTime = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), STOP_BOUND_MS)),
    ]);
    if (!inTime) {
      proc.hung = true;
      signal(proc, "SIGKILL");
      await exited;
    }
    return Date.now() - started;
  }

  /** SIGTERMs every live process at once and waits for all. */
  async stopAll(): Promise<void> {
    await Promise.all(this.live().map((p) => this.terminate(p)));
  }

  /**
   * Processes that exited without being told to, or that did not stop cleanly after SIGTERM.
   * (Deno's child_process reports the signal sent as the exit cause even when the child handled
   * it and exited 0, so a clean stop is known by the child's `stopped` line instead.)
   */
  crashed(): WorkerProc[] {
    return this.procs.filter((p) =>
      p.exit !== undefined && !p.hung &&
      (p.expected === undefined || (p.expected === "SIGTERM" && !p.stopped))
    );
  }

  /** Processes that did not stop within the bound after SIGTERM. */
  hung(): WorkerProc[] {
    return this.procs.filter((p) => p.hung);
  }
}
