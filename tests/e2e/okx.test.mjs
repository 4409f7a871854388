// OKX end to end, as a new user would: connect through the proxy to the exchange
// simulator, see exactly the fixture's portfolio, reload, and meet every error the dialog
// must explain. Fixture: crates/sim/fixtures/demo.json.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openApp, assertNoProblems, createVault, unlock, readAllStorage, assertAbsent, PASSWORD,
  assertNoCspViolations, key, faults, connect, createAndConnect,
} from './lib.mjs';

const SIM = process.env.HOLDIX_SIM_URL;

async function storedConnections(page) {
  return (await readAllStorage(page)).filter((r) => r.where === 'indexeddb:holdix/records' && r.key.startsWith('conn/'));
}

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
afterEach(assertNoCspViolations);
beforeEach(async () => {
  await faults({});
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
});

test('connect OKX: the dashboard shows exactly the fixture; reload shows the snapshot, then refreshes', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await page.getByTestId('open-connect').click();
  const button = page.getByTestId('connect');
  assert.equal(await button.isDisabled(), true, 'Connect stays disabled until all three fields are filled');
  await page.locator('#api-key').fill(key(1).key);
  await page.locator('#api-secret').fill(key(1).secret);
  assert.equal(await button.isDisabled(), true);
  await connect(page, key(1));
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();

  assert.equal(await page.getByTestId('total').innerText(), '$60,286.50');
  assert.equal(await page.getByTestId('account-OKX-trading').innerText(), '$57,032.50');
  assert.equal(await page.getByTestId('account-OKX-funding').innerText(), '$2,104.00');
  assert.equal(await page.getByTestId('account-OKX-earn').innerText(), '$1,150.00');
  const row = async (asset) => (await page.getByTestId(`asset-${asset}`).innerText()).split('\t').map((s) => s.trim());
  // 24 h from OKX's open24h: BTC 95,000 → 97,000.5 (+2.11 %), OKB 50 → 48.1 (−3.8 %).
  assert.deepEqual(await row('BTC'), ['BTC', '0.5', '$97,000.5', '$48,500.25', '80.45%', '▲ +2.11%']);
  assert.deepEqual(await row('USDT'), ['USDT', '1,550.75', '$1', '$1,550.75', '2.57%', '0%']);
  assert.deepEqual(await row('OKB'), ['OKB', '10', '$48.1', '$481.00', '0.80%', '▼ -3.8%']);
  assert.deepEqual(await row('DOT'), ['DOT', '100', '$6.5', '$650.00', '1.08%', '0%']);
  assert.deepEqual(await row('XYZ'), ['XYZ', '1,000', 'no price', '—', '', '']);
  // The total's 24 h: 0.5 × 2,000.5 − 10 × 1.9 = 981.25, of 60,286.50 − 981.25 then: +1.65 %.
  assert.equal(await page.getByTestId('day-change').innerText(), '▲ +$981.25 (+1.65%) in 24 h (exchange prices)');
  assert.match(await page.getByTestId('unpriced-note').innerText(), /1 asset without a price is not counted in the total: XYZ/);
  const pos = (await page.getByTestId('position-ETH-USDT-SWAP').innerText()).split('\t').map((s) => s.trim());
  assert.deepEqual(pos, ['ETH-USDT-SWAP SWAP', 'Short', '5', '3,500', '3,400.3', '49.85', '3×', '4,550.1', 'isolated']);
  assert.equal(await page.getByTestId('position-BTC-USDT-SWAP').locator('td').first().innerText(), 'Long');

  // The saved credential is nowhere in plaintext.
  const k = key(1);
  const records = await readAllStorage(page);
  assert.equal(records.filter((r) => r.key.startsWith('conn/')).length, 1);
  assert.ok(records.some((r) => r.key === 'snapshot/latest'));
  assertAbsent(records, [k.secret, k.passphrase, k.key, PASSWORD]);

  // Reload: the snapshot shows at once while a slow refresh runs, then it is refreshed.
  await faults({ latency_ms: 1500 });
  await page.reload();
  await unlock(page, PASSWORD);
  await page.getByTestId('status-OKX').getByText('Loading…').waitFor();
  assert.equal(await page.getByTestId('total').innerText(), '$60,286.50');
  assert.match(await page.getByTestId('as-of').innerText(), /^As of /);
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
  assertNoProblems(page);
  await context.close();
});

