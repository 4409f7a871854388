// Browser figures for `cargo xtask bench`, measured side by side in one run in headless
// Chromium (medians of ROUNDS interleaved rounds), printed as `name: value unit`:
// - kdf_ms: one bare key derivation; unlock_ms: click "Unlock" → unlocked screen painted;
// - refresh_ms: unlocked → all 3 OKX connections refreshed and painted, with the simulator
//   answering every request after LATENCY_MS; refresh_chain_ms: the longest chain of
//   dependent requests (server time, then the batch) × LATENCY_MS.
import { launch, openApp, createVault, PASSWORD } from './lib.mjs';

const ROUNDS = 7;
const LATENCY_MS = 200;
const CHAIN = 2;
const SIM = process.env.HOLDIX_SIM_URL;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const faults = (f) => fetch(`${SIM}/__sim/faults`, {
  method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate_limits: false, ...f }),
});

const browser = await launch();
const { page } = await openApp(browser);
await createVault(page);
await faults({});
for (const n of [1, 2, 3]) {
  await page.getByTestId('open-connect').click();
  await page.locator('#conn-label').fill(`OKX ${n}`);
  await page.locator('#api-key').fill(`d2a1f5e0-0000-4000-8000-00000000000${n}`);
  await page.locator('#api-secret').fill(`DEMO-SECRET-${n}-7f3c9a1b2e4d`);
  await page.locator('#api-passphrase').fill(`Demo-Passphrase-${n}`);
  await page.getByTestId('connect').click();
  await page.getByTestId(`status-OKX ${n}`).getByText('Up to date').waitFor();
}

const kdf = [];
const unlock = [];
const refresh = [];
for (let i = 0; i < ROUNDS; i++) {
  await faults({});
  await page.reload();
  await page.getByTestId('unlock-form').waitFor();
  await page.waitForFunction(() => window.wasmBindings?.bench_kdf_ms);
  kdf.push(await page.evaluate(() => window.wasmBindings.bench_kdf_ms()));

  await faults({ latency_ms: LATENCY_MS });
  await page.locator('#unlock-password').fill(PASSWORD);
  const [u, r] = await page.evaluate(() => new Promise((resolve) => {
    const button = document.querySelector('[data-testid=unlock]');
    const start = performance.now();
    let unlocked = null;
    const painted = (then) => requestAnimationFrame(() => setTimeout(then, 0));
    const seen = new MutationObserver(() => {
      if (unlocked === null && document.querySelector('[data-testid=dashboard]')) {
        unlocked = 0;
        painted(() => { unlocked = performance.now(); });
      }
      const statuses = [...document.querySelectorAll('.status')];
      if (statuses.length === 3 && statuses.every((s) => s.classList.contains('ok'))) {
        seen.disconnect();
        painted(() => resolve([unlocked - start, performance.now() - unlocked]));
      }
    });
    seen.observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true });
    button.click();
  }));
  unlock.push(u);
  refresh.push(r);
}
await faults({});
await browser.close();

console.log(`kdf_ms: ${median(kdf).toFixed(0)} ms`);
console.log(`unlock_ms: ${median(unlock).toFixed(0)} ms`);
console.log(`unlock_over_kdf: ${(median(unlock) / median(kdf)).toFixed(2)} ratio`);
console.log(`refresh_ms: ${median(refresh).toFixed(0)} ms`);
console.log(`refresh_chain_ms: ${CHAIN * LATENCY_MS} ms`);
console.log(`refresh_over_chain: ${(median(refresh) / (CHAIN * LATENCY_MS)).toFixed(2)} ratio`);
