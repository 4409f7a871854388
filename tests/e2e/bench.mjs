// Browser figures for `cargo xtask bench`, measured side by side in one run in headless
// Chromium (medians of ROUNDS interleaved rounds), printed as `name: value unit`:
// - kdf_ms: one bare key derivation (on the page's thread); unlock_ms: click "Unlock" →
//   unlocked screen painted (the key derived in the worker); unlock_longest_task_ms: the
//   longest main-thread task in between (see below);
// - refresh_ms: unlocked → one OKX, one Binance, one Bybit and one WhiteBIT connection refreshed and
//   painted, with the simulator answering every request after LATENCY_MS; refresh_chain_ms:
//   the longest chain of dependent requests (every exchange's server time at once, then one
//   batch, then Bybit's second page of positions, whose cursor comes from the first) ×
//   LATENCY_MS. refresh_proxy_requests, refresh_upstream_requests: one refresh of those four
//   connections, counted: browser → proxy requests, and proxy → exchange requests.
// - cold_load_ms: navigation → unlock screen painted, nothing cached (no service worker, empty
//   HTTP cache), served from 127.0.0.1; offline_load_ms: the same with the network off, every
//   file from the service worker's cache. slow4g_load_ms: the cold load over Lighthouse's
//   Slow 4G (median of 3, cache disabled, no service worker); wire_kb: the bytes of every
//   response finished by the time the unlock screen is painted.
// - dashboard_render_ms: Settings → Dashboard painted with about 200 assets;
//   chart_render_ms: a chart's range 24h → All painted, five years of history.
// - restore_ms, backup_export_ms: a backup of a vault with five years of history (50 assets)
//   restored into an empty browser (the password's key derivation included), then exported.
import {
  launch, openApp, createVault, connect, key, binanceKey, bybitKey, whitebitKey, faults, PASSWORD,
} from './lib.mjs';

const ROUNDS = 7;
let backupBytes = 0;
const LATENCY_MS = 200;
const CHAIN = 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await launch();
const { page } = await openApp(browser);
await createVault(page);
await faults({});
const CONNECTIONS = [[key(1), 'OKX'], [binanceKey(1), 'Binance'], [bybitKey(1), 'Bybit'], [whitebitKey(1), 'WhiteBIT']];
for (const [k, label] of CONNECTIONS) {
  await connect(page, k, { label });
  await page.getByTestId(`status-${label}`).getByText('Up to date').waitFor();
}

// What one refresh of the four connections costs: requests from the browser to the proxy
// (what a Worker counts against its plan) and from the proxy to the exchanges (what the
// proxy's CPU and the exchanges' per-IP limits see). Counted, not timed.
const simRequests = async () => (await (await fetch(`${process.env.HOLDIX_SIM_URL}/__sim/stats`)).json()).requests;
const toProxy = [];
const countProxy = (r) => {
  if (/^\/(batch$|[a-z-]+\/(api|sapi|fapi|dapi|v5)\/)/.test(new URL(r.url()).pathname)) toProxy.push(r.url());
};
page.on('request', countProxy);
const upstreamBefore = await simRequests();
await page.getByTestId('refresh').click();
let upstreamAfter = upstreamBefore;
for (let still = 0; still < 10;) {
  await new Promise((r) => setTimeout(r, 100));
  const n = await simRequests();
  still = n === upstreamAfter && n > upstreamBefore ? still + 1 : 0;
  upstreamAfter = n;
}
page.off('request', countProxy);
for (const [, label] of CONNECTIONS) await page.getByTestId(`status-${label}`).getByText('Up to date').waitFor();
const refreshProxyRequests = toProxy.length;
const refreshUpstreamRequests = upstreamAfter - upstreamBefore;

