// WhiteBIT end to end, as a new user would: read in Connect that WhiteBIT cannot report a
// key's permissions and which read endpoints to allow, connect a key through the proxy to the
// exchange simulator, see Main, Spot, Collateral (with its positions) and Smart-Flex earn
// with exactly the fixture's amounts, meet every refusal at its field, and use WhiteBIT beside
// OKX, Binance and Bybit. Fixture: crates/sim/fixtures/demo.json (`whitebit`).
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openApp, assertNoProblems, createVault, readAllStorage, assertAbsent, PASSWORD,
  assertNoCspViolations, key, binanceKey, bybitKey, whitebitKey, faults, connect, refreshCountingBatches,
  BASE_URL,
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
const READ_ENDPOINTS = [
  '/api/v4/main-account/balance', '/api/v4/trade-account/balance', '/api/v4/collateral-account/balance',
  '/api/v4/collateral-account/summary', '/api/v4/collateral-account/positions/open',
  '/api/v4/main-account/smart-flex/investments',
];

test('connect WhiteBIT: told what WhiteBIT cannot check, then every balance and position, exactly', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await page.getByTestId('open-connect').click();
  assert.equal(await page.getByTestId('permission-notice').count(), 0, 'OKX reports permissions');
  await page.locator('#exchange').selectOption('WhiteBIT');
  const notice = page.getByTestId('permission-notice');
  assert.match(await notice.innerText(), /^WhiteBIT cannot tell Holdix what a key may do/);
  assert.ok((await notice.innerText()).includes(`allow only these read endpoints: ${READ_ENDPOINTS.join(', ')}.`));
  assert.match(await notice.innerText(), /forwards only these reads .* never an order, a withdrawal or a transfer/);
  assert.equal(await page.locator('#api-passphrase').count(), 0, 'WhiteBIT has no passphrase');
  assert.deepEqual(await page.locator('#region option').allInnerTexts(), ['Global (whitebit.com)', 'EU (whitebit.eu)']);
  assert.equal(await page.locator('#demo').count(), 0, 'WhiteBIT has no demo trading');
  assert.match(await page.locator('details.help summary').innerText(), /read-only WhiteBIT API key/);
  await connect(page, whitebitKey(1));
  await page.getByTestId('status-WhiteBIT').getByText('Up to date').waitFor();

  // At WhiteBIT's own prices (BTC 97,100, ETH 3,402, WBT 25.50, TRX 0.35, SHIB 0.00002).
  // Main: 0.05 BTC + 1,200 USDT; Spot: 0.12 BTC (0.02 in orders) + 0.5 ETH + 50 WBT + 12 TRX
  // ($4.20) + 20,000 SHIB ($0.40, a small balance); Collateral: 2,000 USDT + 0.01 BTC +
  // the positions' 139.75 USDT unrealized PnL; Earn: 3,000 USDT + 1.5 ETH active (the closed
  // USDC investment is not counted).
  assert.equal(await text(page, 'account-WhiteBIT-main'), '$6,055.00');
  assert.equal(await text(page, 'account-WhiteBIT-spot'), '$14,632.60');
  assert.equal(await text(page, 'account-WhiteBIT-collateral'), '$3,110.75');
  assert.equal(await text(page, 'account-WhiteBIT-earn'), '$8,103.00');
  assert.equal(await text(page, 'total'), '$31,901.35');
  const row = async (asset) => (await page.getByTestId(`asset-${asset}`).innerText()).split('\t').map((s) => s.trim());
  assert.deepEqual((await row('BTC')).slice(0, 2), ['BTC', '0.18']);
  assert.deepEqual((await row('WBT')).slice(0, 2), ['WBT', '50']);
  assert.equal(await page.getByTestId('asset-XLM').count(), 0, 'zero balances are not assets');
  assert.deepEqual((await row('TRX')).slice(0, 2), ['TRX', '12']);
  assert.equal(await page.getByTestId('asset-SHIB').count(), 0, 'under $1: behind "Show small balances"');
  assert.equal(await page.getByTestId('asset-USDC').count(), 0, 'a closed investment is not a holding');

  const positions = page.getByTestId('positions');
  assert.equal(await positions.locator('tbody tr').count(), 2);
  const pos = async (id) => (await page.getByTestId(id).innerText()).split('\t').map((s) => s.trim());
  assert.deepEqual((await pos('position-BTC_PERP')).slice(0, 3), ['BTC_PERP Futures', 'Long', '0.02']);
  assert.deepEqual((await pos('position-ETH_USDT')).slice(0, 3), ['ETH_USDT Margin', 'Short', '1']);
  assert.match((await pos('position-BTC_PERP')).join(' '), /5×/, "the account's leverage");

  assert.equal(await text(page, 'connection-info-WhiteBIT'), 'WhiteBIT · global · key permissions not reported by the exchange');
  const k = whitebitKey(1);
  assertAbsent(await readAllStorage(page), [k.secret, k.key, PASSWORD]);
  assertNoProblems(page);
  await context.close();
});

