// The installable, offline-capable app on any static host, and zero server storage:
// manifest and installability, the service worker and its precache, offline reload → unlock
// → last snapshot, the update banner after a rebuild, the Content-Security-Policy, and a
// full session whose requests go only to the app's host and the configured proxy.
// Each test starts its own servers (the real holdix-proxy binary) so it can stop them.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  launch, openApp, openProfile, assertNoProblems, assertNoCspViolations, createVault, unlock,
  connect, createAndConnect, key, faults, startProxy, freePort, dirState, appFiles, staticHost, PASSWORD,
} from './lib.mjs';

const DIST = process.env.HOLDIX_DIST;
const SIM = process.env.HOLDIX_SIM_URL;
if (!DIST || !SIM) throw new Error('HOLDIX_DIST / HOLDIX_SIM_URL are not set: run these through `cargo xtask test`');
const FIXTURE_TOTAL = '$60,286.50';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
beforeEach(async () => {
  await faults({});
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
});
afterEach(assertNoCspViolations);

const tempDir = (name) => fs.mkdtempSync(path.join(os.tmpdir(), `holdix-${name}-`));

/** Resolves once a service worker controls the page and has finished precaching. */
async function serviceWorkerInControl(page) {
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
}

async function cachedFiles(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      out[name] = (await cache.keys()).map((r) => new URL(r.url).pathname);
    }
    return out;
  });
}

