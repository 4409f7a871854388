// Backups between two browser profiles, as users move to a new device: profile A builds a
// vault with OKX and Binance and three refreshes of history and exports it; profile B
// restores the file (same total, connections, history; Refresh works); another profile
// with its own vault merges it (connections from both, no duplicates); every bad file is
// refused with its own message and storage is left exactly as it was.
import { test, before, after, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  launch, openApp, assertNoProblems, unlock, readAllStorage, assertAbsent, PASSWORD, NEW_PASSWORD,
  assertNoCspViolations, faults, createVault, key, binanceKey, connect,
} from './lib.mjs';

const SIM = process.env.HOLDIX_SIM_URL;

/** A Binance refresh weighs about 420 of the proxy's Binance budget, which refills at 60 a
 *  second (burst 2,000; see bench.mjs): profile A spends the burst, so the next profiles
 *  wait until their refreshes fit, as a user's would, instead of being throttled. */
const binanceBudgetFor = (refreshes) => new Promise((r) => setTimeout(r, refreshes * 7_000));

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });
// The files after this one find the proxy's Binance budget full again, as they would alone.
after(() => binanceBudgetFor(4));
afterEach(assertNoCspViolations);
beforeEach(async () => {
  await faults({});
  assert.equal((await fetch(`${SIM}/__sim/reset`, { method: 'POST' })).status, 204);
});

const points = async (page) => Number(await page.getByTestId('chart').getAttribute('data-points'));
const havePoints = (page, n) => page.getByTestId('chart').and(page.locator(`[data-points="${n}"]`)).waitFor();
const upToDate = async (page, ...labels) => {
  for (const l of labels) await page.getByTestId(`status-${l}`).getByText('Up to date').waitFor();
};

/** Clicks Refresh; resolves once its point was added and it is over. */
async function refresh(page, ...labels) {
  const n = await points(page);
  await page.getByTestId('refresh').click();
  await havePoints(page, n + 1);
  await page.getByTestId('refresh').getByText('Refresh', { exact: true }).waitFor();
  await upToDate(page, ...labels);
}

/** What IndexedDB holds (the vault); the app's file cache is not the vault's business. */
const vaultStorage = async (page) => (await readAllStorage(page)).filter((r) => r.where.startsWith('indexeddb:'));

const settings = (page) => page.getByRole('button', { name: 'Settings' }).click();
const dashboard = (page) => page.getByRole('button', { name: 'Dashboard' }).click();

/** Settings → Export backup; resolves with the downloaded file's name and bytes. */
async function exportBackup(page) {
  await settings(page);
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-backup').click()]);
  return { name: file.suggestedFilename(), bytes: fs.readFileSync(await file.path()) };
}

/** Chooses `file` ({ name, buffer } or a path) and `password` in the restore form and submits. */
async function restore(page, file, password, mode) {
  await page.getByTestId('restore-file').setInputFiles(file);
  await page.locator('#backup-password').fill(password);
  if (mode) await page.getByTestId(`restore-${mode}`).check();
  await page.getByTestId('restore').click();
}

/** A backup file with its body rewritten by `change` (and its length and checksum made anew). */
function rewrite(bytes, change) {
  const body = JSON.parse(bytes.subarray(18, bytes.length - 32).toString('utf8'));
  change(body);
  const json = Buffer.from(JSON.stringify(body));
  const head = Buffer.alloc(18);
  bytes.copy(head, 0, 0, 10);
  head.writeBigUInt64BE(BigInt(json.length), 10);
  const content = Buffer.concat([head, json]);
  return Buffer.concat([content, crypto.createHash('sha256').update(content).digest()]);
}

let exported; // { name, bytes, total, points } of profile A

