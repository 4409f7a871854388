// Bybit end to end, as a new user would: connect a read-only key through the proxy to the
// exchange simulator, see Unified Trading, Funding, Earn and every position with exactly the
// fixture's amounts, meet every refusal at its field, and use Bybit beside OKX and Binance.
// Fixture: crates/sim/fixtures/demo.json (its Bybit pages hold two positions each).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openApp, assertNoProblems, createVault, readAllStorage, assertAbsent, PASSWORD,
  assertNoCspViolations, key, binanceKey, bybitKey, faults, connect, refreshCountingBatches,
} from './lib.mjs';

const SIM = process.env.HOLDIX_SIM_URL;
const DAY = 86_400_000;

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
afterEach(assertNoCspViolations);
beforeEach(async () => {
  await faults({});
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
});

const text = async (page, id) => (await page.getByTestId(id).innerText()).trim();
const day = (ms) => new Date(ms).toISOString().slice(0, 10);

test('connect Bybit: unified trading, funding, earn and every position, exactly the fixture', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await page.getByTestId('open-connect').click();
  await page.locator('#exchange').selectOption('Bybit');
  assert.equal(await page.locator('#api-passphrase').count(), 0, 'Bybit has no passphrase');
  const regions = await page.locator('#region option').allInnerTexts();
  assert.deepEqual(regions, [
    'Global (api.bybit.com)', 'Netherlands (api.bybit.nl)', 'Türkiye (api.bybit.tr)', 'Kazakhstan (api.bybit.kz)',
    'Georgia (api.bybitgeorgia.ge)', 'UAE (api.bybit.ae)', 'EEA (api.bybit.eu)',
  ]);
  assert.match(await page.locator('details.help summary').innerText(), /read-only Bybit API key/);
  const connected = Date.now();
  await connect(page, bybitKey(1));
  await page.getByTestId('status-Bybit').getByText('Up to date').waitFor();

  // Unified: Bybit's own usdValue (19,400 + 5,000 + 5,100); Funding: 1,000 USDC + 500 MNT at
  // $0.80; Earn: 2,000 USDT flexible + 1 ETH on-chain at Bybit's $3,401.
  assert.equal(await text(page, 'total'), '$36,301.00');
  assert.equal(await text(page, 'account-Bybit-trading'), '$29,500.00');
  assert.equal(await text(page, 'account-Bybit-funding'), '$1,400.00');
  assert.equal(await text(page, 'account-Bybit-earn'), '$5,401.00');
  const row = async (asset) => (await page.getByTestId(`asset-${asset}`).innerText()).split('\t').map((s) => s.trim());
  assert.deepEqual((await row('USDT')).slice(0, 2), ['USDT', '7,000']);
  assert.deepEqual((await row('ETH')).slice(0, 2), ['ETH', '2.5']);
  assert.equal(await page.getByTestId('asset-XRP').count(), 0, 'zero balances are not assets');

  // Every position: linear USDT over two pages (the third comes from the cursor), linear
  // USDC, inverse and the option.
  const positions = page.getByTestId('positions');
  assert.equal(await positions.locator('tbody tr').count(), 6);
  const pos = async (id) => (await page.getByTestId(id).innerText()).split('\t').map((s) => s.trim());
  assert.deepEqual((await pos('position-SOLUSDT')).slice(0, 3), ['SOLUSDT Linear USDT', 'Long', '10']);
  assert.deepEqual((await pos('position-BTCUSD')).slice(0, 3), ['BTCUSD Inverse', 'Short', '500']);
  assert.deepEqual((await pos('position-BTCPERP')).slice(0, 3), ['BTCPERP Linear USDC', 'Long', '0.002']);
  assert.deepEqual((await pos('position-BTC-26DEC26-100000-C')).slice(0, 3), ['BTC-26DEC26-100000-C Option', 'Long', '0.1']);

  // The key expires in 80 days: the date is on the connection, no warning yet.
  const expires = day(connected + 80 * DAY);
  assert.match(await text(page, 'connection-info-Bybit'), new RegExp(`^Bybit · global · key expires ${expires}$`));
  assert.equal(await page.getByTestId('expiry-Bybit').count(), 0);

  const k = bybitKey(1);
  assertAbsent(await readAllStorage(page), [k.secret, k.key, PASSWORD]);
  assertNoProblems(page);
  await context.close();
});

