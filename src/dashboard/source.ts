/**
 * What the dashboard reads and changes through the client: its inspection API, plus cancelling
 * a running job when the client offers it.
 *
 * @module
 */
import type { Client } from "../client.ts";

/** What cancelling answers: `"cancelled"` (was queued), `"requested"` (running), `"absent"`. */
export type CancelOutcome = "cancelled" | "requested" | "absent" | boolean;

/** The client as the dashboard uses it. */
export type DashboardSource =
  & Pick<
    Client,
    "pool" | "countJobs" | "listJobs" | "getJob" | "retryFailedJob" | "deleteFailedJob"
  >
  & {
    /** Cancels a queued job, or asks a running job's worker to stop it. Optional. */
    cancelJob?(id: string): Promise<CancelOutcome>;
  };

export type { JobInfo as JobView, ListJobsOptions as JobFilter } from "../inspect.ts";
