/**
 * The page shell every dashboard page shares: head, navigation, the write-access corner, and
 * the one-line notice a write leaves after its redirect.
 *
 * @module
 */
import { type Html, html } from "./html.ts";

/** Which navigation entry is current. */
export type Section = "queues" | "jobs" | "failed" | "job" | "error";

/** What the shell needs from the request being answered. */
export interface PageContext {
  /** The dashboard's base path ("" at the root). */
  readonly base: string;
  /** The current path and query, where write forms come back to. */
  readonly here: string;
  /** Whether this request may write (buttons are shown). */
  readonly mayWrite: boolean;
  /** Whether writes are possible at all. */
  readonly writable: boolean;
  /** Whether a sign-in form is offered (a write token was configured). */
  readonly hasToken: boolean;
  /** The CSRF token forms carry. */
  readonly csrf: string;
  /** A notice to show (a key from {@linkcode NOTICES}), if any. */
  readonly notice: string | null;
}

/** The fixed notices writes can leave; the redirect names one by key, never by text. */
export const NOTICES: Record<string, { text: string; error?: boolean }> = {
  retried: { text: "Job moved back to its queue: it runs when due." },
  deleted: { text: "Job deleted." },
  cancelled: { text: "Job cancelled: it is among the failed jobs, reason cancelled." },
  "cancel-requested": {
    text: "Cancellation requested: the job's worker stops it within a few seconds.",
  },
  "signed-in": { text: "Signed in: writes are enabled in this browser." },
  "signed-out": { text: "Signed out." },
  gone: {
    text: "That job is no longer there (done, moved or deleted by someone else).",
    error: true,
  },
};

/**
 * The hidden fields every write form carries.
 *
 * @param ctx The page context.
 * @returns The CSRF token and the page to come back to.
 */
export function formFields(ctx: PageContext): Html {
  return html`
    <input type="hidden" name="csrf" value="${ctx.csrf}"><input type="hidden" name="next"
      value="${ctx.here}">
  `;
}

function session(ctx: PageContext): Html {
  if (!ctx.writable) {
    return html`
      <span class="state"
        title="Start the dashboard with a write token to retry, delete or cancel jobs">read-only</span>
    `;
  }
  if (ctx.mayWrite) {
    return html`<span class="state state-running">writes enabled</span>${
      ctx.hasToken
        ? html`
          <form class="inline" method="post"
            action="${ctx.base}/logout">${formFields(
              ctx,
            )}<button type="submit">Sign out</button></form>
        `
        : ""
    }`;
  }
  if (!ctx.hasToken) return html`<span class="state">read-only</span>`;
  return html`<form class="inline" method="post" action="${ctx.base}/login">${formFields(ctx)}
<input type="password" name="token" placeholder="write token" autocomplete="current-password" aria-label="Write token" required>
<button type="submit">Sign in</button></form>`;
}

/**
 * Wraps a page's body in the shell.
 *
 * @param ctx The page context.
 * @param section The current navigation entry.
 * @param title The page title.
 * @param body The page's content.
 * @returns The whole document.
 */
export function layout(ctx: PageContext, section: Section, title: string, body: Html): Html {
  const nav = (key: Section, href: string, label: string) =>
    html`
      <a href="${ctx.base}${href}" ${section === key
        ? html`
          aria-current="page"
        `
        : ""}>${label}</a>
    `;
  const notice = ctx.notice !== null ? NOTICES[ctx.notice] : undefined;
  return html`
    <!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>${title} · gue</title>
        <link rel="icon" href="data:,">
    <link rel="stylesheet" href="${ctx.base}/assets/dashboard.css">
    ${ctx.mayWrite ? html`<meta name="csrf-token" content="${ctx.csrf}">` : ""}
        <script src="${ctx.base}/assets/dashboard.js" defer></script>
      </head>
      <body>
        <header>
          <a class="brand" href="${ctx.base}/">gue</a>
          <nav>${nav("queues", "/", "Queues")}${nav("jobs", "/jobs", "Jobs")}${nav(
            "failed",
            "/failed",
            "Failed",
          )}</nav>
          <div class="session">${session(ctx)}</div>
        </header>
        <main>
    ${notice !== undefined
      ? html`<div class="notice${notice.error ? " error" : ""}" role="status">${notice.text}</div>`
      : ""}
    ${body}
        </main>
      </body>
    </html>
  `;
}
