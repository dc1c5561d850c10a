/**
 * Plain-text tables for the command line: a header, columns padded to their widest cell,
 * numbers right-aligned. No colours, so the output pipes cleanly into `grep` and `awk`.
 *
 * @module
 */

/** A column: its header, and whether it holds numbers (right-aligned). */
export interface Column {
  /** The header. */
  header: string;
  /** Right-align (numbers). @default {false} */
  numeric?: boolean;
}

/**
 * Renders rows under headers.
 *
 * @param columns The columns.
 * @param rows The cells, one array per row, as text.
 * @returns The lines of the table, header first.
 */
export function renderTable(columns: Column[], rows: string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) =>
        columns[i].numeric
          ? cell.padStart(widths[i])
          : i === cells.length - 1
          ? cell
          : cell.padEnd(widths[i])
      )
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)];
}
