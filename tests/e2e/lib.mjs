// Shared helpers for the end-to-end tests: launch headless Chromium, open the app, fail on
// console errors, read every kind of browser storage.
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BASE_URL = process.env.HOLDIX_BASE_URL;

/** The simulator's demo fixture: what it plays (`upstreams`) and the demo keys. */
export const FIXTURE = JSON.parse(fs.readFileSync(new URL('../../crates/sim/fixtures/demo.json', import.meta.url)));

/** `--upstream family=SIM/family` for every exchange family the simulator plays. */
export function simUpstreams(sim = process.env.HOLDIX_SIM_URL) {
  return FIXTURE.upstreams.flatMap((f) => ['--upstream', `${f}=${sim}/${f}`]);
}
if (!BASE_URL) throw new Error('HOLDIX_BASE_URL is not set: run these through `cargo xtask test`');

export const PASSWORD = 'correct horse battery staple 42';
export const NEW_PASSWORD = 'tangerine vortex quilt 1987';

const CHROMIUM = {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
  ],
};

export async function launch() {
  return chromium.launch(CHROMIUM);
}

/** Records console errors, uncaught exceptions and Content-Security-Policy violations (the
 *  listener runs before the app's own scripts) as `page.problems`. */
async function watch(context, page) {
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.problems = problems;
  watched.push(page);
}

const watched = [];

/** For `afterEach` in every file: no page opened since the last call reported a
 *  Content-Security-Policy violation (ours or Chromium's own "Refused to …" line). */
export function assertNoCspViolations() {
  const lines = watched.flatMap((p) => p.problems.filter((x) => /CSP violation|Content Security Policy/.test(x)));
  watched.length = 0;
  assert.deepEqual(lines, [], 'Content-Security-Policy violations');
}

/** A fresh page (own incognito profile), watched by `watch`; `url: null` opens nothing. */
export async function openApp(browser, { viewport, url = BASE_URL } = {}) {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  await watch(context, page);
  if (url) await page.goto(url);
  return { context, page };
}

/** Another tab of the same profile (shares IndexedDB with the first), watched too. */
export async function newTab(context, url = BASE_URL) {
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => { if (m.type() === 'error') page.problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  watched.push(page);
  await page.goto(url);
  return page;
}

/** A page in a fresh on-disk profile of its own browser: what an installed PWA gets
 *  (Chromium refuses installation and persistent storage to incognito profiles). */
export async function openProfile(url) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'holdix-profile-'));
  const context = await chromium.launchPersistentContext(dir, CHROMIUM);
  const page = context.pages()[0] ?? await context.newPage();
  await watch(context, page);
  await page.goto(url);
  const close = async () => { await context.close(); fs.rmSync(dir, { recursive: true, force: true }); };
  return { context, page, close };
}

/** No console error, uncaught exception or CSP violation. `httpErrors` tolerates Chromium's
 *  own lines for error responses the test provoked; `netErrors` its lines for servers the
 *  test stopped on purpose. */
export function assertNoProblems(page, { httpErrors = false, netErrors = false } = {}) {
  const browserHttpLine = /^console: Failed to load resource: the server responded with a status of \d+/;
  const browserNetLine = /^console: Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|FAILED)/;
  const problems = page.problems.filter((p) => !(httpErrors && browserHttpLine.test(p))
    && !(netErrors && browserNetLine.test(p)));
  assert.deepEqual(problems, [], 'the page logged errors');
}

/** A free loopback port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

/** Runs `bin args` and resolves once `url`/healthz answers; `stop()` kills it (SIGKILL: as
 *  abrupt as a crash, nothing may depend on a clean exit). */