const kdf = [];
const unlock = [];
const unlockTask = [];
const refresh = [];
for (let i = 0; i < ROUNDS; i++) {
  // A Binance refresh weighs about 420 of the proxy's Binance budget (60 a second, burst
  // 2,000): pace the rounds so every one is measured unthrottled, as a user's would be.
  if (i > 0) await new Promise((r) => setTimeout(r, 6_000));
  await faults({});
  await page.reload();
  await page.getByTestId('unlock-form').waitFor();
  await page.waitForFunction(() => window.wasmBindings?.bench_kdf_ms);
  kdf.push(await page.evaluate(() => window.wasmBindings.bench_kdf_ms()));

  await faults({ latency_ms: LATENCY_MS });
  await page.locator('#unlock-password').fill(PASSWORD);
  const [u, r, t] = await page.evaluate((count) => new Promise((resolve) => {
    const button = document.querySelector('[data-testid=unlock]');
    const start = performance.now();
    let unlocked = null;
    // The longest main-thread task from the click to the unlocked screen painted: long tasks
    // and long animation frames as reported (50 ms and over), and the longest interval
    // between two animation frames (an upper bound of every task run within it).
    let longest = 0;
    const tasks = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (!unlocked || e.startTime < unlocked) longest = Math.max(longest, e.duration);
      }
    });
    tasks.observe({ type: 'longtask' });
    tasks.observe({ type: 'long-animation-frame' });
    let frame = start;
    const tick = (now) => {
      longest = Math.max(longest, now - frame);
      frame = now;
      if (unlocked === null) requestAnimationFrame(() => tick(performance.now()));
    };
    requestAnimationFrame(() => tick(performance.now()));
    const painted = (then) => requestAnimationFrame(() => setTimeout(then, 0));
    const seen = new MutationObserver(() => {
      if (unlocked === null && document.querySelector('[data-testid=dashboard]')) {
        unlocked = 0;
        painted(() => { unlocked = performance.now(); tick(unlocked); });
      }
      const statuses = [...document.querySelectorAll('.status:not(.notice)')];
      if (statuses.length === count && statuses.every((s) => s.classList.contains('ok'))) {
        seen.disconnect();
        painted(() => {
          // Entries are delivered after the fact: give the observer a task to report in.
          setTimeout(() => {
            tasks.disconnect();
            resolve([unlocked - start, performance.now() - unlocked, longest]);
          }, 0);
        });
      }
    });
    seen.observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true });
    // A refresh that does not finish fails the benchmark instead of hanging it.
    setTimeout(() => resolve([NaN, NaN]), 60_000);
    button.click();
  }), CONNECTIONS.length);
  if (Number.isNaN(r)) throw new Error('a refresh did not finish: see the statuses on the dashboard');
  unlock.push(u);
  refresh.push(r);
  unlockTask.push(t);
}
await faults({});

// Rendering, on the unlocked dashboard of the four connections (xtask gives WhiteBIT 175 more
// assets: about 200 in all): Settings → Dashboard until painted; and a value-history card
// holding five years of history (the app's bench_mount_history hook: daily, hourly for 90
// days, every 5 minutes for 48 hours), its range 24h → All until painted.
const paintedAfter = (selector) => page.evaluate((sel) => new Promise((resolve) => {
  const start = performance.now();
  const target = document.querySelector(sel);
  target.click();
  requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0));
}), selector);
const dashboard = [];
const chart = [];
for (let i = 0; i < ROUNDS; i++) {
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByTestId('dust').waitFor();
  await page.evaluate(() => { [...document.querySelectorAll('button.nav')].find((b) => b.textContent.trim() === 'Dashboard').id = 'bench-dashboard'; });
  dashboard.push(await paintedAfter('#bench-dashboard'));
}
const assetRows = await page.locator('[data-testid=assets] tbody tr').count();
const historyPoints = await page.evaluate(() => window.wasmBindings.bench_mount_history());
const card = page.getByTestId('bench-history');
for (let i = 0; i < ROUNDS; i++) {
  await card.getByTestId('range-24h').click();
  chart.push(await paintedAfter('[data-testid=bench-history] [data-testid=range-All]'));
}
const chartPoints = await card.getByTestId('chart').getAttribute('data-points');
if (Number(chartPoints) !== historyPoints) throw new Error(`the All range shows ${chartPoints} of ${historyPoints} points`);

// Backup of a vault with five years of history (50 assets; the file is written natively by
// history_bench, default key derivation): restored in an empty browser from the Create screen
// (click Restore → dashboard painted: reading, checking, the key derivation and writing are
// done before the dashboard shows) and
// exported again (Settings: click Export backup → "Saved …" painted). A new profile a round.
const BACKUP_PASSWORD = 'bench password of five years';
/** In-page: clicks `click`, resolves with the ms until `done` (an expression) holds, painted. */
const untilPainted = (click, done) => `new Promise((resolve) => {
  const start = performance.now();
  const seen = new MutationObserver(() => {
    if (${done}) { seen.disconnect(); requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0)); }
  });
  seen.observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
  document.querySelector(${JSON.stringify(click)}).click();
})`;
const restores = [];
const exports = [];
for (let i = 0; i < 3; i++) {
  const round = await openApp(browser);
  await round.page.getByTestId('restore-new').locator('summary').click();
  await round.page.getByTestId('restore-file').setInputFiles(process.env.HOLDIX_BENCH_BACKUP);
  await round.page.locator('#backup-password').fill(BACKUP_PASSWORD);
  restores.push(await round.page.evaluate(untilPainted('[data-testid=restore]', "document.querySelector('[data-testid=dashboard]')")));
  await round.page.getByRole('button', { name: 'Settings' }).click();
  await round.page.getByTestId('export-backup').waitFor();
  const [download, ms] = await Promise.all([
    round.page.waitForEvent('download'),
    round.page.evaluate(untilPainted('[data-testid=export-backup]', "document.querySelector('[data-testid=backup-status]')?.textContent.startsWith('Saved')")),
  ]);
  exports.push(ms);
  backupBytes = (await import('node:fs')).statSync(await download.path()).size;
  await round.context.close();
}