test('installable: manifest parsed without errors, real icons, service worker active, precache = dist, compressed delivery', async () => {
  const server = await startProxy({ staticDir: DIST });
  const { page, context, close } = await openProfile(`${server.url}/`);
  try {
    await page.getByTestId('create-form').waitFor();
    await serviceWorkerInControl(page);

    const cdp = await context.newCDPSession(page);
    const manifest = await cdp.send('Page.getAppManifest');
    assert.equal(manifest.url, `${server.url}/manifest.webmanifest`);
    assert.deepEqual(manifest.errors, []);
    const m = JSON.parse(manifest.data);
    assert.equal(m.name, 'Holdix — crypto portfolio tracker');
    assert.equal(m.short_name, 'Holdix');
    assert.equal(m.display, 'standalone');
    assert.equal(m.start_url, './');
    assert.equal(m.scope, './');
    assert.match(m.theme_color, /^#[0-9a-f]{6}$/);
    assert.match(m.background_color, /^#[0-9a-f]{6}$/);
    assert.ok(m.description.length > 20);
    assert.deepEqual(m.icons.map((i) => [i.sizes, i.purpose]), [['192x192', 'any'], ['512x512', 'maskable']]);
    // Each icon is a PNG the browser decodes at its stated size.
    for (const icon of m.icons) {
      const size = await page.evaluate(async (src) => {
        const bitmap = await createImageBitmap(await (await fetch(src)).blob());
        return `${bitmap.width}x${bitmap.height}`;
      }, icon.src);
      assert.equal(size, icon.sizes, icon.src);
    }
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    assert.deepEqual(installabilityErrors, []);

    // The precache holds exactly the built files (every hashed one included), in one cache.
    const files = appFiles(DIST);
    const hashed = files.filter((f) => /-[0-9a-f]{8,16}(_bg)?\.\w+$/.test(f));
    assert.ok(hashed.length >= 4, `hashed files in dist: ${hashed}`);
    const caches = await cachedFiles(page);
    assert.equal(Object.keys(caches).length, 1, JSON.stringify(caches));
    const [name] = Object.keys(caches);
    assert.match(name, /^holdix-[0-9a-f]{16}$/);
    assert.deepEqual(caches[name].map((p) => p.slice(1)).sort(), files);
    const sw = fs.readFileSync(path.join(DIST, 'sw.js'), 'utf8');
    assert.ok(sw.includes(`const VERSION = '${name.slice('holdix-'.length)}'`));

    // Compressed delivery: the browser received the wasm compressed, and every compressible
    // file goes out brotli or gzip by Accept-Encoding, decoding to exactly the built file.
    const wasm = await page.evaluate(() => performance.getEntriesByType('resource')
      .filter((e) => e.name.endsWith('.wasm')).map((e) => [e.encodedBodySize, e.decodedBodySize]));
    assert.ok(wasm.length >= 1 && wasm.every(([enc, dec]) => enc > 0 && enc * 2 < dec), `wasm sizes ${JSON.stringify(wasm)}`);
    const compressible = [...files, 'sw.js'].filter((f) => /\.(wasm|js|css|html|svg|webmanifest)$/.test(f));
    assert.ok(compressible.length >= 5, `${compressible}`);
    for (const f of compressible) {
      const built = fs.readFileSync(path.join(DIST, f));
      for (const encoding of ['br', 'gzip']) {
        const r = await fetch(`${server.url}/${f}`, { headers: { 'accept-encoding': encoding } });
        assert.equal(r.status, 200, f);
        assert.equal(r.headers.get('content-encoding'), encoding, f);
        assert.equal(r.headers.get('vary'), 'accept-encoding', f);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(built), `${f} as ${encoding} is the built file`);
      }
    }
    assertNoProblems(page);
  } finally {
    await close();
    await server.stop();
  }
});

test('Content-Security-Policy: shipped in index.html and as headers, and enforced', async () => {
  const server = await startProxy({ staticDir: DIST });
  try {
    const response = await fetch(`${server.url}/`);
    assert.equal(response.headers.get('content-security-policy'), "frame-ancestors 'none'");
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    const html = await response.text();
    const meta = html.match(/<meta[^>]*http-equiv="?Content-Security-Policy[^>]*>/i)[0];
    const policy = meta.match(/content="([^"]+)"/)[1];
    const directives = Object.fromEntries(policy.split(';').map((d) => d.trim().split(/\s+/)).map(([k, ...v]) => [k, v]));
    assert.deepEqual(directives['default-src'], ["'self'"]);
    assert.deepEqual(directives['script-src'], ["'self'", "'wasm-unsafe-eval'"]);
    assert.deepEqual(directives['object-src'], ["'none'"]);
    assert.deepEqual(directives['base-uri'], ["'none'"]);
    assert.equal(directives['connect-src'][0], "'self'");
    assert.ok(!policy.includes('unsafe-inline'));
    assert.ok(!/<script(?![^>]*\ssrc=)[^>]*>/.test(html), 'no inline script in index.html');
    assert.ok(!/\sstyle=/.test(html), 'no inline style in index.html');

    const { page, context } = await openApp(browser, { url: `${server.url}/` });
    await createVault(page);
    // Inline script and inline style are refused, and the refusal is reported as a problem.
    const ran = await page.evaluate(async () => {
      const s = document.createElement('script');
      s.textContent = 'window.inlineRan = true';
      document.head.append(s);
      document.body.setAttribute('style', 'background: red');
      await new Promise((r) => setTimeout(r, 100));
      return [window.inlineRan === true, getComputedStyle(document.body).backgroundColor];
    });
    assert.equal(ran[0], false, 'an inline script ran');
    assert.notEqual(ran[1], 'rgb(255, 0, 0)', 'an inline style applied');
    const violations = page.problems.filter((p) => p.includes('CSP violation'));
    assert.ok(violations.some((v) => v.includes('script-src-elem')), JSON.stringify(page.problems));
    assert.ok(violations.some((v) => v.includes('style-src-attr')), JSON.stringify(page.problems));
    await page.waitForTimeout(300); // Chromium's own "Refused to …" lines arrive too
    page.problems.length = 0; // provoked on purpose: the check after this test must not see them
    await context.close();
  } finally {
    await server.stop();
  }
});

test('offline: server and proxy stopped → reload from cache → unlock → "Offline — as of"; back → Refresh works', async () => {
  const port = await freePort();
  let server = await startProxy({ port, staticDir: DIST });
  const { page, context } = await openApp(browser, { url: `${server.url}/` });
  try {
    await createAndConnect(page);
    await serviceWorkerInControl(page);
    const asOf = (await page.getByTestId('as-of').textContent()).replace('As of ', '');

    await server.stop();
    await page.reload();
    await unlock(page, PASSWORD);
    await page.getByTestId('dashboard').waitFor();
    await page.getByTestId('as-of').getByText(`Offline — as of ${asOf}`).waitFor();
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);
    assert.equal(await page.getByTestId('refresh').isDisabled(), true);
    assert.match(await page.getByTestId('offline-note').textContent(), /proxy at http:\/\/127\.0\.0\.1:\d+ cannot be reached/);

    server = await startProxy({ port, staticDir: DIST });
    await page.waitForFunction(() => !document.querySelector('[data-testid=refresh]').disabled, null, { timeout: 15_000 });
    assert.equal(await page.getByTestId('offline-note').count(), 0);
    await page.getByTestId('refresh').click();
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    assert.match(await page.getByTestId('as-of').textContent(), /^As of /);
    assertNoProblems(page, { netErrors: true });
  } finally {
    await context.close();
    await server.stop();
  }
});

