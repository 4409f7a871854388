// Value over time, as a user builds it up: each refresh adds a point (the simulator's market
// moves between them), the chart shows them with the exact change over the range, one asset's
// own history, the readout by keyboard, history kept encrypted across lock and unlock, CSV
// exports that agree with the screen, and refreshing by itself every 5 minutes (with
// Playwright's clock) but not while the tab is hidden.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  launch, openApp, assertNoProblems, unlock, readAllStorage, PASSWORD, BASE_URL,
  assertNoCspViolations, faults, createVault, whitebitKey, connect,
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
after(async () => { await faults({}); });

/** An exact decimal string as [BigInt, scale]. */
function dec(s) {
  const [int, frac = ''] = s.replace(/[$,]/g, '').split('.');
  return [BigInt(int + frac), frac.length];
}
/** a − b, exactly, as [BigInt, scale]. */
function sub(a, b) {
  const scale = Math.max(a[1], b[1]);
  const up = ([v, s]) => v * 10n ** BigInt(scale - s);
  return [up(a) - up(b), scale];
}
/** Rounded to cents (half away from zero) and written as the app does: `-$1,234.50`. */
function usd([v, scale]) {
  let cents = v;
  if (scale > 2) {
    const d = 10n ** BigInt(scale - 2);
    const half = d / 2n;
    cents = v < 0n ? -((-v + half) / d) : (v + half) / d;
  } else cents = v * 10n ** BigInt(2 - scale);
  const neg = cents < 0n;
  const abs = neg ? -cents : cents;
  const whole = (abs / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}$${whole}.${(abs % 100n).toString().padStart(2, '0')}`;
}
/** Multiplies two exact decimals. */
const mul = (a, b) => [a[0] * b[0], a[1] + b[1]];
const add = (a, b) => { const s = sub(a, [-b[0], b[1]]); return s; };

const points = async (page) => Number(await page.getByTestId('chart').getAttribute('data-points'));
const havePoints = (page, n) => page.getByTestId('chart').and(page.locator(`[data-points="${n}"]`)).waitFor();

/** Clicks Refresh; resolves once the refresh added its point and is over. */
async function refresh(page) {
  const n = await points(page);
  await page.getByTestId('refresh').click();
  await havePoints(page, n + 1);
  await page.getByTestId('refresh').getByText('Refresh', { exact: true }).waitFor();
  await page.getByTestId('status-WhiteBIT').getByText('Up to date').waitFor();
}
const total = async (page) => page.getByTestId('total').innerText();

/** Clicks an export button; resolves with the downloaded file's name and text. */
async function download(page, what) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(`export-${what}`).click()]);
  const path = await file.path();
  return { name: file.suggestedFilename(), text: fs.readFileSync(path, 'utf8') };
}

/** RFC 4180 rows of a CSV text (no field here has a quote or line break). */
const rows = (text) => text.split('\r\n').filter(Boolean).map((l) => l.split(','));

test('three refreshes with the market moving: three points, the exact change, one asset, CSV', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await connect(page, whitebitKey(1));
  await page.getByTestId('status-WhiteBIT').getByText('Up to date').waitFor();
  await havePoints(page, 1);
  assert.match(await page.getByTestId('history-change').innerText(), /Not enough history/);
  const totals = [await total(page)];
  for (const percent of [10, -5]) {
    await faults({ price_move_percent: percent });
    // The proxy shares a public answer (tickers) for one second.
    await page.waitForTimeout(1100);
    await refresh(page);
    totals.push(await total(page));
  }
  assert.equal(await points(page), 3);
  assert.notEqual(totals[0], totals[1], 'the market moved');
  assert.notEqual(totals[1], totals[2], 'the market moved back');

  // The history CSV holds each point's exact total; the screen showed each rounded.
  const history = await download(page, 'history');
  assert.match(history.name, /^holdix-history-\d{4}-\d{2}-\d{2}\.csv$/);
  const lines = rows(history.text);
  assert.deepEqual(lines[0], ['time_utc', 'kind', 'name', 'amount', 'value_usd']);
  const exact = lines.filter((r) => r[1] === 'total').map((r) => r[4]);
  assert.equal(exact.length, 3);
  assert.deepEqual(exact.map((t) => usd(dec(t))), totals);
  for (const r of lines.slice(1)) assert.match(r[0], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);

  // The change over 24 h: last − first, exactly, with its sign written out.
  const diff = sub(dec(exact[2]), dec(exact[0]));
  const money = usd(diff);
  const change = await page.getByTestId('history-change').innerText();
  const sign = diff[0] < 0n ? '▼ ' : '▲ +';
  assert.ok(change.startsWith(`${sign}${money} (`), `${change} starts with ${sign}${money}`);
  assert.ok(change.endsWith('%) over 24h'), change);
  const percent = Number(change.match(/\(([-+]?[\d.]+)%\)/)[1]);
  const expected = (Number(diff[0]) / 10 ** diff[1]) * 100 / Number(exact[0]);
  assert.ok(Math.abs(percent - expected) <= 0.005 + 1e-9, `${percent} vs ${expected}`);
  assert.equal(await page.getByTestId('history-change').getAttribute('class'), `change ${diff[0] < 0n ? 'down' : 'up'}`);

  // The readout: the latest point, then one back by keyboard.
  await page.getByTestId('chart').focus();
  await page.keyboard.press('End');
  assert.ok((await page.getByTestId('readout').innerText()).startsWith(`${totals[2]} at `));
  await page.keyboard.press('ArrowLeft');
  assert.ok((await page.getByTestId('readout').innerText()).startsWith(`${totals[1]} at `));
  await page.keyboard.press('Home');
  assert.ok((await page.getByTestId('readout').innerText()).startsWith(`${totals[0]} at `));

  // One asset's own history: BTC's value at each refresh (its row in the history CSV).
  await page.getByTestId('asset-history-BTC').click();
  await page.locator('[data-testid=history] h2').getByText('BTC value over time').waitFor();
  assert.equal(await points(page), 3);
  const btc = lines.filter((r) => r[1] === 'asset' && r[2] === 'BTC').map((r) => usd(dec(r[4])));
  await page.getByTestId('chart').focus();
  await page.keyboard.press('End');
  assert.ok((await page.getByTestId('readout').innerText()).startsWith(`${btc[2]} at `));
  assert.equal(await page.getByTestId('assets').getByTestId('asset-BTC').locator('td').nth(2).innerText(), btc[2]);
  await page.getByTestId('history-total').click();
  await page.locator('[data-testid=history] h2').getByText('Value over time', { exact: true }).waitFor();

  // Holdings CSV: every value is amount × price exactly, and they add up to the total.
  const holdings = await download(page, 'holdings');
  const h = rows(holdings.text);
  assert.deepEqual(h[0], ['connection', 'account', 'asset', 'amount', 'price_usd', 'value_usd']);
  let sum = [0n, 0];
  for (const r of h.slice(1)) {
    assert.equal(r[0], 'WhiteBIT');
    if (r[5] === '') continue;
    const product = mul(dec(r[3]), dec(r[4]));
    assert.equal(sub(product, dec(r[5]))[0], 0n, `${r.join(',')}: value = amount × price`);
    sum = add(sum, dec(r[5]));
  }
  assert.equal(usd(sum), totals[2]);

  // Locked and unlocked: the three points are still there, sealed (no total in plaintext).
  const stored = await readAllStorage(page);
  const records = stored.filter((r) => r.key.startsWith('history/'));
  assert.ok(records.length >= 1, 'history has records of its own');
  const dump = JSON.stringify(stored);
  for (const t of exact) assert.ok(!dump.includes(t), `the total ${t} is not stored in plaintext`);
  await page.getByTestId('lock').click();
  await unlock(page, PASSWORD);
  await page.getByTestId('status-WhiteBIT').getByText('Up to date').waitFor();
  assert.ok(await points(page) >= 3);
  assertNoProblems(page);
  await context.close();
});

test('it refreshes by itself every 5 minutes, not while the tab is hidden, and the setting turns it off', async () => {
  const context = await browser.newContext();
  await context.clock.install();
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  await page.goto(BASE_URL);
  await createVault(page);
  await connect(page, whitebitKey(1));
  await page.getByTestId('status-WhiteBIT').getByText('Up to date').waitFor();
  await havePoints(page, 1);

  // Four minutes: not yet. Five: a refresh, and a second point.
  await page.clock.fastForward('04:00');
  await page.waitForTimeout(1500);
  assert.equal(await points(page), 1);
  await page.clock.fastForward('01:05');
  await havePoints(page, 2);

  // Hidden: no refresh, though due; visible again: the next tick refreshes. (Auto-lock, 15
  // minutes without input by default, bounds how far the clock can go here.)
  await page.evaluate(() => Object.defineProperty(document, 'hidden', { configurable: true, get: () => true }));
  await page.clock.fastForward('06:00');
  await page.clock.fastForward('00:02');
  await page.waitForTimeout(1500);
  assert.equal(await points(page), 2, 'no refresh while hidden');
  await page.evaluate(() => Object.defineProperty(document, 'hidden', { configurable: true, get: () => false }));
  await page.clock.fastForward('00:02');
  await havePoints(page, 3);

  // Off in Settings: nothing more.
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByTestId('auto-refresh').selectOption('0');
  await page.waitForTimeout(500);
  await page.getByRole('button', { name: 'Dashboard' }).click();
  await page.clock.fastForward('06:00');
  await page.clock.fastForward('00:02');
  await page.waitForTimeout(1500);
  assert.equal(await points(page), 3, 'auto-refresh off');
  assert.deepEqual(page.problems, []);
  await context.close();
});