// Loads: one profile with a vault; rounds alternate cold and offline loads.
const loads = await openApp(browser, { url: null });
await loads.context.addInitScript(() => {
  const seen = new MutationObserver(() => {
    if (document.querySelector('[data-testid=unlock-form]')) {
      seen.disconnect();
      requestAnimationFrame(() => setTimeout(() => { window.unlockPaintedMs = performance.now(); }, 0));
    }
  });
  seen.observe(document, { childList: true, subtree: true });
});
const cdp = await loads.context.newCDPSession(loads.page);
await loads.page.goto(process.env.HOLDIX_BASE_URL);
await createVault(loads.page);
const loadOnce = async () => {
  await loads.page.reload();
  await loads.page.waitForFunction(() => window.unlockPaintedMs);
  return loads.page.evaluate(() => window.unlockPaintedMs);
};
const cold = [];
const offline = [];
for (let i = 0; i < ROUNDS; i++) {
  await loads.page.evaluate(async () => {
    for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
    for (const k of await caches.keys()) await caches.delete(k);
  });
  await cdp.send('Network.clearBrowserCache');
  cold.push(await loadOnce());
  await loads.page.evaluate(() => navigator.serviceWorker.ready);
  await loads.page.waitForFunction(() => navigator.serviceWorker.controller);
  await loads.context.setOffline(true);
  offline.push(await loadOnce());
  await loads.context.setOffline(false);
}

// Slow 4G (Lighthouse's: 1.6 Mbps down, 750 Kbps up, 150 ms RTT), cache disabled, no service
// worker: navigation → unlock screen painted, and the bytes on the wire by then (CDP's
// encodedDataLength of every response finished: headers and compressed bodies). 127.0.0.1 is a
// secure context, so Chromium accepts brotli here as over HTTPS: the `.br` copies go out.
let wire = 0;
cdp.on('Network.loadingFinished', (e) => { wire += e.encodedDataLength; });
await cdp.send('Network.enable');
const slow = [];
const wires = [];
for (let i = 0; i < 3; i++) {
  await loads.page.evaluate(async () => {
    for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
    for (const k of await caches.keys()) await caches.delete(k);
  });
  await cdp.send('Network.clearBrowserCache');
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 150, downloadThroughput: (1.6e6 / 8), uploadThroughput: (750e3 / 8),
  });
  wire = 0;
  slow.push(await loadOnce());
  wires.push(wire);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.send('Network.setCacheDisabled', { cacheDisabled: false });
}
await browser.close();

console.log(`kdf_ms: ${median(kdf).toFixed(0)} ms`);
console.log(`unlock_ms: ${median(unlock).toFixed(0)} ms`);
console.log(`unlock_longest_task_ms: ${median(unlockTask).toFixed(0)} ms`);
console.log(`unlock_over_kdf: ${(median(unlock) / median(kdf)).toFixed(2)} ratio`);
console.log(`refresh_ms: ${median(refresh).toFixed(0)} ms`);
console.log(`refresh_chain_ms: ${CHAIN * LATENCY_MS} ms`);
console.log(`refresh_over_chain: ${(median(refresh) / (CHAIN * LATENCY_MS)).toFixed(2)} ratio`);
console.log(`refresh_proxy_requests: ${refreshProxyRequests} requests`);
console.log(`refresh_upstream_requests: ${refreshUpstreamRequests} requests`);
console.log(`dashboard_render_ms: ${median(dashboard).toFixed(1)} ms`);
console.log(`dashboard_render_assets: ${assetRows} assets`);
console.log(`chart_render_ms: ${median(chart).toFixed(1)} ms`);
console.log(`chart_render_points: ${chartPoints} points`);
console.log(`restore_ms: ${median(restores).toFixed(0)} ms`);
console.log(`backup_export_ms: ${median(exports).toFixed(0)} ms`);
console.log(`backup_kb: ${(backupBytes / 1024).toFixed(0)} KB`);
console.log(`cold_load_ms: ${median(cold).toFixed(0)} ms`);
console.log(`offline_load_ms: ${median(offline).toFixed(0)} ms`);
console.log(`slow4g_load_ms: ${median(slow).toFixed(0)} ms`);
console.log(`wire_kb: ${(median(wires) / 1024).toFixed(1)} KB`);
