// Browser figures for `cargo xtask bench`, measured side by side in one run in headless
// Chromium: bare key derivation (kdf_ms) and click-to-unlocked-screen-painted (unlock_ms).
// Prints `name: value unit` lines; medians of ROUNDS interleaved rounds.
import { launch, openApp, createVault, PASSWORD } from './lib.mjs';

const ROUNDS = 7;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await launch();
const { page } = await openApp(browser);
await createVault(page);

const kdf = [];
const unlock = [];
for (let i = 0; i < ROUNDS; i++) {
  await page.reload();
  await page.getByTestId('unlock-form').waitFor();
  await page.waitForFunction(() => window.wasmBindings?.bench_kdf_ms);
  kdf.push(await page.evaluate(() => window.wasmBindings.bench_kdf_ms()));

  await page.locator('#unlock-password').fill(PASSWORD);
  unlock.push(await page.evaluate(() => new Promise((resolve) => {
    const button = document.querySelector('[data-testid=unlock]');
    const start = performance.now();
    const seen = new MutationObserver(() => {
      if (!document.querySelector('[data-testid=dashboard]')) return;
      seen.disconnect();
      // The frame that shows the dashboard is painted before this task runs.
      requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0));
    });
    seen.observe(document.body, { childList: true, subtree: true });
    button.click();
  })));
}
await browser.close();

console.log(`kdf_ms: ${median(kdf).toFixed(0)} ms`);
console.log(`unlock_ms: ${median(unlock).toFixed(0)} ms`);
console.log(`unlock_over_kdf: ${(median(unlock) / median(kdf)).toFixed(2)} ratio`);
