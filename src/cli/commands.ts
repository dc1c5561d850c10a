/**
 * Every `gue` command, in the order `gue --help` lists them.
 *
 * @module
 */
import type { Command } from "./command.ts";
import { benchCommand } from "./commands/bench.ts";
import { cancelCommand } from "./commands/cancel.ts";
import { dashboardCommand } from "./commands/dashboard.ts";
import { deleteCommand } from "./commands/delete.ts";
import { enqueueCommand } from "./commands/enqueue.ts";
import { listCommand } from "./commands/list.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { patchPostgresCommand } from "./commands/patch_postgres.ts";
import { retryCommand } from "./commands/retry.ts";
import { showCommand } from "./commands/show.ts";
import { statsCommand } from "./commands/stats.ts";

/** The commands. */
export const commands: readonly Command[] = [
  migrateCommand,
  statsCommand,
  listCommand,
  showCommand,
  enqueueCommand,
  retryCommand,
  cancelCommand,
  deleteCommand,
  dashboardCommand,
  benchCommand,
  patchPostgresCommand,
];
