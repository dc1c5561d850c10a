/**
 * The shape of one `gue` command and the option parsing every command shares: `node:util`
 * `parseArgs` in strict mode, `--help` on each command, help text generated from the same option
 * table that configures the parser, so the two cannot drift.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CliError, ExitCode, usageError } from "./exit_codes.ts";
import type { Io } from "./io.ts";

/** One option of a command, as `parseArgs` takes it plus what the help text shows. */
export interface OptionSpec {
  /** A flag (`boolean`) or an option with a value (`string`). */
  type: "boolean" | "string";
  /** A one-letter alias. */
  short?: string;
  /** Whether the option may repeat (its values are collected into an array). */
  multiple?: boolean;
  /** The value's placeholder in the help text, e.g. `URL`. */
  value?: string;
  /** One line of help. */
  help: string;
}

/** The parsed values of a command's options: strings, booleans, or arrays of repeated ones. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** What a command's `run` gets. */
export interface CommandInput {
  /** The options given, by long name. */
  values: OptionValues;
  /** The positional arguments after the command name. */
  positionals: string[];
  /** Where to write, the environment, standard input. */
  io: Io;
}

/** One `gue` command. */
export interface Command {
  /** The word after `gue`. */
  name: string;
  /** One line for `gue --help`. */
  summary: string;
  /** The synopsis after `gue `, e.g. `show <id> [options]`. */
  usage: string;
  /** Paragraphs for `gue <command> --help`: what it does, its output, its exit codes. */
  description: string;
  /** Its options (the shared ones are added by {@linkcode commandOptions}). */
  options: Record<string, OptionSpec>;
  /** How many positional arguments it takes. */
  positionals: { min: number; max: number; names: string };
  /** Whether it connects to the database (adds `--database-url`). @default {true} */
  database?: boolean;
  /**
   * Does the work.
   *
   * @returns The exit code.
   */
  run(input: CommandInput): Promise<number>;
}

/** `--database-url`, shared by every command that connects. */
export const databaseUrlOption: OptionSpec = {
  type: "string",
  value: "URL",
  help: "PostgreSQL connection URL (default: $DATABASE_URL)",
};

const helpOption: OptionSpec = { type: "boolean", short: "h", help: "show this help" };

/** The options of `command`, with the shared ones. */
export function commandOptions(command: Command): Record<string, OptionSpec> {
  return {
    ...command.options,
    ...(command.database === false ? {} : { "database-url": databaseUrlOption }),
    help: helpOption,
  };
}

/**
 * Parses a command's arguments strictly; a usage error names the option and points at `--help`.
 *
 * @param command The command.
 * @param args Its arguments (everything after the command name, and global options before it).
 * @returns The values and positionals, or `"help"` when `--help` was given.
 */
export function parseCommandArgs(
  command: Command,
  args: string[],
): { values: OptionValues; positionals: string[] } | "help" {
  const specs = commandOptions(command);
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, s]) => [
      name,
      { type: s.type, ...(s.short ? { short: s.short } : {}), multiple: s.multiple ?? false },
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs says which option and how (unknown, missing value, unexpected value); its tip
    // about positionals starting with "-" is noise here.
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw usageError(message, command.name);
  }
  if (parsed.values.help) return "help";
  const { min, max } = command.positionals;
  const n = parsed.positionals.length;
  if (n < min) {
    throw usageError(`missing ${command.positionals.names}`, command.name);
  }
  if (n > max) {
    const extra = parsed.positionals.slice(max).map((p) => JSON.stringify(p)).join(" ");
    throw usageError(`unexpected argument ${extra}`, command.name);
  }
  return { values: parsed.values as OptionValues, positionals: parsed.positionals };
}

/** The help text of one command. */
export function commandHelp(command: Command): string {
  const specs = commandOptions(command);
  const rows = Object.entries(specs).map(([name, s]) => {
    const flag = `${s.short ? `-${s.short}, ` : "    "}--${name}${s.value ? ` ${s.value}` : ""}`;
    return [flag, s.help + (s.multiple ? " (repeatable)" : "")];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return [
    `Usage: gue ${command.usage}`,
    "",
    command.summary,
    "",
    command.description.trim(),
    "",
    "Options:",
    ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`),
    "",
  ].join("\n");
}

/** Reads a string option, or `undefined`. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/** Reads a repeatable string option as an array (empty when absent). */
export function stringsOption(values: OptionValues, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
}

/**
 * Reads an integer option within bounds.
 *
 * @param values The parsed values.
 * @param name The option's long name.
 * @param command The command, for the usage error.
 * @param range Inclusive bounds.
 * @returns The integer, or `undefined` when the option is absent.
 */
export function integerOption(
  values: OptionValues,
  name: string,
  command: string,
  range: { min: number; max: number },
): number | undefined {
  const text = stringOption(values, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (
    !/^[+-]?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < range.min || n > range.max
  ) {
    throw usageError(
      `--${name} must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(text)}`,
      command,
    );
  }
  return n;
}

/** Whether a boolean flag was given. */
export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

/**
 * Checks a job id argument: a ULID, upper-cased as gue stores it.
 *
 * @param id The argument.
 * @param command The command, for the usage error.
 * @returns The canonical id.
 */
export function jobIdArgument(id: string, command: string): string {
  const canonical = id.trim().toUpperCase();
  if (!/^[0-7][0-9A-HJKMNP-TV-Z]{25}$/.test(canonical)) {
    throw usageError(
      `<id> must be a 26-character job id (a ULID), got ${JSON.stringify(id)}`,
      command,
    );
  }
  return canonical;
}

/** The "no such job" error (exit code 3). */
export function noSuchJob(id: string): CliError {
  return new CliError(`no job with id ${id}`, ExitCode.NotFound);
}

/** The "wrong state" error (exit code 4). */
export function wrongState(message: string): CliError {
  return new CliError(message, ExitCode.WrongState);
}
