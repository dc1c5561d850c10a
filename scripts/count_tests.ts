/**
 * Counts leaf tests in JUnit reports of `deno test --junit-path` and `bun test --reporter=junit`,
 * and prints one line per report plus the closing line `total: N passed, N failed, N skipped`.
 * Exits 1 when a report is missing or shows a failure, or when no test ran.
 *
 * Run: `deno run -A scripts/count_tests.ts deno=deno.xml bun=bun.xml`
 */
import { existsSync, readFileSync } from "node:fs";

/** Leaf-test counts of one report. */
export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** The failed leaf tests: name and the first line of the failure message. */
  failures: string[];
}

const unescape = (s: string) =>
  s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&gt;/g, ">").replace(
    /&lt;/g,
    "<",
  ).replace(/&quot;/g, '"').replace(/&amp;/g, "&");

/**
 * Counts the leaf test cases of a JUnit report. Deno also reports each `describe` block as a
 * test case whose steps follow as `block > step`; those containers are not counted.
 */
export function countJUnit(xml: string): Counts {
  const cases = [...xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({
    name: unescape(/\bname="([^"]*)"/.exec(m[1])?.[1] ?? ""),
    where: [/\bfile="([^"]*)"/, /\bclassname="([^"]*)"/].map((re) => re.exec(m[1])?.[1])
      .filter((s) => s && !s.startsWith("ext:")).map((s) => `${unescape(s!)} > `).join(""),
    body: m[3] ?? "",
  }));
  const names = cases.map((c) => c.name);
  const counts: Counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  const failure = (c: { name: string; where: string; body: string }) => {
    counts.failed++;
    const message = /message="([^"]*)"/.exec(c.body)?.[1] ?? "";
    counts.failures.push(`${c.where}${c.name}: ${unescape(message).split("\n")[0].slice(0, 300)}`);
  };
  for (const c of cases) {
    const isContainer = names.some((n) => n.startsWith(`${c.name} > `));
    if (isContainer) {
      // A container's own failure (a hook that threw) still counts as a failure.
      if (/<failure/.test(c.body) && !/test steps? failed/.test(c.body)) failure(c);
      continue;
    }
    if (/<failure|<error/.test(c.body)) failure(c);
    else if (/<skipped/.test(c.body)) counts.skipped++;
    else counts.passed++;
  }
  return counts;
}

if (import.meta.main) {
  const total: Counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  let ok = true;
  for (const arg of process.argv.slice(2)) {
    const [label, path] = arg.split("=");
    if (!existsSync(path)) {
      console.log(`${label}: no report at ${path} (the run did not finish)`);
      ok = false;
      continue;
    }
    const c = countJUnit(readFileSync(path, "utf8"));
    console.log(`${label}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`);
    // Named here because CI may show only the end of its output.
    for (const f of c.failures) console.log(`  failed: ${f}`);
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
  }
  console.log(`total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  if (!ok || total.failed > 0 || total.passed === 0) process.exit(1);
}