test('profile A: a vault with OKX and Binance, three refreshes, a backup that holds no secret', async () => {
  const { context, page } = await openApp(browser);
  await createVault(page);
  await connect(page, key(1));
  await connect(page, binanceKey(1));
  await upToDate(page, 'OKX', 'Binance');
  // Connections changed and no backup yet: the dashboard offers one.
  await page.getByTestId('backup-reminder').waitFor();
  for (let i = 0; i < 3; i++) await refresh(page, 'OKX', 'Binance');
  const total = await page.getByTestId('total').innerText();
  const n = await points(page);
  assert.ok(n >= 3, `three refreshes, ${n} points`);

  await settings(page);
  assert.equal(await page.getByTestId('last-backup').innerText(), 'No backup made yet.');
  const { name, bytes } = await exportBackup(page);
  assert.match(name, /^holdix-backup-\d{4}-\d{2}-\d{2}\.holdix$/);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'HOLDIXBK');
  assert.deepEqual([...bytes.subarray(8, 10)], [0, 1], 'format version 1');
  const status = await page.getByTestId('backup-status').innerText();
  assert.match(status, new RegExp(`^Saved ${name.replace(/\./g, '\\.')} \\(\\d+\\.\\d (KB|MB)\\)\\.$`));
  await page.getByTestId('last-backup').getByText('Last backup:').waitFor();
  // Nothing in the file is readable: no key, secret, passphrase or password in any form.
  const k = key(1);
  const b = binanceKey(1);
  assertAbsent([{ value: bytes.toString('latin1') }], [k.key, k.secret, k.passphrase, b.key, b.secret, PASSWORD]);
  // The reminder is gone once a backup was made.
  await dashboard(page);
  await page.getByTestId('dashboard').waitFor();
  assert.equal(await page.getByTestId('backup-reminder').count(), 0);
  exported = { name, bytes, total, points: n };
  assertNoProblems(page);
  await context.close();
});

test('profile B, an empty browser: restoring recreates the vault as it was, and Refresh works', async () => {
  assert.ok(exported, 'profile A exported');
  await binanceBudgetFor(3); // after restoring, Refresh, after unlocking
  const { context, page } = await openApp(browser);
  await page.getByTestId('restore-new').locator('summary').click();
  await restore(page, { name: exported.name, mimeType: 'application/octet-stream', buffer: exported.bytes }, PASSWORD);
  await page.getByTestId('dashboard').waitFor();
  // The saved snapshot at once (the refresh after unlock may follow; the market stands still).
  await page.getByTestId('total').getByText(exported.total, { exact: true }).waitFor();
  await upToDate(page, 'OKX', 'Binance');
  assert.equal(await page.getByTestId('total').innerText(), exported.total);
  // A's points, and the one the refresh after restoring added.
  await havePoints(page, exported.points + 1);
  await refresh(page, 'OKX', 'Binance');
  assert.equal(await points(page), exported.points + 2);
  // The restored backup was noted in it: no reminder.
  assert.equal(await page.getByTestId('backup-reminder').count(), 0);
  // The vault is A's, with A's password.
  await page.getByTestId('lock').click();
  await unlock(page, PASSWORD);
  await page.getByTestId('dashboard').waitFor();
  assertNoProblems(page);
  await context.close();
});

test('a profile with its own vault merges the backup: connections from both, no duplicates, none it removed', async () => {
  assert.ok(exported, 'profile A exported');
  await binanceBudgetFor(2); // after merging, after unlocking
  const { context, page } = await openApp(browser);
  await createVault(page, NEW_PASSWORD);
  await connect(page, key(1)); // the same OKX key as A's, saved later here: this one stays
  await upToDate(page, 'OKX');
  await settings(page);
  await restore(page, { name: exported.name, mimeType: 'application/octet-stream', buffer: exported.bytes }, PASSWORD, 'merge');
  const done = page.getByTestId('restore-done');
  await done.getByText('Merged:').waitFor();
  assert.match(await done.innerText(), /^Merged: 1 connection\(s\) added, 0 updated, \d+ history point\(s\) added\.$/);
  await dashboard(page);
  await upToDate(page, 'OKX', 'Binance');
  assert.equal(await page.getByTestId('status-OKX').count(), 1, 'one OKX connection');
  assert.equal(await page.getByTestId('status-Binance').count(), 1);
  // Merging the same file again adds nothing.
  await settings(page);
  await restore(page, { name: exported.name, mimeType: 'application/octet-stream', buffer: exported.bytes }, PASSWORD, 'merge');
  await done.getByText('Merged: 0 connection(s) added, 0 updated, 0 history point(s) added.').waitFor();
  // Binance removed here, then the same file merged again: it stays removed, and the
  // result says so.
  await dashboard(page);
  await page.getByTestId('connection-Binance').getByRole('button', { name: 'Remove…' }).click();
  await page.getByTestId('confirm-remove').click();
  await page.getByTestId('status-Binance').waitFor({ state: 'detached' });
  await settings(page);
  await restore(page, { name: exported.name, mimeType: 'application/octet-stream', buffer: exported.bytes }, PASSWORD, 'merge');
  await done
    .getByText('Merged: 0 connection(s) added, 0 updated, 0 history point(s) added. 1 connection(s) you removed here since that backup stay removed.')
    .waitFor();
  // The vault kept its own password, and Binance stays removed.
  await page.getByTestId('lock').click();
  await unlock(page, NEW_PASSWORD);
  await page.getByTestId('dashboard').waitFor();
  await upToDate(page, 'OKX');
  assert.equal(await page.getByTestId('status-Binance').count(), 0, 'Binance stays removed');
  assert.equal(await page.getByTestId('status-OKX').count(), 1);
  assertNoProblems(page);
  await context.close();
});

