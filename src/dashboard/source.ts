/**
 * What the dashboard reads and changes through the client: the inspection API.
 *
 * @module
 */
import type { Queryable } from "../adapter.ts";

/** One queue's counts. */
export interface QueueCounts {
  readonly queue: string;
  readonly ready: number;
  readonly scheduled: number;
  readonly running?: number;
  readonly failing?: number;
  readonly failed?: number;
}

/** A job's exclusive state. */
export type JobState = "ready" | "scheduled" | "running" | "failed";

/** A job as the inspection API returns it. */
export interface JobView {
  readonly id: string;
  readonly queue: string;
  readonly priority: number;
  readonly runAt: Date;
  readonly type: string;
  readonly args: Uint8Array;
  readonly errorCount: number;
  readonly lastError: string | null;
  readonly createdAt: Date;
  readonly updatedAt?: Date;
  readonly maxAttempts?: number | null;
  readonly state: JobState;
  readonly failedAt?: Date | null;
  readonly failReason?: string | null;
}

/** The filters and page of a job list. */
export interface JobFilter {
  queue?: string;
  state?: JobState | "failing";
  type?: string;
  limit?: number;
  after?: string | null;
}

/** The client methods the dashboard uses. */
export interface DashboardSource {
  readonly pool: Queryable;
  countJobs(): Promise<readonly QueueCounts[]>;
  listJobs?(options?: JobFilter): Promise<{ jobs: readonly JobView[]; next: string | null }>;
  getJob?(id: string): Promise<JobView | null>;
  retryFailedJob?(id: string): Promise<boolean>;
  deleteFailedJob?(id: string): Promise<boolean>;
  cancelJob?(id: string): Promise<boolean>;
}
