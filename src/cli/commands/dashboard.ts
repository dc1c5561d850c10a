/**
 * `gue dashboard`: serves the web dashboard until interrupted.
 *
 * @module
 */
import process from "node:process";
import { type Command, integerOption, stringOption } from "../command.ts";
import { withConnection } from "../connect.ts";
import { CliError, ExitCode } from "../exit_codes.ts";

/** A started HTTP server, on whichever runtime. */
interface Served {
  port: number;
  stop(): Promise<void>;
}

type Handler = (req: Request) => Promise<Response>;

/** Serves `handler` with the runtime's own server: `Deno.serve` or `Bun.serve`. */
function serve(handler: Handler, hostname: string, port: number): Served {
  const bun = (globalThis as {
    Bun?: {
      serve(o: { hostname: string; port: number; fetch: Handler }): {
        port: number;
        stop(force?: boolean): Promise<void> | void;
      };
    };
  }).Bun;
  if (bun !== undefined) {
    const server = bun.serve({ hostname, port, fetch: handler });
    return { port: server.port, stop: async () => await server.stop(true) };
  }
  const server = Deno.serve({ hostname, port, onListen: () => {} }, handler);
  return {
    port: server.addr.port,
    stop: () => server.shutdown(),
  };
}

/** `gue dashboard`. */
export const dashboardCommand: Command = {
  name: "dashboard",
  summary: "Serve the web dashboard",
  usage: "dashboard [--port N] [--host ADDRESS] [options]",
  description: `
Serves the web dashboard (queues with their counts and a live throughput chart, job lists, job
details, failed jobs) until interrupted (Ctrl-C or SIGTERM). Prints its URL on standard output.

It is read-only unless a write token is set, with GUE_DASHBOARD_TOKEN (preferred: a value on the
command line is visible to other users of the machine) or --write-token; the dashboard then asks
for it before retrying, deleting or cancelling jobs. It listens on 127.0.0.1 unless --host says
otherwise: put it behind your own authentication before exposing it.

Exit codes: 0 stopped by a signal, 1 the server or the database failed, 2 bad options.`,
  options: {
    port: {
      type: "string",
      short: "p",
      value: "N",
      help: "TCP port, 0 for any free one (default: 8080)",
    },
    host: { type: "string", value: "ADDRESS", help: "address to listen on (default: 127.0.0.1)" },
    "write-token": {
      type: "string",
      value: "TOKEN",
      help: "allow writes with this token (default: $GUE_DASHBOARD_TOKEN; none: read-only)",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run({ values, io }) {
    const port = integerOption(values, "port", "dashboard", { min: 0, max: 65535 }) ?? 8080;
    const host = stringOption(values, "host") ?? "127.0.0.1";
    const writeToken = stringOption(values, "write-token") ??
      (io.env("GUE_DASHBOARD_TOKEN") || undefined);
    return await withConnection(values, io, "dashboard", async ({ client }) => {
      // Fail now, not on the first page view, when the database is unreachable or not migrated.
      await client.countJobs();
      // Loaded here: the other commands need none of the dashboard's code.
      const { dashboard } = await import("../../dashboard/mod.ts");
      let server: Served;
      try {
        server = serve(dashboard(client, { writeToken }), host, port);
      } catch (err) {
        throw new CliError(
          `cannot listen on ${host}:${port}: ${(err as Error).message}`,
          ExitCode.Failure,
          { cause: err },
        );
      }
      const shown = host.includes(":") ? `[${host}]` : host;
      io.out(`http://${shown}:${server.port}/`);
      io.err(
        `gue dashboard: serving ${
          writeToken ? "with writes allowed to holders of the token" : "read-only"
        }; ` +
          "Ctrl-C stops it",
      );
      // Listeners stay until the server has stopped: a second signal meanwhile is ignored.
      let onInt!: () => void;
      let onTerm!: () => void;
      const signal = await new Promise<string>((resolve) => {
        onInt = () => resolve("SIGINT");
        onTerm = () => resolve("SIGTERM");
        process.on("SIGINT", onInt);
        process.on("SIGTERM", onTerm);
      });
      io.err(`gue dashboard: ${signal}, stopping`);
      try {
        await server.stop();
      } finally {
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
      }
      return ExitCode.Ok;
    }, 5);
  },
};
