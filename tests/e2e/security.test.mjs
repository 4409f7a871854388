// The security review's fixes, as a user (or an attacker's page) meets them: two tabs and a
// password change, erasing while another tab is open, nothing from the proxy in the HTTP
// cache, no exchange credential offered to the password manager, and Lock letting go of the
// key at once.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, openApp, assertNoProblems, createVault, unlock, PASSWORD, NEW_PASSWORD,
  assertNoCspViolations, key, faults, connect, createAndConnect, newTab, BASE_URL,
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

async function changePassword(page, from, to) {
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.locator('#current-password').fill(from);
  await page.locator('#changed-password').fill(to);
  await page.locator('#changed-confirm').fill(to);
  await page.getByTestId('change-password').click();
  await page.getByTestId('change-password-result').getByText('Password changed').waitFor();
}

test('two tabs: a password change in one locks the other, and the vault stays whole', async () => {
  const { context, page: tabA } = await openApp(browser);
  await createAndConnect(tabA);
  const tabB = await newTab(context);
  await unlock(tabB, PASSWORD);
  await tabB.getByTestId('dashboard').waitFor();

  await changePassword(tabA, PASSWORD, NEW_PASSWORD);
  // Tab B is told at once and locks: its key is retired.
  await tabB.getByTestId('unlock-form').waitFor();
  assert.match(await tabB.getByTestId('notice').innerText(), /password was changed in another tab/);
  // The old password no longer opens the vault; the new one does, and nothing is damaged.
  await unlock(tabB, PASSWORD);
  await tabB.getByTestId('unlock-password-error').getByText('Wrong password').waitFor();
  await unlock(tabB, NEW_PASSWORD);
  await tabB.getByTestId('dashboard').waitFor();
  await tabB.getByTestId('status-OKX').getByText('Up to date').waitFor();
  assert.equal(await tabB.getByTestId('total').innerText(), '$60,286.50');
  assertNoProblems(tabA);
  assertNoProblems(tabB);
  await context.close();
});

test('a refresh in flight during a password change saves under the new password', async () => {
  const { context, page } = await openApp(browser);
  await createAndConnect(page);
  await faults({ latency_ms: 2500 });
  await page.getByTestId('refresh').click();
  await page.getByTestId('status-OKX').getByText('Loading…').waitFor();
  // The password changes while the refresh waits for the exchange ...
  await changePassword(page, PASSWORD, NEW_PASSWORD);
  // ... and its snapshot, saved afterwards, is sealed under the new key.
  await page.getByRole('button', { name: 'Dashboard' }).click();
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
  await faults({});
  await page.reload();
  await unlock(page, NEW_PASSWORD);
  await page.getByTestId('dashboard').waitFor();
  assert.equal(await page.getByTestId('unlock-failure').count(), 0);
  assert.equal(await page.getByTestId('total').innerText(), '$60,286.50');
  assertNoProblems(page);
  await context.close();
});

test('erase vault while another tab has it open: the erase finishes, the other tab locks', async () => {
  const { context, page: tabA } = await openApp(browser);
  await createVault(tabA);
  const tabB = await newTab(context);
  await unlock(tabB, PASSWORD);
  await tabB.getByTestId('dashboard').waitFor();

  await tabA.getByRole('button', { name: 'Settings' }).click();
  await tabA.getByLabel('Type ERASE to confirm').fill('ERASE');
  await tabA.getByTestId('erase').click();
  await tabA.getByTestId('create-form').waitFor({ timeout: 5000 });
  // Tab B let go of the database, and shows the (empty) browser's Create screen.
  await tabB.getByTestId('create-form').waitFor({ timeout: 5000 });
  assert.equal(await tabB.getByTestId('dashboard').count(), 0);
  await context.close();
});

