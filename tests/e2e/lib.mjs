// Shared helpers for the end-to-end tests: launch headless Chromium, open the app, fail on
// console errors, read every kind of browser storage.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

export const BASE_URL = process.env.HOLDIX_BASE_URL;
if (!BASE_URL) throw new Error('HOLDIX_BASE_URL is not set: run these through `cargo xtask test`');

export const PASSWORD = 'correct horse battery staple 42';
export const NEW_PASSWORD = 'tangerine vortex quilt 1987';

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    ],
  });
}

/** A fresh page (own profile) that records console errors and uncaught exceptions. */
export async function openApp(browser, { viewport } = {}) {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.problems = problems;
  await page.goto(BASE_URL);
  return { context, page };
}

/** No console error or uncaught exception; `httpErrors` tolerates Chromium's own lines for
 *  error responses that the test provoked on purpose. */
export function assertNoProblems(page, { httpErrors = false } = {}) {
  const browserHttpLine = /^console: Failed to load resource: the server responded with a status of \d+/;
  const problems = page.problems.filter((p) => !(httpErrors && browserHttpLine.test(p)));
  assert.deepEqual(problems, [], 'the page logged errors');
}

export async function createVault(page, password = PASSWORD) {
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Confirm password', { exact: true }).fill(password);
  await page.getByTestId('create-vault').click();
  await page.getByTestId('dashboard').waitFor();
}

export async function unlock(page, password) {
  await page.getByTestId('unlock-form').waitFor();
  await page.locator('#unlock-password').fill(password);
  await page.getByTestId('unlock').click();
}

/** Every record in IndexedDB, localStorage, sessionStorage and Cache Storage, as text
 *  (binary values as latin-1, so plaintext bytes show up as themselves). */
export async function readAllStorage(page) {
  return page.evaluate(async () => {
    const asText = (v) => {
      if (v instanceof Uint8Array || v instanceof ArrayBuffer) {
        const bytes = v instanceof Uint8Array ? v : new Uint8Array(v);
        let s = '';
        for (const b of bytes) s += String.fromCharCode(b);
        return s;
      }
      return typeof v === 'string' ? v : JSON.stringify(v);
    };
    const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const out = [];
    for (const { name } of await indexedDB.databases()) {
      const db = await req(indexedDB.open(name));
      for (const storeName of db.objectStoreNames) {
        const store = db.transaction(storeName, 'readonly').objectStore(storeName);
        const keys = await req(store.getAllKeys());
        const values = await req(store.getAll());
        keys.forEach((k, i) => out.push({ where: `indexeddb:${name}/${storeName}`, key: String(k), value: asText(values[i]) }));
      }
      db.close();
    }
    for (const [where, s] of [['localStorage', localStorage], ['sessionStorage', sessionStorage]]) {
      for (let i = 0; i < s.length; i++) out.push({ where, key: s.key(i), value: s.getItem(s.key(i)) });
    }
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const r of await cache.keys()) out.push({ where: `cache:${name}`, key: r.url, value: await (await cache.match(r)).text() });
    }
    return out;
  });
}

/** Asserts that none of `secrets` appears in any storage, in plain, base64 or hex form. */
export function assertAbsent(records, secrets) {
  const dump = JSON.stringify(records);
  for (const secret of secrets) {
    const forms = [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')];
    for (const form of forms) assert.ok(!dump.includes(form), `a secret was found in browser storage (${form.slice(0, 4)}…)`);
  }
}
