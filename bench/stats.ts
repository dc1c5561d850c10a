/**
 * Summaries of repeated measurements.
 *
 * Every figure the bench prints is the median of its repetitions, shown with the min and the max
 * so a reader sees the spread: on a 2-core machine a single run can be off by a third.
 *
 * @module
 */

/** Repetitions of one measurement, summarised. */
export interface Summary {
  /** The median of `samples` (the mean of the middle two for an even count). */
  median: number;
  /** The smallest sample. */
  min: number;
  /** The largest sample. */
  max: number;
  /** Every repetition, in the order measured. */
  samples: number[];
}

/**
 * Summarises repeated measurements of one figure.
 *
 * @param samples One value per repetition; at least one.
 * @returns Median, min, max and the samples themselves.
 */
export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new RangeError("summarize(): no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: percentile(sorted, 50),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    samples: [...samples],
  };
}

/**
 * The p-th percentile of sorted values, by linear interpolation between closest ranks (the
 * definition numpy and most spreadsheets use by default).
 *
 * @param sorted Values in ascending order; at least one.
 * @param p Percentile, 0 to 100.
 * @returns The interpolated value.
 */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) throw new RangeError("percentile(): no values");
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/**
 * Runs a measurement `reps` times, one after another, and summarises the results.
 *
 * @param reps How many repetitions.
 * @param measure One repetition; gets its 0-based index.
 * @returns The summary of the values `measure` returned.
 */
export async function repeat(
  reps: number,
  measure: (rep: number) => Promise<number>,
): Promise<Summary> {
  const samples: number[] = [];
  for (let rep = 0; rep < reps; rep++) samples.push(await measure(rep));
  return summarize(samples);
}
