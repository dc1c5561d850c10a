/**
 * The dashboard's stylesheet and its one small script, served by the handler itself (a package
 * loaded from JSR cannot read files next to it, and there is no build step). Both are served
 * from the dashboard's own origin, so the Content-Security-Policy can forbid every inline
 * script and style.
 *
 * @module
 */

/**
 * Refreshes each `[data-live]` element from its URL every `data-every` ms while the tab is
 * visible (the server renders and escapes the fragment), and asks before `[data-confirm]` forms
 * submit.
 */
export const dashboardScript = `"use strict";
for (const el of document.querySelectorAll("[data-live]")) {
  const every = Number(el.dataset.every) || 2000;
  const tick = async () => {
    if (!document.hidden) {
      try {
        const res = await fetch(el.dataset.live, { credentials: "same-origin" });
        if (res.ok) {
          el.innerHTML = await res.text();
          el.dataset.refreshed = String(Date.now());
        }
      } catch {
        // The next tick tries again: a restarting server is not worth an alert.
      }
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !confirm(message)) event.preventDefault();
});
`;

/** The stylesheet: plain CSS, light and dark. */
export const dashboardStyle = `:root {
  color-scheme: light dark;
  --bg: #f7f7f8; --fg: #1d1d20; --muted: #6b6b74; --card: #fff; --line: #e2e2e6;
  --accent: #3559e0; --bad: #c62828; --warn: #b26a00; --ok: #2e7d32;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root { --bg: #16161a; --fg: #e8e8ea; --muted: #9a9aa5; --card: #1f1f24; --line: #2e2e35;
    --accent: #7b95ff; --bad: #ef6b6b; --warn: #e0a040; --ok: #6cc070; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 24px;
  background: var(--card); border-bottom: 1px solid var(--line); }
header .brand { font-weight: 700; font-size: 16px; color: var(--fg); text-decoration: none; }
header nav { display: flex; gap: 16px; flex: 1; }
header nav a { color: var(--muted); text-decoration: none; padding: 4px 0; }
header nav a[aria-current="page"] { color: var(--fg); border-bottom: 2px solid var(--accent); }
header .session { display: flex; gap: 8px; align-items: center; color: var(--muted); }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 48px; }
h1 { font-size: 20px; margin: 0 0 16px; }
h2 { font-size: 15px; margin: 24px 0 8px; }
a { color: var(--accent); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px;
  margin-bottom: 16px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:last-child td { border-bottom: 0; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { margin: 0; white-space: pre-wrap; word-break: break-word; }
pre.block { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px; }
.muted, .note { color: var(--muted); }
.state { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  border: 1px solid currentColor; }
.state-ready { color: var(--accent); } .state-scheduled { color: var(--muted); }
.state-running { color: var(--ok); } .state-failed { color: var(--bad); } .state-failing { color: var(--warn); }
.count-failed { color: var(--bad); font-weight: 600; } .count-failing { color: var(--warn); }
form.inline { display: inline; }
button { font: inherit; padding: 3px 10px; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.danger { color: var(--bad); }
input, select { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--card); color: var(--fg); }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: end; }
.filters label { display: flex; flex-direction: column; gap: 2px; color: var(--muted); font-size: 12px; }
.notice { padding: 8px 12px; border-radius: 6px; margin-bottom: 16px; border: 1px solid var(--ok); }
.notice.error { border-color: var(--bad); }
.pager { display: flex; gap: 12px; margin-top: 8px; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; }
.actions { display: flex; gap: 8px; margin-top: 12px; }
.legend { display: flex; gap: 16px; font-size: 12px; color: var(--muted); margin-bottom: 4px; }
.legend .enqueued::before, .legend .finished::before { content: ""; display: inline-block; width: 12px;
  height: 3px; margin-right: 6px; vertical-align: middle; }
.legend .enqueued::before { background: var(--accent); } .legend .finished::before { background: var(--ok); }
svg.chart { width: 100%; height: auto; display: block; }
td.nowrap { white-space: nowrap; }
svg.chart .grid { stroke: var(--line); }
svg.chart .axis { fill: var(--muted); font-size: 11px; }
svg.chart polyline { stroke-width: 2; }
svg.chart .enqueued { stroke: var(--accent); } svg.chart .finished { stroke: var(--ok); }
`;