test('every Bybit refusal is explained at its field, and nothing is saved', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  const cases = [
    [bybitKey(2), {}, 'api-key-error', /^This key has read-write permissions: .*Wallet \(AccountTransfer, SubMemberTransfer, Withdraw\).* \(including withdrawals\) — Holdix will not use it/],
    [bybitKey(3), {}, 'api-key-error', /^This key is bound to IP addresses without the Holdix proxy's/],
    [bybitKey(5), {}, 'api-key-error', /^This key has expired\. Create a new read-only key on Bybit/],
    [bybitKey(1, { secret: 'copied-wrong' }), {}, 'api-secret-error', /^Signature not valid — the API Secret was copied incorrectly/],
    [bybitKey(9), {}, 'region-error', /^Bybit Global \(api\.bybit\.com\) does not know this API key\. If your account is on another Bybit site/],
    [bybitKey(8), {}, 'region-error', /a demo trading key needs “Demo trading key” on/],
    [bybitKey(1), { demo: true }, 'demo-error', /^Bybit's demo trading does not know this key/],
    [bybitKey(1, { secret: '-----BEGIN RSA PRIVATE KEY-----MIIEowIBAAKCAQEA-----END RSA PRIVATE KEY-----' }), {}, 'api-secret-error', /RSA private key: Holdix does not support those keys yet/],
  ];
  for (const [k, options, field, message] of cases) {
    await connect(page, k, options);
    assert.match(await text(page, field), message, `${field} for ${k.key}`);
  }
  await faults({ status: 503 });
  await connect(page, bybitKey(1));
  assert.match(await text(page, 'connect-error'), /^Bybit is unavailable right now \(HTTP 503\)/);
  await faults({});
  // Rate limited on every try: Holdix waits until Bybit's reset time, retries twice, then
  // says so.
  await faults({ force_rate_limit: true });
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
  await connect(page, bybitKey(1));
  assert.match(await text(page, 'connect-error'), /^Bybit is rate limiting this key or the proxy's address/);
  const stats = await (await fetch(`${SIM}/__sim/stats`)).json();
  assert.equal(stats.by_path['/v5/user/query-api'], 3, 'one try and two retries');
  await faults({});
  const stored = (await readAllStorage(page)).filter((r) => r.key.startsWith('conn/'));
  assert.deepEqual(stored, [], 'no refused key was saved');

  // The same EEA key on its own site, and the demo key with the switch on, connect.
  await connect(page, bybitKey(9), { region: 'eu', label: 'Bybit EEA' });
  await page.getByTestId('status-Bybit EEA').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'account-Bybit EEA-trading'), '$29,500.00');
  assert.match(await text(page, 'connection-info-Bybit EEA'), /^Bybit · eu · key expires /);
  await connect(page, bybitKey(8), { demo: true, label: 'Bybit demo' });
  await page.getByTestId('status-Bybit demo').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'account-Bybit demo-trading'), '$147,050.00');
  assert.match(await text(page, 'connection-info-Bybit demo'), /demo trading/);
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('a classic account, a key without Earn, a key about to expire: each said plainly', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  // Classic: no unified wallet; its Derivatives (0.05 BTC at $97,050) and Spot (1,000 DOGE at
  // $0.35) wallets instead.
  await connect(page, bybitKey(6), { label: 'Classic' });
  await page.getByTestId('status-Classic').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'account-Classic-derivatives'), '$4,852.50');
  assert.equal(await text(page, 'account-Classic-spot'), '$350.00');
  assert.equal(await text(page, 'account-Classic-trading'), 'not enabled');
  assert.equal(await text(page, 'total'), '$5,202.50');

  // No Earn permission: Earn is "not readable", with what to do; the rest is there.
  await connect(page, bybitKey(7), { label: 'No earn' });
  await page.getByTestId('status-No earn').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'account-No earn-earn'), 'not readable');
  assert.equal(await text(page, 'account-No earn-trading'), '$29,500.00');
  assert.match(await text(page, 'unreadable-No earn-earn'), /^No earn Earn is not readable with this key, so it is not in the total\. On Bybit, edit the API key and allow reading Earn/);
  assert.equal(await text(page, 'total'), '$36,102.50', '5,202.50 + 29,500 + 1,400');

  // Ten days left: the date on the connection and a warning on the dashboard.
  const connected = Date.now();
  await connect(page, bybitKey(4), { label: 'Soon' });
  await page.getByTestId('status-Soon').getByText('Up to date').waitFor();
  const expires = day(connected + 10 * DAY);
  assert.equal(
    await text(page, 'expiry-Soon'),
    `Soon The key expires on ${expires} (in 10 days). Create a new read-only key on Bybit before then, connect it, then remove this connection.`,
  );
  assert.equal(await page.getByTestId('expiry-Classic').count(), 0, '60 days left: no warning');
  assertNoProblems(page);
  await context.close();
});

test('OKX, Binance and Bybit together: one total, one refresh, one price book', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await connect(page, key(1));
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
  await connect(page, binanceKey(1));
  await page.getByTestId('status-Binance').getByText('Up to date').waitFor();
  await connect(page, bybitKey(1));
  await page.getByTestId('status-Bybit').getByText('Up to date').waitFor();
  // OKX + Binance as before ($86,086.95); Bybit's unified wallet at its own usdValue
  // ($29,500), funding $1,400, earn 2,000 USDT + 1 ETH at OKX's $3,400.25 (first in the book).
  assert.equal(await text(page, 'account-Bybit-earn'), '$5,400.25');
  assert.equal(await text(page, 'total'), '$122,387.20');
  assert.equal(await text(page, 'account-OKX-trading'), '$57,032.50');
  assert.equal(await text(page, 'account-Binance-spot'), '$13,750.05');

  // One batch for all three exchanges, then one for Bybit's second page of positions.
  assert.equal(await refreshCountingBatches(page, 'Bybit'), 2);
  assert.equal(await text(page, 'total'), '$122,387.20');
  const y = bybitKey(1);
  const b = binanceKey(1);
  const o = key(1);
  assertAbsent(await readAllStorage(page), [y.secret, b.secret, o.secret, o.passphrase, PASSWORD]);
  assertNoProblems(page);
  await context.close();
});
