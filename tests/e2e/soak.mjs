// The soak for `cargo xtask bench` (a bounded run, not a timed test): one OKX connection,
// auto-refresh every 100 ms for SOAK_REFRESHES refreshes against a simulator that answers
// about CHAOS_PERCENT % of exchange requests with a random failure (a 503 page, no answer
// until the proxy's 1 s timeout, a 429 with Retry-After, truncated JSON). At the end every
// refresh that was saved has its point in history (read back from IndexedDB), no console
// error and no unhandled rejection appeared, and the JS heap after − before (each after a
// forced GC) is printed as soak_heap_growth_mb (target ≤ 5). Exits non-zero if a check fails.
import {
  launch, openApp, createVault, connect, key, faults,
} from './lib.mjs';

const SOAK_REFRESHES = 300;
const CHAOS_PERCENT = 10;

const browser = await launch();
const { page, context } = await openApp(browser);
const consoleErrors = [];
const rejections = [];
page.on('console', (m) => {
  // The browser's own line for each injected HTTP failure is not the app's error.
  if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
});
page.on('pageerror', (e) => rejections.push(String(e)));
const hooks = (name, ...args) => page.evaluate(([n, a]) => window.wasmBindings[n](...a), [name, args]);
const counts = async () => Array.from(await hooks('bench_refresh_counts'));
const cdp = await context.newCDPSession(page);
const heapMb = async () => {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  return (await cdp.send('Runtime.getHeapUsage')).usedSize / (1024 * 1024);
};

await createVault(page);
await faults({ rate_limits: false });
await connect(page, key(1));
await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
await faults({ rate_limits: false, chaos_percent: CHAOS_PERCENT, chaos_hang_ms: 1500 });

const before = await heapMb();
const points0 = await hooks('bench_history_points');
const [started0, saved0] = await counts();
const t0 = Date.now();
await hooks('bench_auto_refresh', 100);
for (;;) {
  await new Promise((r) => setTimeout(r, 250));
  const [started] = await counts();
  if (started - started0 >= SOAK_REFRESHES) break;
  if (Date.now() - t0 > 20 * 60_000) throw new Error(`the soak stalled after ${started - started0} refreshes`);
}
await hooks('bench_auto_refresh', 0);
// Let the last refresh finish.
await page.waitForFunction(() => !document.querySelector('[data-testid=refresh]')?.disabled);
await new Promise((r) => setTimeout(r, 2_000));
const seconds = (Date.now() - t0) / 1000;
const [started, saved] = await counts();
const points = await hooks('bench_history_points');
const after = await heapMb();
await faults({});
await browser.close();

const refreshes = started - started0;
const savedRefreshes = saved - saved0;
const added = points - points0;
console.log(`soak_refreshes: ${refreshes} refreshes`);
console.log(`soak_seconds: ${seconds.toFixed(0)} s`);
console.log(`soak_saved_refreshes: ${savedRefreshes} refreshes`);
console.log(`soak_history_points_added: ${added} points`);
console.log(`soak_console_errors: ${consoleErrors.length} errors`);
console.log(`soak_unhandled_rejections: ${rejections.length} rejections`);
console.log(`soak_heap_before_mb: ${before.toFixed(2)} MB`);
console.log(`soak_heap_growth_mb: ${(after - before).toFixed(2)} MB`);
const failed = [];
if (added !== savedRefreshes) failed.push(`${savedRefreshes} refreshes saved but ${added} history points added`);
if (savedRefreshes === 0 || savedRefreshes === refreshes) failed.push(`the faults did not mix: ${savedRefreshes} of ${refreshes} saved`);
if (consoleErrors.length) failed.push(`console errors: ${consoleErrors.slice(0, 5).join(' | ')}`);
if (rejections.length) failed.push(`unhandled: ${rejections.slice(0, 5).join(' | ')}`);
if (failed.length) {
  console.error(`soak failed: ${failed.join('; ')}`);
  process.exit(1);
}
