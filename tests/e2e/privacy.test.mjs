// Privacy mode, as a user sharing their screen would use it: one button (or Alt+Shift+H)
// masks every amount and value with the same fixed-width mask, keeps percentages and prices,
// and stays on across lock and unlock (it is kept in the encrypted settings).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openApp, assertNoProblems, unlock, readAllStorage, assertAbsent, PASSWORD,
  assertNoCspViolations, faults, createAndConnect, key,
} from './lib.mjs';

const SIM = process.env.HOLDIX_SIM_URL;
const MASK = '••••••';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
afterEach(assertNoCspViolations);
beforeEach(async () => {
  await faults({});
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
});

// What OKX demo key 1 shows (okx.test.mjs checks these figures) that is not also part of a
// price: the total, each account, asset amounts and values, a position's unrealized PnL.
// (Cells that are also in prices, such as BTC's 0.5, are checked cell by cell below.)
const AMOUNTS = [
  '60,286.50', '57,032.50', '2,104.00', '1,150.00', '48,500.25', '1,550.75', '481.00', '650.00',
  '49.85',
];

/** Everything a reader or a screen reader gets: the page text and the accessibility tree. */
async function everything(page) {
  return `${await page.locator('body').innerText()}\n${await page.locator('body').ariaSnapshot()}`;
}

test('privacy mode masks every amount, keeps percentages, and survives lock and unlock', async () => {
  const { context, page } = await openApp(browser);
  await createAndConnect(page);
  const privacy = page.getByTestId('privacy');
  assert.equal(await privacy.getAttribute('aria-pressed'), 'false');
  const before = await everything(page);
  for (const a of AMOUNTS) assert.ok(before.includes(a), `${a} is shown before privacy mode`);

  await privacy.click();
  await page.getByTestId('total').getByText(MASK, { exact: true }).waitFor();
  assert.equal(await privacy.getAttribute('aria-pressed'), 'true');
  assert.equal(await privacy.innerText(), 'Show amounts');
  const hidden = await everything(page);
  for (const a of AMOUNTS) assert.ok(!hidden.includes(a), `${a} is masked`);
  assert.equal(await page.getByTestId('account-OKX-trading').innerText(), MASK);
  const row = async (asset) => (await page.getByTestId(`asset-${asset}`).innerText()).split('\t').map((s) => s.trim());
  // Amount and value masked; the price and the share stay.
  assert.deepEqual(await row('BTC'), ['BTC', MASK, '$97,000.5', MASK, '80.45%']);
  assert.deepEqual(await row('XYZ'), ['XYZ', MASK, 'no price', '—', '']);
  const pos = (await page.getByTestId('position-ETH-USDT-SWAP').innerText()).split('\t').map((s) => s.trim());
  assert.deepEqual(pos, ['ETH-USDT-SWAP SWAP', 'Short', MASK, '3,500', '3,400.3', MASK, '3×', '4,550.1', 'isolated']);

  // Locked and unlocked: still masked (the choice is in the encrypted settings).
  await page.getByTestId('lock').click();
  await unlock(page, PASSWORD);
  await page.getByTestId('total').getByText(MASK, { exact: true }).waitFor();
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
  const relocked = await everything(page);
  for (const a of AMOUNTS) assert.ok(!relocked.includes(a), `${a} stays masked after unlocking`);
  const k = key(1);
  assertAbsent(await readAllStorage(page), [k.secret, k.passphrase, PASSWORD]);

  // Alt+Shift+H shows the amounts again.
  await page.keyboard.press('Alt+Shift+KeyH');
  await page.getByTestId('total').getByText('$60,286.50', { exact: true }).waitFor();
  assert.equal(await privacy.getAttribute('aria-pressed'), 'false');
  assertNoProblems(page);
  await context.close();
});