test('nothing from the proxy lands in the browser HTTP cache', async () => {
  const { context, page } = await openApp(browser);
  const proxied = new Set();
  page.on('request', (r) => {
    const { pathname } = new URL(r.url());
    if (/^\/(okx|okx-eea|okx-us|binance|bybit|whitebit|batch)\b/.test(pathname) && r.method() === 'GET') {
      proxied.add(r.url());
    }
  });
  await createAndConnect(page);
  // Without the app's own no-store: a plain GET of a public route and of the key's
  // permissions, as any page script or an old app version would make them.
  const direct = [`${BASE_URL}/okx/api/v5/public/time`, `${BASE_URL}/okx/api/v5/account/config`];
  await page.evaluate(async (urls) => { for (const u of urls) await (await fetch(u)).text(); }, direct);
  const urls = [...proxied, ...direct];
  assert.ok(proxied.size >= 2, `the app fetched through the proxy: ${[...proxied]}`);
  // `only-if-cached` answers from the HTTP cache only (stale or not), else fails.
  const cached = await page.evaluate(async (list) => {
    const found = [];
    for (const u of list) {
      try {
        const r = await fetch(u, { cache: 'only-if-cached', mode: 'same-origin' });
        if (r.ok || r.status !== 504) found.push(`${r.status} ${u}`);
      } catch { /* not in the cache: what we want */ }
    }
    return found;
  }, urls);
  assert.deepEqual(cached, [], 'proxied answers found in the HTTP cache');
  // Chromium logs each probe that found nothing: what this test wants.
  page.problems = page.problems.filter((p) => !/net::ERR_CACHE_MISS/.test(p));
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('the Connect dialog never offers an exchange credential to the password manager', async () => {
  const { context, page } = await openApp(browser, { url: null });
  // Password managers (Chromium's included) only offer to save what sits in a password
  // field; record every input that is, or ever becomes, one.
  await context.addInitScript(() => {
    window.__passwordFields = [];
    const note = (el) => {
      if (el instanceof HTMLInputElement && el.type === 'password') window.__passwordFields.push(el.id || el.name);
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes') note(r.target);
        for (const n of r.addedNodes ?? []) {
          if (n.querySelectorAll) { note(n); n.querySelectorAll('input').forEach(note); }
        }
      }
    }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['type'] });
  });
  await page.goto(BASE_URL);
  await createVault(page);
  await page.evaluate(() => { window.__passwordFields = []; }); // the vault's own fields are fine
  await page.getByTestId('open-connect').click();
  for (const id of ['api-secret', 'api-passphrase']) {
    const field = page.locator(`#${id}`);
    assert.equal(await field.getAttribute('type'), 'text');
    assert.equal(await field.getAttribute('autocomplete'), 'off');
    assert.equal(await field.evaluate((el) => getComputedStyle(el).webkitTextSecurity), 'disc', `${id} is masked`);
    await page.getByRole('button', { name: id === 'api-secret' ? 'Show API Secret' : 'Show API Passphrase' }).click();
    assert.equal(await field.evaluate((el) => getComputedStyle(el).webkitTextSecurity), 'none', `${id} can be shown`);
  }
  // A refusal, then a success (the dialog disappears: the moment a manager would offer).
  await connect(page, key(1, { passphrase: 'not-my-passphrase' }));
  await page.getByTestId('api-passphrase-error').getByText(/Passphrase incorrect/).waitFor();
  await connect(page, key(1));
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
  assert.deepEqual(await page.evaluate(() => window.__passwordFields), [], 'a credential sat in a password field');
  assertNoProblems(page, { httpErrors: true });
  await context.close();
});

test('Lock lets go of the vault key at once, even with a refresh in flight', async () => {
  const { context, page } = await openApp(browser);
  await createAndConnect(page);
  const liveKeys = () => page.evaluate(() => window.wasmBindings.live_vault_keys());
  assert.equal(await liveKeys(), 1, 'one key while unlocked');
  await faults({ latency_ms: 5000 });
  await page.getByTestId('refresh').click();
  await page.getByTestId('status-OKX').getByText('Loading…').waitFor();
  await page.getByTestId('lock').click();
  await page.getByTestId('unlock-form').waitFor();
  assert.equal(await liveKeys(), 0, 'no key alive after Lock, though the refresh had not finished');
  await faults({});
  await unlock(page, PASSWORD);
  await page.getByTestId('dashboard').waitFor();
  assert.equal(await liveKeys(), 1);
  await context.close();
});