test('every connection problem is explained at its field, and nothing is saved', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  const cases = [
    [key(1, { passphrase: 'not-my-passphrase' }), {}, 'api-passphrase-error', /^Passphrase incorrect — it doesn't match the one you set/],
    [key(1, { secret: 'copied-wrong' }), {}, 'api-key-error', /^Invalid API key — the key or secret was copied incorrectly/],
    [key(9), {}, 'api-key-error', /^Invalid API key/],
    [key(5), {}, 'connect-error', /IP restriction — OKX saw this request come from 127\.0\.0\.1\. That is the address of the Holdix proxy/],
    [key(4), {}, 'api-key-error', /^This key has trade permission, so Holdix will not use it/],
    [key(6), { demo: false }, 'demo-error', /Toggle “Demo trading key”/],
    [key(1), { demo: true }, 'demo-error', /Toggle “Demo trading key”/],
  ];
  for (const [k, options, where, message] of cases) {
    await connect(page, k, options);
    const text = await page.getByTestId(where).innerText();
    assert.match(text, message);
    assert.ok(!text.includes('{'), 'never raw JSON');
    assert.deepEqual(await storedConnections(page), [], 'nothing is saved');
  }
  // Demo key with the toggle on connects.
  await connect(page, key(6), { demo: true, label: 'OKX demo' });
  await page.getByTestId('status-OKX demo').getByText('Up to date').waitFor();
  assert.equal((await storedConnections(page)).length, 1);
  // Chromium logs each refused (401) request itself; nothing else may be logged.
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('a browser clock 60 s off just works', async () => {
  await faults({ clock_offset_ms: 60_000 });
  const { context, page } = await openApp(browser);
  await createAndConnect(page);
  assert.equal(await page.getByTestId('total').innerText(), '$60,286.50');
  await context.close();
});

test('exchange down: the snapshot stays, with a clear error; back up, refresh works', async () => {
  const { context, page } = await openApp(browser);
  await createAndConnect(page);
  await faults({ status: 503 });
  await page.getByTestId('refresh').click();
  const status = page.getByTestId('status-OKX');
  await status.getByText('OKX is unavailable right now (HTTP 503)').waitFor();
  assert.equal(await page.getByTestId('total').innerText(), '$60,286.50', 'the last snapshot stays on screen');
  // The proxy itself unreachable (every request to it fails at the network level).
  await faults({});
  await page.route(/\/(batch|okx\/.*)$/, (route) => route.abort('connectionrefused'));
  await page.getByTestId('refresh').click();
  await status.getByText('Cannot reach the proxy at').waitFor();
  assert.match(await status.innerText(), /Cannot reach the proxy at http:\/\/127\.0\.0\.1:\d+/);
  assert.equal(await page.getByTestId('total').innerText(), '$60,286.50');
  await page.unroute(/\/(batch|okx\/.*)$/);
  await page.getByTestId('refresh').click();
  await status.getByText('Up to date').waitFor();
  await context.close();
});

test('manage connections: rename and remove (with confirmation)', async () => {
  const { context, page } = await openApp(browser);
  await createAndConnect(page);
  const item = page.getByTestId('connection-OKX');
  await item.getByRole('textbox').fill('My OKX');
  await item.getByRole('button', { name: 'Rename' }).click();
  await page.getByTestId('connection-My OKX').waitFor();
  await page.getByTestId('connection-My OKX').getByRole('button', { name: 'Remove…' }).click();
  await page.getByTestId('confirm-remove').click();
  await page.getByText('No exchanges connected yet').waitFor();
  assert.equal(await page.getByTestId('total').innerText(), '$0.00');
  assert.deepEqual(await storedConnections(page), []);
  await context.close();
});

test('rate limited: retried with pauses, then said so; the snapshot stays', async () => {
  const { context, page } = await openApp(browser);
  await createAndConnect(page);
  await faults({ force_rate_limit: true });
  await page.getByTestId('refresh').click();
  await page.getByTestId('status-OKX').getByText('OKX is rate limiting requests').waitFor();
  assert.equal(await page.getByTestId('total').innerText(), '$60,286.50');
  const stats = await (await fetch(`${SIM}/__sim/stats`)).json();
  assert.ok(stats.by_path['/api/v5/account/balance'] >= 4, 'the balance request was retried');
  await context.close();
});