test('every bad file: its own message, and storage exactly as it was', async () => {
  assert.ok(exported, 'profile A exported');
  const good = exported.bytes;
  const newer = Buffer.from(good);
  newer[9] = 2;
  const flipped = Buffer.from(good);
  flipped[200] ^= 1;
  const weak = rewrite(good, (body) => {
    const meta = JSON.parse(body.meta);
    const header = Buffer.from(meta.header, 'base64');
    header.writeUInt32LE(1024, 5); // 1 MiB: below the floor
    meta.header = header.toString('base64');
    meta.sum = crypto.createHash('sha256').update(Buffer.concat([header, Buffer.from(meta.check, 'base64')])).digest('hex');
    body.meta = JSON.stringify(meta);
  });
  const big = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'holdix-')), 'random.holdix');
  fs.writeFileSync(big, crypto.randomBytes(50 * 1024 * 1024));
  const file = (name, buffer) => ({ name, mimeType: 'application/octet-stream', buffer });
  const cases = [
    [file('empty.holdix', Buffer.alloc(0)), PASSWORD, 'The file is empty.'],
    [file('notes.holdix', Buffer.from('{"not": "a backup"}')), PASSWORD, 'This is not a Holdix backup file.'],
    [file('newer.holdix', newer), PASSWORD, 'This backup was made by a newer Holdix (format 2); update Holdix to restore it.'],
    [file('half.holdix', good.subarray(0, good.length >> 1)), PASSWORD, 'The backup file is damaged or incomplete (its length does not match); nothing was changed. Try another copy of it.'],
    [file('flipped.holdix', flipped), PASSWORD, 'The backup file is damaged or incomplete (its checksum does not match); nothing was changed. Try another copy of it.'],
    [file('weak.holdix', weak), PASSWORD, /The backup file is damaged or tampered with: its key derivation parameters \(1024 KiB, \d+ passes, \d+ lanes\) are outside the allowed range; nothing was changed\. Try another copy of it\./],
    [big, PASSWORD, 'This is not a Holdix backup file.'],
    [file(exported.name, good), 'not the password', 'Wrong password for this backup: type the password of the vault it was made from.'],
  ];
  try {
    // An empty browser: nothing is created.
    const fresh = await openApp(browser);
    await fresh.page.getByTestId('restore-new').locator('summary').click();
    const empty = await vaultStorage(fresh.page);
    for (const [f, pw, message] of cases) {
      await restore(fresh.page, f, pw);
      const error = fresh.page.getByTestId('restore-error');
      await error.filter({ hasText: message }).waitFor();
      assert.deepEqual(await vaultStorage(fresh.page), empty, `${f.name ?? 'the 50 MB file'}: nothing stored`);
    }
    assert.equal(await fresh.page.getByTestId('create-form').count(), 1, 'still on the Create screen');
    assertNoProblems(fresh.page);
    await fresh.context.close();

    // A vault: each file changes nothing in it, neither as merge nor as replace.
    const { context, page } = await openApp(browser);
    await createVault(page, NEW_PASSWORD);
    await settings(page);
    const before = await vaultStorage(page);
    assert.ok(before.some((r) => r.key === 'settings'), 'the scan sees the vault');
    for (const [i, [f, pw, message]] of cases.entries()) {
      await restore(page, f, pw, i % 2 ? 'replace' : 'merge');
      await page.getByTestId('restore-error').filter({ hasText: message }).waitFor();
      assert.deepEqual(await vaultStorage(page), before, `${f.name ?? 'the 50 MB file'}: storage unchanged`);
    }
    await page.getByTestId('lock').click();
    await unlock(page, NEW_PASSWORD);
    await page.getByTestId('dashboard').waitFor();
    assertNoProblems(page);
    await context.close();
  } finally {
    fs.rmSync(path.dirname(big), { recursive: true, force: true });
  }
});
