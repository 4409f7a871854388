// Binance end to end, as a new user would: connect a read-only key through the proxy to the
// exchange simulator, see every wallet with exactly the fixture's amounts, meet every refusal
// at its field, and use Binance beside OKX. Fixture: crates/sim/fixtures/demo.json.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openApp, assertNoProblems, createVault, readAllStorage, assertAbsent, PASSWORD,
  assertNoCspViolations, key, binanceKey, faults, connect, refreshCountingBatches,
} from './lib.mjs';

const SIM = process.env.HOLDIX_SIM_URL;

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
afterEach(assertNoCspViolations);
beforeEach(async () => {
  await faults({});
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
});

const text = async (page, id) => (await page.getByTestId(id).innerText()).trim();

test('connect Binance: every wallet, exactly the fixture, LD mirrors not counted twice', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await page.getByTestId('open-connect').click();
  await page.locator('#exchange').selectOption('Binance');
  assert.equal(await page.locator('#api-passphrase').count(), 0, 'Binance has no passphrase');
  assert.equal(await page.locator('#region').count(), 0);
  assert.match(await page.locator('details.help summary').innerText(), /read-only Binance API key/);
  await connect(page, binanceKey(1));
  await page.getByTestId('status-Binance').getByText('Up to date').waitFor();

  assert.equal(await text(page, 'total'), '$25,815.75');
  assert.equal(await text(page, 'account-Binance-spot'), '$13,760.00');
  assert.equal(await text(page, 'account-Binance-funding'), '$250.00');
  assert.equal(await text(page, 'account-Binance-earn'), '$3,700.50');
  assert.equal(await text(page, 'account-Binance-margin'), '$4,355.00', 'net of the 500 USDT borrowed');
  assert.equal(await text(page, 'account-Binance-futures'), '$2,050.00');
  assert.equal(await text(page, 'account-Binance-coin-futures'), '$1,700.25');
  const row = async (asset) => (await page.getByTestId(`asset-${asset}`).innerText()).split('\t').map((s) => s.trim());
  // USDT: 1,000 spot + 250 funding + 300 earn − 500 margin debt + 2,050 futures; LDUSDT is the
  // earn position's mirror and is not an asset of its own.
  assert.deepEqual(await row('USDT'), ['USDT', '3,100', '$1', '$3,100.00', '12.01%', '0%']);
  assert.equal(await page.getByTestId('asset-LDUSDT').count(), 0);
  // 24 h from Binance's ticker/24hr: 95,100 → 97,100.
  assert.deepEqual(await row('BTC'), ['BTC', '0.15', '$97,100', '$14,565.00', '56.42%', '▲ +2.10%']);
  const pos = async (id) => (await page.getByTestId(id).innerText()).split('\t').map((s) => s.trim());
  const positions = page.getByTestId('positions');
  assert.equal(await positions.locator('tbody tr').count(), 3, 'hedge-mode long and short, and COIN-M');
  assert.deepEqual((await pos('position-ETHUSD_PERP')).slice(0, 3), ['ETHUSD_PERP COIN-M', 'Short', '10']);
  const btc = await positions.locator('[data-testid="position-BTCUSDT"]').allInnerTexts();
  assert.deepEqual(btc.map((r) => r.split('\t')[1].trim()).sort(), ['Long', 'Short']);

  const k = binanceKey(1);
  assertAbsent(await readAllStorage(page), [k.secret, k.key, PASSWORD]);
  assertNoProblems(page);
  await context.close();
});

test('every Binance refusal is explained at its field, and nothing is saved', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  const cases = [
    [binanceKey(2), 'api-key-error', /^This key can trade spot and margin — Holdix will not use it/],
    [binanceKey(3), 'api-key-error', /^This key can withdraw — Holdix will not use it/],
    [binanceKey(4), 'api-key-error', /If the key is restricted to trusted IPs, add the Holdix proxy's address/],
    [binanceKey(1, { secret: 'copied-wrong' }), 'api-secret-error', /^Signature not valid — the Secret Key was copied incorrectly/],
    [binanceKey(1, { key: 'too-short' }), 'api-key-error', /^API key format invalid/],
    [binanceKey(1, { secret: '-----BEGIN PRIVATE KEY-----MC4CAQAwBQYDK2VwBCIE-----END PRIVATE KEY-----' }), 'api-secret-error', /Ed25519 or RSA private key: Holdix does not support those keys yet/],
  ];
  for (const [k, field, message] of cases) {
    await connect(page, k);
    assert.match(await text(page, field), message, `${field} for ${k.key.slice(0, 24)}…`);
  }
  // Binance's edge down: an HTML error page, explained in words.
  await faults({ status: 503 });
  await connect(page, binanceKey(1));
  assert.match(await text(page, 'connect-error'), /^Binance is unavailable right now \(HTTP 503\)/);
  await faults({});
  const stored = (await readAllStorage(page)).filter((r) => r.key.startsWith('conn/'));
  assert.deepEqual(stored, [], 'no refused key was saved');
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('futures and margin never enabled: shown as not enabled, not as a failure', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await connect(page, binanceKey(5), { label: 'Spot only' });
  await page.getByTestId('status-Spot only').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'total'), '$991.00');
  assert.equal(await text(page, 'account-Spot only-spot'), '$991.00');
  for (const account of ['margin', 'futures', 'coin-futures']) {
    assert.equal(await text(page, `account-Spot only-${account}`), 'not enabled', account);
  }
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('OKX and Binance together: one total, one refresh, one price book', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await connect(page, key(1));
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
  await connect(page, binanceKey(1));
  await page.getByTestId('status-Binance').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'total'), '$86,086.95');
  // OKX's own figures are unchanged; Binance's BTC and ETH take OKX's prices (first in the
  // book), BNB only Binance quotes.
  assert.equal(await text(page, 'account-OKX-trading'), '$57,032.50');
  assert.equal(await text(page, 'account-Binance-spot'), '$13,750.05');
  assert.equal(await text(page, 'account-OKX-spot'), '—', 'OKX has no separate spot account');
  // DOT: OKX $6.5, Binance $6.7 (3 % apart): the row says who priced it.
  assert.match(await text(page, 'price-note-DOT'), /^Priced by OKX \(\$6\.5\); Binance \$6\.7 differs by more than 1 %/);
  assert.equal(await page.getByTestId('price-note-BTC').count(), 0, '0.1 % apart: no note');

  // One Refresh: one batch for both exchanges (their clocks are known by now).
  assert.equal(await refreshCountingBatches(page, 'Binance'), 1);
  assert.equal(await text(page, 'total'), '$86,086.95');
  const k = binanceKey(1);
  const o = key(1);
  assertAbsent(await readAllStorage(page), [k.secret, o.secret, o.passphrase, PASSWORD]);
  assertNoProblems(page);
  await context.close();
});