async function startService(name, bin, args, { url, cwd, env = {} }) {
  const child = spawn(bin, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  // A test that fails before stopping its server must not keep the test runner alive.
  child.unref();
  child.stderr.unref();
  children.add(child);
  child.once('exit', () => children.delete(child));
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited: ${log}`);
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = () => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
  return { url, stop, log: () => log };
}

/** Starts the real `holdix-proxy` binary (`HOLDIX_PROXY_BIN`) on 127.0.0.1:`port`, with OKX
 *  sent to the simulator; `staticDir` also serves the app. Resolves when /healthz answers. */
export async function startProxy({ port, staticDir, cwd, env = {} }) {
  const bin = process.env.HOLDIX_PROXY_BIN;
  if (!bin) throw new Error('HOLDIX_PROXY_BIN is not set: run these through `cargo xtask test`');
  port ??= await freePort();
  const args = ['--listen', `127.0.0.1:${port}`, ...simUpstreams()];
  if (staticDir) args.push('--static', staticDir);
  const url = `http://127.0.0.1:${port}`;
  return { port, ...(await startService('holdix-proxy', bin, args, { url, cwd, env })) };
}

/** Starts the built Worker (`HOLDIX_EDGE_DIR`, from `cargo xtask edge`) in workerd
 *  (`HOLDIX_WORKERD`) on 127.0.0.1:`port`, every exchange sent to the simulator, allowing
 *  the app's `origin`. Resolves when /healthz answers. */
export async function startWorker({ port, origin, env = {} }) {
  const bin = process.env.HOLDIX_WORKERD;
  const dir = process.env.HOLDIX_EDGE_DIR;
  if (!bin || !dir) throw new Error('HOLDIX_WORKERD / HOLDIX_EDGE_DIR are not set: run these through `cargo xtask test`');
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const upstreams = [];
  for (let i = 0; i < simUpstreams().length; i += 2) upstreams.push(simUpstreams()[i + 1]);
  const args = ['serve', 'workerd.capnp', '--socket-addr', `http=127.0.0.1:${port}`];
  const vars = { HOLDIX_TEST_UPSTREAMS: upstreams.join(' '), ALLOWED_ORIGINS: origin };
  return { port, dir, ...(await startService('workerd', bin, args, { url, cwd: dir, env: { ...vars, ...env } })) };
}

/** The built app as plain files from a plain Node static server, under a sub-folder. */
export async function staticHost(dist, prefix) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.webmanifest': 'application/manifest+json' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let rel = url.pathname.startsWith(prefix) ? decodeURIComponent(url.pathname.slice(prefix.length)) : null;
    if (rel === '') rel = 'index.html';
    const file = rel && path.join(dist, rel);
    if (!file || !file.startsWith(dist) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}${prefix}`, close: () => new Promise((r) => server.close(r)) };
}


/** Every file and folder under `dir` with its size and modification time. */
export function dirState(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.statSync(p);
      out.push(`${path.relative(dir, p)} ${st.isDirectory() ? 'dir' : st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

/** Files of a built app, `/`-separated and sorted, without the service worker and the
 *  precompressed copies (`.br`, `.gz`) the server picks from by Accept-Encoding. */
export function appFiles(dist) {
  return dirState(dist)
    .map((line) => line.split(' '))
    .filter(([, kind]) => kind !== 'dir')
    .map(([rel]) => rel.split(path.sep).join('/'))
    .filter((f) => f !== 'sw.js' && !f.endsWith('.br') && !f.endsWith('.gz'))
    .sort();
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


/** OKX demo key N of the simulator's fixture (crates/sim/fixtures/demo.json); 9 is a key
 *  the fixture does not have. */
export const key = (n, extra = {}) => {
  const k = FIXTURE.okx.keys[n - 1] ?? { api_key: `d2a1f5e0-0000-4000-8000-00000000000${n}`, secret: 'none', passphrase: 'none' };
  return { exchange: 'OKX', key: k.api_key, secret: k.secret, passphrase: k.passphrase, ...extra };
};

/** Binance demo key N of the fixture: 1 read-only, 2 spot trading, 3 withdrawals, 4 IP-bound,
 *  5 futures and margin never enabled. */
export const binanceKey = (n, extra = {}) => {
  const k = FIXTURE.binance.keys[n - 1];
  return { exchange: 'Binance', key: k.api_key, secret: k.secret, ...extra };
};

/** Bybit demo key N of the fixture: 1 read-only (expires in 80 days), 2 read-write, 3 IP-bound,
 *  4 expiring in 10 days, 5 expired, 6 classic account, 7 no Earn permission, 8 demo trading,
 *  9 EEA site. */
export const bybitKey = (n, extra = {}) => {
  const k = FIXTURE.bybit.keys[n - 1];
  return { exchange: 'Bybit', key: k.api_key, secret: k.secret, ...extra };
};

/** WhiteBIT demo key N of the fixture: 1 full read, 2 without Smart-Flex, 3 IP-bound, 4 disabled,
 *  5 whitebit.eu, 6 trade balance only. */
export const whitebitKey = (n, extra = {}) => {
  const k = FIXTURE.whitebit.keys[n - 1];
  return { exchange: 'WhiteBIT', key: k.api_key, secret: k.secret, ...extra };
};

/** Sets the simulator's faults (rate limits off unless asked). */
export async function faults(f) {
  const r = await fetch(`${process.env.HOLDIX_SIM_URL}/__sim/faults`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rate_limits: false, ...f }),
  });
  assert.equal(r.status, 204);
}

/** Fills and submits the Connect dialog; resolves when it closed or refused. */
export async function connect(page, k, { label, demo = false, region = 'global' } = {}) {
  if (await page.getByTestId('connect-form').count() === 0) await page.getByTestId('open-connect').click();
  await page.locator('#exchange').selectOption(k.exchange ?? 'OKX');
  if (label) await page.locator('#conn-label').fill(label);
  if (await page.locator('#region').count() > 0) await page.locator('#region').selectOption(region);
  await page.locator('#api-key').fill(`  ${k.key} `); // pasted values are trimmed
  await page.locator('#api-secret').fill(k.secret);
  if (k.passphrase !== undefined) await page.locator('#api-passphrase').fill(k.passphrase);
  if (await page.locator('#demo').count() > 0 && demo !== await page.locator('#demo').isChecked()) {
    await page.locator('#demo').click();
  }
  await page.getByTestId('connect').click();
  // Done when the dialog closed (connected) or its button reads "Connect" again (refused).
  await page.waitForFunction(() => {
    const b = document.querySelector('[data-testid=connect]');
    return !b || b.textContent.trim() === 'Connect';
  });
}

/** Clicks Refresh; resolves, once the button is back and connection `label` is up to date,
 *  with the number of `/batch` requests the refresh sent. */
export async function refreshCountingBatches(page, label) {
  let batches = 0;
  const count = (r) => { if (new URL(r.url()).pathname === '/batch') batches += 1; };
  page.on('request', count);
  const sent = page.waitForRequest((r) => new URL(r.url()).pathname === '/batch');
  await page.getByTestId('refresh').click();
  await sent;
  await page.getByTestId('refresh').getByText('Refresh', { exact: true }).waitFor();
  await page.getByTestId(`status-${label}`).getByText('Up to date').waitFor();
  page.off('request', count);
  return batches;
}

/** Creates a vault on `page` and connects demo key 1; resolves once it is up to date. */
export async function createAndConnect(page) {
  await createVault(page);
  await connect(page, key(1));
  await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
}
