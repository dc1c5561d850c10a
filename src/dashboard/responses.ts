/**
 * Responses with the dashboard's security headers. The Content-Security-Policy is the second
 * layer behind escaping: scripts and styles load only from the dashboard's own URLs (never
 * inline), so markup that slipped through escaping could not run anything; forms post only to
 * the dashboard; no other site may frame it.
 *
 * @module
 */
import type { Html } from "./html.ts";

/** The policy every response carries. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

function headers(contentType: string, extra: Record<string, string> = {}): Headers {
  return new Headers({
    "content-type": contentType,
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
    ...extra,
  });
}

/**
 * An HTML response.
 *
 * @param body The document or fragment.
 * @param status The status. @default 200
 * @returns The response.
 */
export function htmlResponse(body: Html, status = 200): Response {
  return new Response(body.text, { status, headers: headers("text/html; charset=utf-8") });
}

/**
 * A JSON response.
 *
 * @param value The value.
 * @param status The status. @default 200
 * @returns The response.
 */
export function jsonResponse(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: headers("application/json; charset=utf-8"),
  });
}

/**
 * A static asset; cacheable for a short while.
 *
 * @param body The text.
 * @param contentType Its type.
 * @returns The response.
 */
export function assetResponse(body: string, contentType: string): Response {
  return new Response(body, {
    headers: headers(contentType, { "cache-control": "public, max-age=300" }),
  });
}

/**
 * A 303 redirect (after a form post, so a reload does not post again).
 *
 * @param location Where to.
 * @param setCookie A cookie to set, if any.
 * @returns The response.
 */
export function redirect(location: string, setCookie?: string): Response {
  const extra: Record<string, string> = { location };
  if (setCookie !== undefined) extra["set-cookie"] = setCookie;
  return new Response(null, { status: 303, headers: headers("text/plain", extra) });
}

/**
 * A plain-text response (errors to non-browser clients, 405s).
 *
 * @param text The text.
 * @param status The status.
 * @param extra More headers.
 * @returns The response.
 */
export function textResponse(
  text: string,
  status: number,
  extra: Record<string, string> = {},
): Response {
  return new Response(text, { status, headers: headers("text/plain; charset=utf-8", extra) });
}
