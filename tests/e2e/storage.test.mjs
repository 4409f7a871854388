// Browser storage that fails: every IndexedDB write refused with the browser's
// QuotaExceededError (the page's IDBObjectStore.put answers as a full disk makes it; the
// DevTools quota override does not reach a test's browser context), so a refresh's
// snapshot and a setting cannot be saved. The user is told, nothing stored is lost or
// changed, the app goes on working, and with space again everything saves.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openApp, assertNoCspViolations, createAndConnect, unlock, faults, connect, binanceKey, PASSWORD,
} from './lib.mjs';

const FIXTURE_TOTAL = '$60,286.50';
const FULL = /storage for Holdix is full, so this was not saved; nothing stored was changed/;

let browser;
before(async () => { browser = await launch(); await faults({}); });
after(async () => { await browser?.close(); });
afterEach(assertNoCspViolations);

test('storage full: a refresh, a new connection and a setting are not saved and the user is told; nothing is lost; with space again both save', async () => {
  const { page, context } = await openApp(browser);
  try {
    await createAndConnect(page);
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);
    const full = () => page.evaluate(() => {
      window.realPut ??= IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function put() {
        throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      };
    });
    const space = () => page.evaluate(() => { IDBObjectStore.prototype.put = window.realPut; });
    await full();

    // A refresh: the exchange answers, the snapshot cannot be saved.
    await page.getByTestId('refresh').click();
    await page.getByRole('alert').getByText(FULL).waitFor();
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();

    // A new connection: checked with the exchange, then not saved; the dialog says why.
    await connect(page, binanceKey(1), { label: 'Binance' });
    await page.getByTestId('connect-error').getByText(FULL).waitFor();
    await page.keyboard.press('Escape');

    // A setting: not saved, and the control shows what is stored again, not the refused
    // choice (for the auto-lock and for a dashboard setting).
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#auto-lock').selectOption('60');
    await page.getByText(FULL).first().waitFor();
    await page.waitForFunction(() => document.querySelector('#auto-lock').value === '15');
    const refresh = await page.locator('#auto-refresh').inputValue();
    const other = await page.locator('#auto-refresh option').evaluateAll(
      (options, stored) => options.map((o) => o.value).find((v) => v !== stored), refresh);
    await page.locator('#auto-refresh').selectOption(other);
    await page.locator('section:has(#auto-refresh) [role=status]').getByText(FULL).waitFor();
    await page.waitForFunction((stored) => document.querySelector('#auto-refresh').value === stored, refresh);

    // Nothing lost: the vault opens to what it held before.
    await page.reload();
    await full();
    await unlock(page, PASSWORD);
    await page.getByTestId('status-OKX').waitFor();
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);
    assert.equal(await page.getByTestId('status-Binance').count(), 0, 'the refused connection was not kept');
    await page.getByRole('button', { name: 'Settings' }).click();
    assert.equal(await page.locator('#auto-lock').inputValue(), '15');

    // Space again: both save.
    await space();
    await page.locator('#auto-lock').selectOption('60');
    await page.getByText('Saved.').first().waitFor();
    await page.getByRole('button', { name: 'Dashboard' }).click();
    await page.getByTestId('refresh').click();
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    await page.waitForFunction(() => !document.querySelector('[role=alert]')?.textContent.includes('storage for Holdix is full'));
    await page.reload();
    await unlock(page, PASSWORD);
    await page.getByRole('button', { name: 'Settings' }).click();
    assert.equal(await page.locator('#auto-lock').inputValue(), '60');
  } finally {
    await context.close();
  }
});