test('update: after a rebuild, "New version available — Reload" appears and Reload starts the new version', async () => {
  const copy = tempDir('dist');
  fs.cpSync(DIST, copy, { recursive: true });
  const server = await startProxy({ staticDir: copy });
  const { page, context } = await openApp(browser, { url: `${server.url}/` });
  try {
    await page.getByTestId('create-form').waitFor();
    await serviceWorkerInControl(page);
    assert.equal(await page.locator('#update').isHidden(), true);
    const [before] = Object.keys(await cachedFiles(page));
    // Served with Last-Modified (1 s resolution): files changed within the same second as
    // the copy would revalidate as unchanged, so changed files get a later time.
    const later = new Date(Date.now() + 10_000);
    const rewrite = (file, text) => {
      fs.writeFileSync(path.join(copy, file), text);
      fs.utimesSync(path.join(copy, file), later, later);
    };

    // Hashed files are answered from the cache: a different file on the server is not seen.
    const css = appFiles(copy).find((f) => f.endsWith('.css'));
    const original = fs.readFileSync(path.join(copy, css), 'utf8');
    rewrite(css, 'body{color:red}');
    assert.equal(await page.evaluate(async (f) => (await fetch(f)).text(), css), original);
    rewrite(css, original);

    // A rebuild: index.html changes, and the build step writes a new service worker.
    const index = fs.readFileSync(path.join(copy, 'index.html'), 'utf8');
    rewrite('index.html', index.replace('<title>', '<meta name="holdix-build" content="2" /><title>'));
    execFileSync(process.env.HOLDIX_XTASK, ['service-worker', copy]);
    // The step wrote sw.js and every precompressed copy (index.html's included) anew.
    for (const f of fs.readdirSync(copy).filter((n) => n.startsWith('sw.js') || n.startsWith('index.html'))) {
      fs.utimesSync(path.join(copy, f), later, later);
    }

    await page.reload();
    // index.html is network first: the new one shows while the old worker still controls.
    assert.equal(await page.locator('meta[name=holdix-build]').count(), 1);
    await page.locator('#update').getByText('New version available').waitFor({ timeout: 15_000 });
    await Promise.all([page.waitForEvent('load'), page.getByTestId('update-reload').click()]);
    await page.getByTestId('create-form').waitFor();
    assert.equal(await page.locator('meta[name=holdix-build]').count(), 1);
    const after = Object.keys(await cachedFiles(page));
    assert.equal(after.length, 1, 'the old cache is removed on activate');
    assert.notEqual(after[0], before);
    assert.equal(await page.locator('#update').isHidden(), true);
    assertNoProblems(page);
  } finally {
    await context.close();
    await server.stop();
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

test('persistent storage: requested after the vault is created; status and usage in Settings', async () => {
  const server = await startProxy({ staticDir: DIST });
  const { page, context, close } = await openProfile(`${server.url}/`);
  try {
    // Count the requests for persistence the page makes.
    await context.addInitScript(() => {
      const persist = StorageManager.prototype.persist;
      window.persistRequests = 0;
      StorageManager.prototype.persist = function counted() { window.persistRequests += 1; return persist.call(this); };
    });
    await page.reload();
    await page.getByTestId('create-form').waitFor();
    assert.equal(await page.evaluate(() => window.persistRequests), 0);
    await createVault(page);
    await page.waitForFunction(() => window.persistRequests === 1);
    // Chromium did not grant it to a site it does not know: the user is told.
    await page.getByTestId('eviction-note').waitFor();
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByTestId('storage-status').getByText('Not persistent').waitFor();
    await page.getByTestId('storage-usage').getByText(/^Holdix uses \d+\.\d MB on this device/).waitFor();
    // Unlocking only reads the state; it does not ask again.
    await page.getByTestId('lock').click();
    await unlock(page, PASSWORD);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByTestId('storage-status').getByText('Not persistent').waitFor();
    assert.equal(await page.evaluate(() => window.persistRequests), 1);

    const cdp = await context.newCDPSession(page);
    await cdp.send('Browser.setPermission', { permission: { name: 'persistent-storage' }, setting: 'granted' });
    await page.getByRole('button', { name: 'Ask for persistent storage' }).click();
    await page.getByTestId('storage-status').getByText('Persistent: the browser will not delete').waitFor();
    assert.equal(await page.evaluate(() => navigator.storage.persisted()), true);
    await page.getByRole('button', { name: 'Dashboard' }).click();
    await page.getByTestId('dashboard').waitFor();
    assert.equal(await page.getByTestId('eviction-note').count(), 0);
    assertNoProblems(page);
  } finally {
    await close();
    await server.stop();
  }
});

test('zero server storage: static host + separate proxy; requests go only there; proxy keeps nothing; restart loses nothing', async () => {
  const host = await staticHost(DIST, '/holdix/');
  const proxyCwd = tempDir('proxy-cwd');
  const proxyTmp = tempDir('proxy-tmp');
  const proxyPort = await freePort();
  const runProxy = () => startProxy({ port: proxyPort, cwd: proxyCwd, env: { TMPDIR: proxyTmp, TMP: proxyTmp, TEMP: proxyTmp } });
  let proxy = await runProxy();
  const before = [dirState(proxyCwd), dirState(proxyTmp)];
  const { page, context } = await openApp(browser, { url: null });
  const requests = [];
  const fromServiceWorker = [];
  context.on('request', (r) => requests.push(r.url()));
  context.on('response', (r) => { if (r.fromServiceWorker()) fromServiceWorker.push(r.url()); });
  try {
    await page.goto(host.url);
    await createVault(page);
    // One build, any host: the proxy address is a setting of the vault.
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#proxy-url').fill('http://192.168.1.10:8181');
    await page.getByRole('button', { name: 'Save proxy address' }).click();
    await page.getByTestId('proxy-status').getByText('Use https://').waitFor();
    await page.locator('#proxy-url').fill(`${proxy.url}/`);
    await page.getByRole('button', { name: 'Save proxy address' }).click();
    await page.getByTestId('proxy-status').getByText(`Saved. The proxy at ${proxy.url} answers.`).waitFor();
    await page.getByRole('button', { name: 'Dashboard' }).click();
    await connect(page, key(1));
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);

    // The proxy restarts mid-session: nothing is lost, the next refresh works.
    await proxy.stop();
    proxy = await runProxy();
    await page.getByTestId('refresh').click();
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    await page.getByTestId('lock').click();
    await unlock(page, PASSWORD);
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);
    await page.getByRole('button', { name: 'Settings' }).click();
    assert.equal(await page.locator('#proxy-url').inputValue(), proxy.url);

    const origins = new Set(requests.map((u) => new URL(u).origin));
    assert.deepEqual([...origins].sort(), [new URL(host.url).origin, proxy.url].sort(), requests.join('\n'));
    assert.ok(requests.some((u) => u.startsWith(`${proxy.url}/batch`)), 'the refresh went through the proxy');
    // The service worker answered app files only and cached nothing else.
    assert.ok(fromServiceWorker.every((u) => u.startsWith(host.url)), fromServiceWorker.join('\n'));
    const cached = Object.values(await cachedFiles(page)).flat();
    assert.deepEqual(cached.map((p) => p.slice('/holdix/'.length)).sort(), appFiles(DIST));
    assert.deepEqual([dirState(proxyCwd), dirState(proxyTmp)], before, 'the proxy wrote files');
    assert.deepEqual(before, [[], []]);
    assertNoProblems(page, { netErrors: true });
  } finally {
    await context.close();
    await proxy.stop();
    await host.close();
    fs.rmSync(proxyCwd, { recursive: true, force: true });
    fs.rmSync(proxyTmp, { recursive: true, force: true });
  }
});

test('network gone, or a proxy address that does not answer: said at once, snapshot kept; fixed → Refresh again', async () => {
  const { page, context } = await openApp(browser);
  try {
    await createAndConnect(page);

    // The browser loses its network: the dashboard says so without waiting for a refresh.
    await context.setOffline(true);
    await page.getByTestId('offline-note').waitFor();
    assert.match(await page.getByTestId('as-of').textContent(), /^Offline — as of /);
    assert.equal(await page.getByTestId('refresh').isDisabled(), true);
    await context.setOffline(false);
    await page.waitForFunction(() => !document.querySelector('[data-testid=refresh]').disabled, null, { timeout: 15_000 });

    // A proxy address where nothing listens.
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#proxy-url').fill(nowhere);
    await page.getByRole('button', { name: 'Save proxy address' }).click();
    const origin = new URL(page.url()).origin;
    await page.getByTestId('proxy-status')
      .getByText(`Saved, but no answer from ${nowhere}: check the address, that holdix-proxy runs there with --allow-origin ${origin}`)
      .waitFor();
    await page.getByRole('button', { name: 'Dashboard' }).click();
    assert.ok((await page.getByTestId('offline-note').textContent()).includes(`the proxy at ${nowhere} cannot be reached`));
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);

    // Cleared: the app's own origin again.
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#proxy-url').fill('');
    await page.getByRole('button', { name: 'Save proxy address' }).click();
    await page.getByTestId('proxy-status').getByText(`Saved. The proxy at ${origin} answers.`).waitFor();
    await page.getByRole('button', { name: 'Dashboard' }).click();
    assert.equal(await page.getByTestId('offline-note').count(), 0);
    await page.getByTestId('refresh').click();
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    assertNoProblems(page, { netErrors: true });
  } finally {
    await context.close();
  }
});

test('the app code cannot load: a clear message instead of a blank page', async () => {
  const { page, context } = await openApp(browser, { url: null });
  try {
    await page.route(/_bg\.wasm$/, (route) => route.abort());
    await page.goto(process.env.HOLDIX_BASE_URL);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /^Holdix could not start \(.+\)\. Check your connection and reload the page; your vault is not affected\.$/);
    assert.equal(await page.getByTestId('create-form').count(), 0);
  } finally {
    await context.close();
  }
});