test('every WhiteBIT refusal is explained at its field, and nothing is saved', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  const cases = [
    [whitebitKey(1, { secret: 'copied-wrong' }), {}, 'api-key-error', /^WhiteBIT Global \(whitebit\.com\) did not accept this key's signature: the API Key or the API Secret was not copied completely/],
    [whitebitKey(5), {}, 'api-key-error', /A key of the other WhiteBIT site needs that Region/],
    [whitebitKey(4), {}, 'api-key-error', new RegExp(`^WhiteBIT has disabled this key\\..*two-factor authentication is turned off.*The proxy in use is ${BASE_URL.replace(/[.]/g, '\\.')}`)],
    // Used from an address it does not list: disabled, said the same way.
    [whitebitKey(3), {}, 'api-key-error', /^WhiteBIT has disabled this key\. It does so when a key with IP restriction is used from an address it does not list/],
  ];
  for (const [k, options, field, message] of cases) {
    await connect(page, k, options);
    assert.match(await text(page, field), message, `${field} for ${k.key}`);
  }
  await faults({ status: 503 });
  await connect(page, whitebitKey(1));
  assert.match(await text(page, 'connect-error'), /^WhiteBIT is unavailable right now \(HTTP 503\)/);
  await faults({ malformed_json: true });
  await connect(page, whitebitKey(1));
  assert.match(await text(page, 'connect-error'), /^WhiteBIT sent an answer Holdix could not read/);
  // HTTP 429 on every try: two retries after a pause, then said so.
  await faults({ force_rate_limit: true });
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
  await connect(page, whitebitKey(1));
  assert.match(await text(page, 'connect-error'), /^WhiteBIT is rate limiting the proxy's address/);
  const stats = await (await fetch(`${SIM}/__sim/stats`)).json();
  assert.equal(stats.by_path['/api/v4/trade-account/balance'], 3, 'one try and two retries');
  await faults({});
  const stored = (await readAllStorage(page)).filter((r) => r.key.startsWith('conn/'));
  assert.deepEqual(stored, [], 'no refused key was saved');

  // WhiteBIT's clock a minute ahead: nonces follow the measured clock, not this device's.
  await faults({ clock_offset_ms: 60_000 });
  await connect(page, whitebitKey(5), { region: 'eu', label: 'WhiteBIT EU' });
  await page.getByTestId('status-WhiteBIT EU').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'total'), '$31,901.35');
  assert.match(await text(page, 'connection-info-WhiteBIT EU'), /^WhiteBIT · eu · /);
  await faults({});
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('a key without Smart-Flex, and one without the Main balance: each said plainly', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await connect(page, whitebitKey(2), { label: 'No flex' });
  await page.getByTestId('status-No flex').getByText('Up to date').waitFor();
  assert.equal(await text(page, 'account-No flex-earn'), 'not readable');
  assert.equal(await text(page, 'account-No flex-collateral'), '$3,110.75');
  assert.equal(
    await text(page, 'unreadable-No flex-earn'),
    'No flex Earn is not readable with this key, so it is not in the total. On WhiteBIT, edit the API key and allow the endpoint /api/v4/main-account/smart-flex/investments (if WhiteBIT says lending API access is not enabled for your account, its support can enable it) (the key stays read-only), then refresh.',
  );
  assert.equal(await text(page, 'total'), '$23,798.35', 'everything but Earn');

  // Only the trade balance allowed: Connect's check passes (it reads the trade balance), the
  // refresh names the endpoint to add, and the other connection's data stays.
  await connect(page, whitebitKey(6), { label: 'Trade only' });
  await page.getByTestId('status-Trade only').getByText(/^This key may not call \/api\/v4\/main-account\/balance\. On WhiteBIT, edit the key's endpoint access and add/).waitFor();
  assert.equal(await text(page, 'total'), '$23,798.35');
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('OKX, Binance, Bybit and WhiteBIT together: one total, one refresh, one price book', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await connect(page, key(1));
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
  await connect(page, binanceKey(1));
  await page.getByTestId('status-Binance').getByText('Up to date').waitFor();
  await connect(page, bybitKey(1));
  await page.getByTestId('status-Bybit').getByText('Up to date').waitFor();
  await connect(page, whitebitKey(1));
  await page.getByTestId('status-WhiteBIT').getByText('Up to date').waitFor();
  // The three as before ($122,387.20); WhiteBIT at OKX's prices, first in the book (0.18 BTC
  // at 97,000.5, 2 ETH at 3,400.25), WBT, TRX and SHIB at WhiteBIT's prices (only WhiteBIT
  // lists them), and 6,339.75 USDT: $31,879.94. Spot: 11,640.06 + 1,700.125 + 1,275 + 4.20 +
  // 0.40 = 14,619.785, shown to the cent as every amount is (half to even).
  assert.equal(await text(page, 'account-WhiteBIT-spot'), '$14,619.78');
  assert.equal(await text(page, 'total'), '$154,267.14');

  // One batch for all four exchanges, then one for Bybit's second page of positions.
  assert.equal(await refreshCountingBatches(page, 'WhiteBIT'), 2);
  assert.equal(await text(page, 'total'), '$154,267.14');
  const w = whitebitKey(1);
  const y = bybitKey(1);
  const b = binanceKey(1);
  const o = key(1);
  assertAbsent(await readAllStorage(page), [w.secret, y.secret, b.secret, o.secret, o.passphrase, PASSWORD]);
  assertNoProblems(page);
  await context.close();
});
