/**
 * Typed jobs: a job type declared once with its args type, and optionally a Standard Schema
 * validator (zod, valibot, arktype…), so that enqueueing and handling are both type-checked and
 * a job whose args fail validation is dead-lettered with the validator's message instead of
 * being retried forever.
 *
 * @module
 */
import type { JobInput } from "./client.ts";
import { InvalidJobArgsError } from "./dead_letter.ts";
import type { Job } from "./job.ts";
import type { WorkContext, WorkMap } from "./worker.ts";

/**
 * The Standard Schema interface (standardschema.dev), version 1, as zod (3.24+), valibot (1.0+)
 * and arktype implement it. Declared here so this library depends on none of them.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The schema's Standard Schema properties. */
  readonly "~standard": {
    /** Always 1. */
    readonly version: 1;
    /** The library, e.g. `"zod"`. */
    readonly vendor: string;
    /** Validates a value: its output, or the issues found. */
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
    /** The input and output types, for inference only. */
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** What a Standard Schema's `validate` gives. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardSchemaIssue[] };

/** One validation issue. */
export interface StandardSchemaIssue {
  /** What is wrong. */
  readonly message: string;
  /** Where: property keys, or segments with a `key`. */
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/** The output type of a Standard Schema. */
export type InferOutput<S extends StandardSchemaV1> = NonNullable<
  S["~standard"]["types"]
>["output"];

/** The input type of a Standard Schema. */
export type InferInput<S extends StandardSchemaV1> = NonNullable<
  S["~standard"]["types"]
>["input"];

/** Defaults of a job type's jobs, and its validator. */
export interface JobTypeOptions {
  /** The queue its jobs go to. @default {""} */
  queue?: string;
  /** Their priority. @default {0} */
  priority?: number;
  /** Their attempts. @default the client's */
  maxAttempts?: number | null;
}

/** A typed handler: gets the validated args first. */
export type TypedWorkFunc<Args> = (
  args: Args,
  job: Job,
  ctx: WorkContext,
) => void | Promise<void>;

/**
 * A declared job type. `job(args)` makes what `client.enqueue` takes; `handle(fn)` makes the
 * work-map entry, which decodes and validates the args before calling `fn`.
 */
export interface JobType<Args, Input = Args> {
  /** The job type (`job_type`), the key in the work map. */
  readonly type: string;
  /** The defaults of its jobs. */
  readonly options: Readonly<JobTypeOptions>;
  /**
   * A job of this type to enqueue, with the type's defaults under `options`. Validated here
   * when the validator answers synchronously, so bad args fail at the producer.
   *
   * @param args The args.
   * @param options More of the job: runAt, uniqueKey, a queue or priority of its own…
   * @returns What `client.enqueue` (or `enqueueTx`, `enqueueBatch`) takes.
   * @throws {InvalidJobArgsError} When the args fail a synchronous validator.
   */
  job(args: Input, options?: Omit<JobInput, "type" | "args">): JobInput;
  /**
   * The work-map entry of this type: `{ [type]: handler }`, to spread into a work map. The
   * handler decodes the args as JSON and validates them; args that are not JSON or fail
   * validation dead-letter the job (reason `"invalid"`) with the message.
   *
   * @param fn The handler, given the validated args.
   * @returns A work map of one entry.
   */
  handle(fn: TypedWorkFunc<Args>): WorkMap;
  /**
   * Decodes and validates a job's args, as the handler does.
   *
   * @param job A job of this type.
   * @returns The validated args.
   * @throws {InvalidJobArgsError} When they are not JSON or fail validation.
   */
  parse(job: Job): Promise<Args>;
}

function issuesText(issues: readonly StandardSchemaIssue[]): string {
  return issues.map((issue) => {
    const path = (issue.path ?? []).map((p) =>
      typeof p === "object" && p !== null ? String(p.key) : String(p)
    ).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  }).join("; ");
}

/**
 * Declares a job type with a Standard Schema: its args type is the schema's.
 *
 * @param type The job type.
 * @param options Defaults of its jobs and `schema`, the validator.
 * @returns The job type.
 *
 * @example
 * ```ts ignore
 * import { z } from "zod";
 * import { defineJob } from "@gue/gue";
 *
 * const SendEmail = defineJob("SendEmail", {
 *   queue: "emails",
 *   schema: z.object({ to: z.string().email(), subject: z.string() }),
 * });
 * await client.enqueue(SendEmail.job({ to: "a@example.com", subject: "Hi" }));
 * const pool = new WorkerPool(client, {
 *   ...SendEmail.handle(async ({ to, subject }) => await send(to, subject)),
 * }, 2, { queue: "emails" });
 * ```
 */
export function defineJob<S extends StandardSchemaV1>(
  type: string,
  options: JobTypeOptions & { schema: S },
): JobType<InferOutput<S>, InferInput<S>>;
/**
 * Declares a job type with an args type and no validator (the args are trusted as typed).
 *
 * @param type The job type.
 * @param options Defaults of its jobs.
 * @returns The job type.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { Client, defineJob } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 *
 * async function resize(image: string, width: number): Promise<void> {
 *   console.log(`resizing ${image} to ${width}px`);
 * }
 *
 * const Resize = defineJob<{ image: string; width: number }>("Resize");
 * await client.enqueue(Resize.job({ image: "a.png", width: 200 }));
 * const workMap = { ...Resize.handle(({ image, width }) => resize(image, width)) };
 * await sql.end();
 * ```
 */
export function defineJob<Args = undefined>(
  type: string,
  options?: JobTypeOptions,
): JobType<Args>;
export function defineJob(
  type: string,
  options: JobTypeOptions & { schema?: StandardSchemaV1 } = {},
): JobType<unknown> {
  if (typeof type !== "string" || type === "") {
    throw new TypeError(`defineJob: type must be a non-empty string, got ${JSON.stringify(type)}`);
  }
  const { schema, ...defaults } = options;
  if (schema !== undefined && typeof schema?.["~standard"]?.validate !== "function") {
    throw new TypeError(
      `defineJob(${JSON.stringify(type)}): schema must be a Standard Schema (zod, valibot…)`,
    );
  }
  const check = (result: StandardSchemaResult<unknown>) => {
    if (result.issues) {
      throw new InvalidJobArgsError(type, issuesText(result.issues), result.issues);
    }
    return result.value;
  };
  const parse = async (job: Job): Promise<unknown> => {
    let value: unknown;
    try {
      value = job.json();
    } catch (err) {
      throw new InvalidJobArgsError(type, (err as Error).message);
    }
    return schema === undefined ? value : check(await schema["~standard"].validate(value));
  };
  return Object.freeze({
    type,
    options: Object.freeze({ ...defaults }),
    job(args: unknown, more: Omit<JobInput, "type" | "args"> = {}): JobInput {
      let value = args;
      if (schema !== undefined) {
        const result = schema["~standard"].validate(args);
        // An async validator runs at the worker only.
        if (!(result instanceof Promise)) value = check(result);
      }
      return { ...defaults, ...more, type, args: value };
    },
    handle(fn: TypedWorkFunc<unknown>): WorkMap {
      if (typeof fn !== "function") {
        throw new TypeError(`${type}.handle: the handler must be a function`);
      }
      return { [type]: async (job: Job, ctx: WorkContext) => await fn(await parse(job), job, ctx) };
    },
    parse,
  });
}
