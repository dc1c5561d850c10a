/**
 * HTML built from tagged templates that escape every interpolated value unless it is already
 * {@linkcode Html}. Job args, types, queue names and errors are untrusted: they reach the page
 * only through here. The character escaping itself is escape-goat's (`& < > " '`), which makes a
 * value safe in element text and in quoted attribute values — the only two places the
 * dashboard's templates interpolate into (never into scripts, styles, URLs' schemes or unquoted
 * attributes).
 *
 * @module
 */
import { htmlEscape } from "escape-goat";

/** A piece of markup that is already safe: made by {@linkcode html}. */
export class Html {
  /** The markup. */
  readonly text: string;
  /** @param text Markup the caller vouches for. */
  constructor(text: string) {
    this.text = text;
  }
  /** @returns The markup. */
  toString(): string {
    return this.text;
  }
}

/** A value a template may interpolate: escaped unless `Html`; arrays are joined; null/undefined/false are empty. */
export type HtmlValue = Html | string | number | bigint | boolean | null | undefined | HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  return htmlEscape(String(value));
}

/**
 * Builds markup, escaping every interpolated value that is not `Html`.
 *
 * @param strings The template's literal parts (trusted: written in this module's source).
 * @param values The interpolated values (untrusted unless `Html`).
 * @returns The markup.
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}
