// The proxy as a Cloudflare Worker: the built Worker in workerd (Cloudflare's runtime) on
// 127.0.0.1, the app from a plain static server. Settings → Proxy points at the Worker; OKX
// connects and refreshes through it; every request goes to the app's host or the Worker,
// and neither the Worker nor its folder keeps anything.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  launch, openApp, assertNoProblems, assertNoCspViolations, createVault, unlock, connect, key,
  faults, startWorker, staticHost, dirState, freePort, PASSWORD,
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

const simRequests = async () => (await (await fetch(`${SIM}/__sim/stats`)).json()).requests;

test('the Worker as the proxy: connect OKX and refresh through it; requests go only to the host and the Worker; it keeps nothing', async () => {
  const host = await staticHost(DIST, '/holdix/');
  const origin = new URL(host.url).origin;
  const workerTmp = fs.mkdtempSync(path.join(os.tmpdir(), 'holdix-worker-tmp-'));
  const port = await freePort();
  const runWorker = () => startWorker({ port, origin, env: { TMPDIR: workerTmp } });
  let worker = await runWorker();
  const before = [dirState(worker.dir), dirState(workerTmp)];
  const { page, context } = await openApp(browser, { url: null });
  const requests = [];
  context.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
  try {
    await page.goto(host.url);
    await createVault(page);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#proxy-url').fill(worker.url);
    await page.getByRole('button', { name: 'Save proxy address' }).click();
    await page.getByTestId('proxy-status').getByText(`Saved. The proxy at ${worker.url} answers.`).waitFor();
    await page.getByRole('button', { name: 'Dashboard' }).click();
    await connect(page, key(1));
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);
    assert.ok((await simRequests()) > 0, 'the exchange was asked');

    // A refresh after the Worker restarts (a new isolate): works, nothing lost.
    await worker.stop();
    worker = await runWorker();
    const batchesBefore = requests.filter((r) => r.startsWith(`POST ${worker.url}/batch`)).length;
    const asked = await simRequests();
    await page.getByTestId('refresh').click();
    for (let i = 0; i < 100 && (await simRequests()) <= asked; i++) await new Promise((r) => setTimeout(r, 100));
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    assert.ok((await simRequests()) > asked, 'the refresh reached the exchange');
    assert.ok(requests.filter((r) => r.startsWith(`POST ${worker.url}/batch`)).length > batchesBefore, 'the refresh went through the Worker');
    await page.getByTestId('lock').click();
    await unlock(page, PASSWORD);
    await page.getByTestId('status-OKX').getByText('Up to date').waitFor();
    assert.equal(await page.getByTestId('total').textContent(), FIXTURE_TOTAL);

    // The request audit: the app's host and the Worker, nothing else.
    const origins = new Set(requests.map((r) => new URL(r.split(' ')[1]).origin));
    assert.deepEqual([...origins].sort(), [origin, worker.url].sort(), requests.join('\n'));
    assert.deepEqual([dirState(worker.dir), dirState(workerTmp)], before, 'the Worker wrote files');
    assert.deepEqual(before[1], []);
    assertNoProblems(page, { netErrors: true });
  } finally {
    await context.close();
    await worker.stop();
    await host.close();
    fs.rmSync(workerTmp, { recursive: true, force: true });
  }
});

test('the Worker refuses what holdix-proxy refuses, from the browser too: another origin gets no answer it can read', async () => {
  const host = await staticHost(DIST, '/holdix/');
  const worker = await startWorker({ origin: 'https://holdix.example' });
  const { page, context } = await openApp(browser, { url: null });
  try {
    await page.goto(host.url);
    await createVault(page);
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.locator('#proxy-url').fill(worker.url);
    await page.getByRole('button', { name: 'Save proxy address' }).click();
    // This app's origin is not the Worker's allowed one: the browser blocks the answer.
    await page.getByTestId('proxy-status').getByText(`Saved, but no answer from ${worker.url}`).waitFor();
    assert.equal(await simRequests(), 0);
  } finally {
    await context.close();
    await worker.stop();
    await host.close();
  }
});
