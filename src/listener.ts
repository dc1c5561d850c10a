/**
 * One LISTEN connection, kept alive: connects through the adapter, reconnects with a growing
 * delay after the connection dies, and reports when it is listening and when it is not, so the
 * workers know that notifications may have been missed and poll once.
 *
 * @module
 */
import type { ConnPool, ListenConnection } from "./adapter.ts";
import { type Logger, safeLog } from "./logger.ts";

/** Opens a LISTEN connection: an adapter's {@linkcode ConnPool.listen}, bound to its pool. */
export type ListenFn = NonNullable<ConnPool["listen"]>;

export type { ListenConnection };

/** Options of {@linkcode Listener}. */
export interface ListenerOptions {
  /** Where connection failures are logged. */
  logger: Logger;
  /** Called with `true` each time LISTEN is in effect, with `false` when the connection is lost. */
  onState?: (listening: boolean) => void;
  /** First delay before reconnecting, in ms. @default {100} */
  retryMinMs?: number;
  /** Longest delay between attempts, in ms. @default {5000} */
  retryMaxMs?: number;
}

/**
 * Keeps one LISTEN going until {@linkcode Listener.close}.
 */
export class Listener {
  readonly #listen: ListenFn;
  readonly #channel: string;
  readonly #onNotify: (payload: string) => void;
  readonly #logger: Logger;
  readonly #onState: (listening: boolean) => void;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  #started = false;
  #closed = false;
  #connection: ListenConnection | undefined;
  #connecting: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryMs: number;
  #failing = false;
  #listening = false;

  /**
   * @param listen The adapter's way to open a LISTEN connection.
   * @param channel The channel.
   * @param onNotify Gets each payload.
   * @param options Logger, state callback, reconnect delays.
   */
  constructor(
    listen: ListenFn,
    channel: string,
    onNotify: (payload: string) => void,
    options: ListenerOptions,
  ) {
    this.#listen = listen;
    this.#channel = channel;
    this.#onNotify = onNotify;
    this.#logger = options.logger;
    this.#onState = options.onState ?? (() => {});
    this.#retryMinMs = options.retryMinMs ?? 100;
    this.#retryMaxMs = options.retryMaxMs ?? 5_000;
    this.#retryMs = this.#retryMinMs;
  }

  /** Whether LISTEN is in effect now. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Starts connecting; does nothing when started already or closed. */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connecting = this.#connect();
  }

  /** Stops listening and closes the connection. Safe to call twice. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#connecting;
    const connection = this.#connection;
    this.#connection = undefined;
    this.#setListening(false);
    await connection?.close().catch(() => {});
  }

  async #connect(): Promise<void> {
    let ended = false;
    let connection: ListenConnection | undefined;
    try {
      connection = await this.#listen(this.#channel, (payload) => {
        if (!this.#closed) this.#onNotify(payload);
      }, (err) => {
        if (ended) return;
        ended = true;
        // Before the LISTEN took effect, the code after the await below sees `ended`.
        if (connection === undefined || this.#connection !== connection) return;
        this.#connection = undefined;
        this.#setListening(false);
        if (this.#closed) return;
        safeLog(
          this.#logger,
          "error",
          "Lost the LISTEN connection; workers poll until it is back",
          {
            error: err,
          },
        );
        this.#retryMs = this.#retryMinMs;
        this.#retryLater();
      });
    } catch (err) {
      if (this.#closed) return;
      if (!this.#failing) {
        // Once per outage, not once per attempt.
        this.#failing = true;
        safeLog(this.#logger, "error", "Could not LISTEN; workers poll until it succeeds", {
          error: err,
        });
      }
      this.#retryLater();
      return;
    }
    if (this.#closed || ended) {
      await connection.close().catch(() => {});
      if (!this.#closed) this.#retryLater();
      return;
    }
    if (this.#failing) safeLog(this.#logger, "info", "Listening again");
    this.#failing = false;
    this.#retryMs = this.#retryMinMs;
    this.#connection = connection;
    this.#setListening(true);
  }

  #retryLater(): void {
    if (this.#closed) return;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, this.#retryMaxMs);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#closed) this.#connecting = this.#connect();
    }, delay);
  }

  #setListening(listening: boolean): void {
    if (listening === this.#listening && !listening) return;
    this.#listening = listening;
    try {
      this.#onState(listening);
    } catch (err) {
      safeLog(this.#logger, "error", "Listener state callback failed", { error: err });
    }
  }
}
