/**
 * What the dashboard reads and changes through the client: its inspection API, plus cancelling
 * a running job when the client offers it.
 *
 * @module
 */
import type { Client } from "../client.ts";

/** The client as the dashboard uses it. */
export type DashboardSource =
  & Pick<
    Client,
    "pool" | "countJobs" | "listJobs" | "getJob" | "retryFailedJob" | "deleteFailedJob"
  >
  & {
    /** Asks a running job's worker to stop it; false when it is not running. Optional. */
    cancelJob?(id: string): Promise<boolean>;
  };

export type { JobInfo as JobView, ListJobsOptions as JobFilter } from "../inspect.ts";
