/**
 * Who may write, and whether a write request really comes from the dashboard's own pages.
 *
 * Writes need both:
 * - authority: the write token (as `Authorization: Bearer <token>`, or the cookie the sign-in
 *   form sets), or the user's `authorize` hook answering true;
 * - for anything but a bearer request, proof of origin against cross-site request forgery: the
 *   browser's `Sec-Fetch-Site: same-origin` (or, from browsers without fetch metadata, an
 *   `Origin` equal to the dashboard's), and the form's `csrf` field equal to the token this
 *   handler derives from a random secret and the browser's sign-in cookie, which only pages of
 *   this origin can read. The cookie is also `SameSite=Strict`
 *   and `HttpOnly`. A bearer header is never sent by a browser on its own, so it needs no more.
 *
 * @module
 */
import { timingSafeEqual } from "node:crypto";

const COOKIE = "gue_dashboard_write";
const encoder = new TextEncoder();

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** Compares secrets in constant time (their hashes, so lengths do not leak either). */
async function sameSecret(a: string, b: string): Promise<boolean> {
  return timingSafeEqual(await sha256(a), await sha256(b));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads one cookie from a request. */
function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Why a write was refused, for the 403 page. */
export type Refusal = "read-only" | "not signed in" | "cross-site" | "bad csrf token";

/** The write policy of one dashboard. */
export class Access {
  /** The secret CSRF tokens are derived from: random per handler. */
  readonly #csrfSecret: string = hex(crypto.getRandomValues(new Uint8Array(32)));
  readonly #writeToken: string | undefined;
  readonly #authorize: ((req: Request) => boolean | Promise<boolean>) | undefined;
  readonly #cookiePath: string;
  #cookieValue: Promise<string> | undefined;

  /**
   * @param writeToken The token that allows writes, if any.
   * @param authorize The user's hook that allows writes, if any.
   * @param cookiePath The path the sign-in cookie is scoped to (the dashboard's base path).
   */
  constructor(
    writeToken: string | undefined,
    authorize: ((req: Request) => boolean | Promise<boolean>) | undefined,
    cookiePath: string,
  ) {
    this.#writeToken = writeToken;
    this.#authorize = authorize;
    this.#cookiePath = cookiePath;
  }

  /** Whether writes are possible at all (a token or a hook was given). */
  get writable(): boolean {
    return this.#writeToken !== undefined || this.#authorize !== undefined;
  }

  /** Whether the token can be entered in the sign-in form. */
  get hasToken(): boolean {
    return this.#writeToken !== undefined;
  }

  /** The cookie holds a hash of the token, never the token itself. */
  #expectedCookie(): Promise<string> {
    this.#cookieValue ??= sha256(`gue-dashboard-write:${this.#writeToken}`).then(hex);
    return this.#cookieValue;
  }

  /** Whether the request carries the write token as a bearer header. */
  async #bearer(req: Request): Promise<boolean> {
    const header = req.headers.get("authorization");
    if (this.#writeToken === undefined || !header?.startsWith("Bearer ")) return false;
    return await sameSecret(header.slice(7).trim(), this.#writeToken);
  }

  /**
   * Whether this request may write, ignoring where it comes from (pages use it to show or hide
   * the write buttons).
   *
   * @param req The request.
   * @returns True when the token (header or cookie) or the hook allows it.
   */
  async mayWrite(req: Request): Promise<boolean> {
    if (this.#writeToken !== undefined) {
      if (await this.#bearer(req)) return true;
      const value = cookie(req, COOKIE);
      if (value !== undefined && await sameSecret(value, await this.#expectedCookie())) {
        return true;
      }
    }
    if (this.#authorize !== undefined) return (await this.#authorize(req)) === true;
    return false;
  }

  /**
   * The token this browser's forms carry against CSRF: bound to its sign-in cookie, so a token
   * seen by one browser (or before signing in) is worth nothing to another session.
   *
   * @param req The request.
   * @returns 32 hex digits.
   */
  async csrfToken(req: Request): Promise<string> {
    const session = cookie(req, COOKIE) ?? "";
    return hex(await sha256(`${this.#csrfSecret}:${session}`)).slice(0, 32);
  }

  /**
   * Checks that a browser request was sent by a page of this dashboard's origin.
   *
   * @param req The request.
   * @param form The request's form fields (its `csrf` field is checked).
   * @returns Null when it was, or why not.
   */
  async sameOrigin(req: Request, form: URLSearchParams): Promise<Refusal | null> {
    const site = req.headers.get("sec-fetch-site");
    if (site !== null) {
      if (site !== "same-origin") return "cross-site";
    } else {
      const origin = req.headers.get("origin");
      if (origin === null || origin !== new URL(req.url).origin) return "cross-site";
    }
    const token = form.get("csrf") ?? req.headers.get("x-csrf-token");
    if (token === null || !(await sameSecret(token, await this.csrfToken(req)))) {
      return "bad csrf token";
    }
    return null;
  }

  /**
   * Decides a write request.
   *
   * @param req The request (a POST).
   * @param form Its form fields.
   * @returns Null when allowed, or why it is refused.
   */
  async checkWrite(req: Request, form: URLSearchParams): Promise<Refusal | null> {
    if (!this.writable) return "read-only";
    if (await this.#bearer(req)) return null;
    const origin = await this.sameOrigin(req, form);
    if (origin !== null) return origin;
    return (await this.mayWrite(req)) ? null : "not signed in";
  }

  /**
   * Checks a token typed into the sign-in form.
   *
   * @param token What was typed.
   * @returns True when it is the write token.
   */
  async tokenMatches(token: string): Promise<boolean> {
    return this.#writeToken !== undefined && await sameSecret(token, this.#writeToken);
  }

  /**
   * The `Set-Cookie` value that signs a browser in (or out, with `null`).
   *
   * @param req The request, to mark the cookie `Secure` over HTTPS.
   * @param signIn True to sign in, false to sign out.
   * @returns The header value.
   */
  async cookieHeader(req: Request, signIn: boolean): Promise<string> {
    const secure = new URL(req.url).protocol === "https:" ? "; Secure" : "";
    const value = signIn ? await this.#expectedCookie() : "";
    const age = signIn ? "" : "; Max-Age=0";
    return `${COOKIE}=${value}; Path=${this.#cookiePath}; HttpOnly; SameSite=Strict${secure}${age}`;
  }
}
