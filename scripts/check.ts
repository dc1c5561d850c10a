/**
 * The project checks, one list for `deno task check` and CI (`.ci/run`): formatting, lint, type
 * check, the type check of every JSDoc example, the doc lint of every entry point in deno.json
 * "exports", and a publish dry run. Every step runs even when an earlier one fails; the exit code
 * is 1 when any failed.
 *
 * `deno run -A scripts/check.ts`
 */
const root = new URL("..", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
// What JSR publishes and documents: every entry point, read from deno.json so a new adapter is
// linted without touching this file.
const entryPoints: string[] = Object.values(config.exports as Record<string, string>);

const steps: { name: string; args: string[] }[] = [
  { name: "format", args: ["fmt", "--check"] },
  { name: "lint", args: ["lint"] },
  {
    name: "type check",
    args: ["check", "mod.ts", "src/", "tests/", "examples/", "scripts/", "bench/"],
  },
  // Examples in JSDoc import "@gue/gue" like a user's code; deno resolves the package's own name
  // to this checkout. The entry points' docs come from src/, so every file there is checked.
  { name: "doc examples", args: ["check", "--doc-only", ...entryPoints, "src/"] },
  { name: "doc lint", args: ["doc", "--lint", ...entryPoints] },
  { name: "publish dry run", args: ["publish", "--dry-run", "--allow-dirty"] },
];

const failed: string[] = [];
for (const step of steps) {
  console.log(`\n--- ${step.name}: deno ${step.args.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: step.args,
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) failed.push(step.name);
}

console.log(
  failed.length
    ? `\nchecks: ${steps.length - failed.length} passed, failed: ${failed.join(", ")}`
    : `\nchecks: all ${steps.length} passed`,
);
Deno.exit(failed.length ? 1 : 0);
