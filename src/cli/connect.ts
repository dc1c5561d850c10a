/**
 * Opens the command line's connection to PostgreSQL (postgres.js, NOTICEs silenced, a short
 * connect timeout), always closes it, and turns the errors an operator meets first into messages
 * that say what to do.
 *
 * @module
 */
import postgres from "postgres";
import { postgresjs } from "../adapters/postgresjs.ts";
import { Client } from "../client.ts";
import { noopLogger } from "../logger.ts";
import { stringOption } from "./command.ts";
import type { OptionValues } from "./command.ts";
import { CliError, ExitCode, usageError } from "./exit_codes.ts";
import type { Io } from "./io.ts";

/** Seconds to wait for the server to accept a connection before giving up. */
export const CONNECT_TIMEOUT_SECONDS = 5;

/** An open connection for one command. */
export interface Connection {
  /** A client on it (logs nothing: the command reports errors itself). */
  client: Client;
  /** The postgres.js pool, for commands that need their own SQL. */
  sql: postgres.Sql;
  /** The URL connected to. */
  url: string;
}

/**
 * The database URL: `--database-url`, else `DATABASE_URL`.
 *
 * @param values The command's options.
 * @param io The environment.
 * @param command The command, for the usage error.
 * @returns The URL, checked to be a `postgres://` or `postgresql://` URL.
 */
export function databaseUrl(values: OptionValues, io: Io, command: string): string {
  const url = stringOption(values, "database-url") ?? io.env("DATABASE_URL");
  if (!url) {
    throw usageError(
      "no database: set DATABASE_URL or pass --database-url, " +
        "e.g. --database-url postgres://user:password@localhost:5432/app",
      command,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`the database URL is not a URL: ${JSON.stringify(redact(url))}`, command);
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw usageError(
      `the database URL must start with postgres:// or postgresql://, got ${parsed.protocol}//…`,
      command,
    );
  }
  return url;
}

/** The URL without its password, fit for messages. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ":***@");
  }
}

/**
 * Runs `work` with a connection to the database and closes it afterwards, whatever happens.
 *
 * @param values The command's options (for `--database-url`).
 * @param io The environment.
 * @param command The command's name, for messages.
 * @param work What to do with the connection.
 * @param max Connections in the pool.
 * @returns What `work` returns.
 * @throws {CliError} For every database failure, explained.
 */
export async function withConnection<T>(
  values: OptionValues,
  io: Io,
  command: string,
  work: (conn: Connection) => Promise<T>,
  max = 2,
): Promise<T> {
  const url = databaseUrl(values, io, command);
  const sql = openSql(url, max);
  try {
    const client = new Client(postgresjs(sql), { logger: noopLogger });
    return await work({ client, sql, url });
  } catch (err) {
    throw explain(err, url);
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
  }
}

/**
 * A postgres.js pool as the command line uses it: NOTICEs silenced, a short connect timeout.
 * The caller ends it.
 *
 * @param url The database.
 * @param max Connections.
 * @returns The pool.
 */
export function openSql(url: string, max: number): postgres.Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: CONNECT_TIMEOUT_SECONDS,
    // A command line needs no connection to outlive its command.
    idle_timeout: 0,
  });
}

/** The driver's or server's code, looked for through `cause`. */
function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Turns a failure into a {@linkcode CliError} whose message says what to do. Errors that are
 * already a `CliError` pass through.
 *
 * @param err What was thrown.
 * @param url The database URL, for the message (its password is never shown).
 * @returns The error to report.
 */
export function explain(err: unknown, url: string): CliError {
  if (err instanceof CliError) return err;
  const u = new URL(url);
  const where = `${u.hostname || "localhost"}:${u.port || "5432"}`;
  const database = decodeURIComponent(u.pathname.slice(1)) || u.username || "postgres";
  const user = decodeURIComponent(u.username) || "(default user)";
  const message = err instanceof Error ? err.message : String(err);
  const code = errorCode(err);
  const fail = (text: string) => new CliError(text, ExitCode.Failure, { cause: err });
  switch (code) {
    case "ECONNREFUSED":
      return fail(
        `cannot connect to PostgreSQL at ${where}: connection refused. Is the server running, ` +
          `and are the host and port in DATABASE_URL (or --database-url) right?`,
      );
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return fail(
        `cannot connect to PostgreSQL at ${where}: no answer within ${CONNECT_TIMEOUT_SECONDS} s. ` +
          `Check the host, the port and any firewall in between.`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return fail(`cannot resolve the database host ${JSON.stringify(u.hostname)}: check the URL`);
    case "28P01":
    case "28000":
      return fail(
        `PostgreSQL at ${where} refused the login of ${JSON.stringify(user)}: ${message}. ` +
          `Check the user and password in the URL.`,
      );
    case "3D000":
      return fail(
        `database ${JSON.stringify(database)} does not exist on ${where}: create it ` +
          `(createdb ${database}) or point the URL at another database`,
      );
    case "42P01":
      if (/gue_/.test(message)) {
        return fail(
          `the gue tables are missing in database ${
            JSON.stringify(database)
          }: run \`gue migrate\` ` +
            `first (${message.replace(/ \(call client\.migrate\(\)[^)]*\)/, "")})`,
        );
      }
  }
  return fail(message);
}
