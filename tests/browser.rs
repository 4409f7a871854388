//! Browser tests, run in headless Chromium by wasm-bindgen-test-runner (`cargo xtask test`):
//! the IndexedDB store and the vault session over it, in a real browser.
#![cfg(target_arch = "wasm32")]

use holdix::session::{Session, SessionError};
use holdix::store::{Batch, Store, StoreError};
use holdix_core::records::{Connection, ConnectionOptions, ExchangeId, Secret};
use holdix_core::vault::KdfParams;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The cheapest parameters the vault accepts, so the tests are quick.
const FAST: KdfParams = KdfParams::FLOOR;

#[wasm_bindgen(inline_js = r#"
export async function dump_storage() {
  const req = (r) => new Promise((res, rej) => { r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const text = (v) => {
    if (v instanceof Uint8Array) { let s = ''; for (const b of v) s += String.fromCharCode(b); return s; }
    return typeof v === 'string' ? v : JSON.stringify(v);
  };
  const out = [];
  for (const { name } of await indexedDB.databases()) {
    const db = await req(indexedDB.open(name));
    for (const store of db.objectStoreNames) {
      const s = db.transaction(store, 'readonly').objectStore(store);
      const keys = await req(s.getAllKeys());
      const values = await req(s.getAll());
      keys.forEach((k, i) => out.push(`${name}/${store}/${k}=${text(values[i])}`));
    }
    db.close();
  }
  for (const s of [localStorage, sessionStorage]) {
    for (let i = 0; i < s.length; i++) out.push(`webstorage/${s.key(i)}=${s.getItem(s.key(i))}`);
  }
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const r of await cache.keys()) out.push(`cache/${r.url}=${await (await cache.match(r)).text()}`);
  }
  return out.join('\n');
}
"#)]
extern "C" {
    async fn dump_storage() -> JsValue;
}

#[wasm_bindgen(inline_js = r#"
export function storage_full(full) {
  globalThis.realPut ??= IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = full
    ? function put() { throw new DOMException('The quota has been exceeded.', 'QuotaExceededError'); }
    : globalThis.realPut;
}
"#)]
extern "C" {
    /// Makes every IndexedDB put fail as a full disk makes it fail (or stop failing).
    fn storage_full(full: bool);
}

/// A store under a test-specific name, emptied first.
async fn fresh(name: &str) -> Store {
    Store::open_named(name)
        .await
        .unwrap()
        .erase()
        .await
        .unwrap();
    Store::open_named(name).await.unwrap()
}

async fn snapshot(store: &Store) -> (Option<String>, Vec<(String, Vec<u8>)>) {
    (store.meta().await.unwrap(), store.records().await.unwrap())
}

fn okx_connection() -> Connection {
    Connection {
        id: "c1".into(),
        exchange: ExchangeId::Okx,
        label: "OKX".into(),
        api_key: "985d5b66-57ce-40fb-b714-afc0b9787083".into(),
        secret: Secret::new("chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO"),
        passphrase: Some(Secret::new("Passphrase-4-tests")),
        options: ConnectionOptions::default(),
        key_expires_ms: None,
        saved_ms: 0,
    }
}

/// Connections as saved, without the time of saving (which the session stamps).
fn unstamped(connections: Vec<Connection>) -> Vec<Connection> {
    connections
        .into_iter()
        .map(|c| Connection { saved_ms: 0, ..c })
        .collect()
}

#[wasm_bindgen_test]
async fn store_round_trip() {
    let store = fresh("t-round-trip").await;
    assert_eq!(snapshot(&store).await, (None, vec![]));
    store
        .write(
            Batch::new()
                .create_meta("{\"m\":1}".into())
                .put("b", vec![2, 2])
                .put("a", vec![1, 0, 255]),
        )
        .await
        .unwrap();
    let (meta, records) = snapshot(&store).await;
    assert_eq!(meta.as_deref(), Some("{\"m\":1}"));
    assert_eq!(
        records,
        vec![("a".into(), vec![1, 0, 255]), ("b".into(), vec![2, 2])]
    );
    assert_eq!(store.record("b").await.unwrap(), Some(vec![2, 2]));
    assert_eq!(store.record("zzz").await.unwrap(), None);

    store.write(Batch::new().delete("a")).await.unwrap();
    assert_eq!(
        store.records().await.unwrap(),
        vec![("b".into(), vec![2, 2])]
    );

    // A reopened database sees the same data.
    let again = Store::open_named("t-round-trip").await.unwrap();
    assert_eq!(again.record("b").await.unwrap(), Some(vec![2, 2]));
}

#[wasm_bindgen_test]
async fn creating_a_vault_never_overwrites_one() {
    let store = fresh("t-no-overwrite").await;
    store
        .write(Batch::new().create_meta("first".into()).put("x", vec![1]))
        .await
        .unwrap();
    let before = snapshot(&store).await;
    let err = store
        .write(Batch::new().create_meta("second".into()).put("x", vec![9]))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::AlreadyExists);
    assert_eq!(snapshot(&store).await, before);
}

#[wasm_bindgen_test]
async fn failed_transaction_leaves_data_intact() {
    let store = fresh("t-failed-tx").await;
    store
        .write(
            Batch::new()
                .create_meta("m1".into())
                .put("x", vec![1])
                .put("y", vec![2]),
        )
        .await
        .unwrap();
    let before = snapshot(&store).await;
    let err = store
        .write(
            Batch::new()
                .replace_meta("m2".into())
                .put("x", vec![7])
                .put("z", vec![3])
                .delete("y")
                .abort_before_commit(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WriteFailed(_)));
    assert_eq!(snapshot(&store).await, before);
}

#[wasm_bindgen_test]
async fn interrupted_password_change_keeps_the_old_password() {
    let store = fresh("t-rekey").await;
    let session = Session::create(store.clone(), "old password 123", FAST)
        .await
        .unwrap();
    session.save_connection(&okx_connection()).await.unwrap();
    let before = snapshot(&store).await;

    let (batch, _, _) = session
        .prepare_password_change("old password 123", "new password 456", FAST)
        .await
        .unwrap();
    assert!(store.write(batch.abort_before_commit()).await.is_err());
    assert_eq!(snapshot(&store).await, before, "nothing changed");

    let old = Session::unlock(store.clone(), "old password 123")
        .await
        .unwrap();
    assert_eq!(
        unstamped(old.connections().await.unwrap()),
        vec![okx_connection()]
    );
    assert_eq!(
        Session::unlock(store.clone(), "new password 456")
            .await
            .err(),
        Some(SessionError::WrongPassword)
    );

    // The same change, not interrupted, switches passwords and keeps every record.
    let (batch, _, _) = session
        .prepare_password_change("old password 123", "new password 456", FAST)
        .await
        .unwrap();
    store.write(batch).await.unwrap();
    let new = Session::unlock(store.clone(), "new password 456")
        .await
        .unwrap();
    assert_eq!(
        unstamped(new.connections().await.unwrap()),
        vec![okx_connection()]
    );
    assert_eq!(
        Session::unlock(store, "old password 123").await.err(),
        Some(SessionError::WrongPassword)
    );
}

#[wasm_bindgen_test]
async fn wrong_password_and_damage_are_different_errors() {
    let store = fresh("t-errors").await;
    Session::create(store.clone(), "right password 1", FAST)
        .await
        .unwrap();
    assert_eq!(
        Session::unlock(store.clone(), "wrong password 1")
            .await
            .err(),
        Some(SessionError::WrongPassword)
    );
    let meta = store.meta().await.unwrap().unwrap();
    store
        .write(Batch::new().replace_meta(meta.replacen("\"sum\":\"", "\"sum\":\"0", 1)))
        .await
        .unwrap();
    let before = snapshot(&store).await;
    let err = Session::unlock(store.clone(), "right password 1")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SessionError::Damaged(_)), "{err:?}");
    assert!(err.to_string().starts_with("The vault data is damaged"));
    assert_eq!(
        snapshot(&store).await,
        before,
        "a failed unlock writes nothing"
    );
}

#[wasm_bindgen_test]
async fn no_secret_in_plaintext_anywhere_in_the_browser() {
    let store = fresh("holdix-scan").await;
    let session = Session::create(store.clone(), "scan password 99", FAST)
        .await
        .unwrap();
    let connection = okx_connection();
    session.save_connection(&connection).await.unwrap();

    let dump = dump_storage().await.as_string().unwrap();
    assert!(
        dump.contains("holdix-scan/records/conn/c1="),
        "the scan sees the stored connection"
    );
    for secret in [
        connection.secret.expose(),
        connection.passphrase.as_ref().unwrap().expose(),
        "scan password 99",
    ] {
        assert!(!dump.contains(secret), "a secret is stored in plaintext");
    }
}

/// The storage glue Settings uses: usage grows when the vault writes, persistence is a yes or
/// no (never a thrown error), and the network flag reads.
#[wasm_bindgen_test]
async fn storage_usage_and_persistence_answer() {
    use holdix::browser::{online, persistent_storage, storage_usage};
    let store = fresh("holdix-test-usage").await;
    let before = storage_usage().await.expect("the browser estimates usage");
    let blob = vec![7u8; 256 * 1024];
    store
        .write(Batch::default().put("blob", blob))
        .await
        .unwrap();
    let after = storage_usage().await.expect("the browser estimates usage");
    assert!(
        after > before,
        "usage {before} → {after} after writing 256 KiB"
    );
    assert!(persistent_storage(false).await.is_some());
    assert!(online());
}

/// Tab A changes the password while tab B is still unlocked with the old key: every write of
/// B is refused inside its own transaction, nothing lands under the retired key, and the
/// vault opens cleanly (not "damaged") with the new password.
#[wasm_bindgen_test]
async fn a_write_with_a_retired_key_is_refused() {
    let store = fresh("t-stale").await;
    let tab_a = Session::create(store.clone(), "old password 123", FAST)
        .await
        .unwrap();
    tab_a.save_connection(&okx_connection()).await.unwrap();
    let tab_b = Session::unlock(
        Store::open_named("t-stale").await.unwrap(),
        "old password 123",
    )
    .await
    .unwrap();
    let tab_a = tab_a
        .change_password("old password 123", "new password 456")
        .await
        .unwrap();
    let before = snapshot(&store).await;

    let settings = holdix_core::records::Settings {
        auto_lock_minutes: 60,
        ..tab_b.settings.clone()
    };
    let mut renamed = okx_connection();
    renamed.label = "renamed in tab B".into();
    let snapshot_b = holdix_core::records::Snapshot::default();
    assert_eq!(
        tab_b.save_settings(settings).await.err(),
        Some(SessionError::VaultChanged)
    );
    assert_eq!(
        tab_b.save_connection(&renamed).await.err(),
        Some(SessionError::VaultChanged)
    );
    assert_eq!(
        tab_b
            .save_snapshot(&snapshot_b, Default::default())
            .await
            .err(),
        Some(SessionError::VaultChanged)
    );
    assert_eq!(
        tab_b.delete_connection("c1").await.err(),
        Some(SessionError::VaultChanged)
    );
    // Its reads say the same, not "damaged": the records no longer open with its key.
    assert_eq!(
        tab_b.connections().await.err(),
        Some(SessionError::VaultChanged)
    );
    assert_eq!(
        tab_b.connection("c1").await.err(),
        Some(SessionError::VaultChanged)
    );
    assert_eq!(snapshot(&store).await, before, "tab B wrote nothing");

    let reopened = Session::unlock(store.clone(), "new password 456")
        .await
        .unwrap();
    assert_eq!(
        unstamped(reopened.connections().await.unwrap()),
        vec![okx_connection()]
    );
    // Tab A, whose session has the new key, still saves.
    tab_a.save_connection(&renamed).await.unwrap();
    assert_eq!(
        unstamped(
            Session::unlock(store, "new password 456")
                .await
                .unwrap()
                .connections()
                .await
                .unwrap()
        ),
        vec![renamed]
    );
}

/// "Erase vault" in one tab while another tab has the database open: the other tab's
/// connection closes itself (and tells the app) instead of blocking the erase for ever.
#[wasm_bindgen_test]
async fn erasing_closes_other_tabs_instead_of_hanging() {
    use std::cell::Cell;
    use std::rc::Rc;
    let _ = fresh("t-erase").await;
    let closed = Rc::new(Cell::new(false));
    let told = closed.clone();
    let _other_tab = Store::open_watched("t-erase", move || told.set(true))
        .await
        .unwrap();
    let eraser = Store::open_named("t-erase").await.unwrap();
    let erase = Box::pin(eraser.erase());
    let timeout = Box::pin(holdix::browser::sleep_ms(5_000));
    match futures::future::select(erase, timeout).await {
        futures::future::Either::Left((result, _)) => result.unwrap(),
        futures::future::Either::Right(_) => panic!("the erase was blocked by the other tab"),
    }
    assert!(closed.get(), "the other tab was told");
}

/// A record deleted behind the vault's back (settings would silently become defaults) or an
/// older copy put back: unlock says damaged, and changes nothing.
#[wasm_bindgen_test]
async fn deleted_or_replayed_records_are_damage() {
    let store = fresh("t-manifest").await;
    let session = Session::create(store.clone(), "manifest password", FAST)
        .await
        .unwrap();
    let first = session
        .save_settings(holdix_core::records::Settings {
            auto_lock_minutes: 5,
            ..session.settings.clone()
        })
        .await
        .unwrap();
    let old_copy = store.record("settings").await.unwrap().unwrap();
    first
        .save_settings(holdix_core::records::Settings {
            auto_lock_minutes: 60,
            ..first.settings.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        Session::unlock(store.clone(), "manifest password")
            .await
            .unwrap()
            .settings
            .auto_lock_minutes,
        60
    );

    // Replay: the older copy authenticates, but is not the one last saved.
    store
        .write(Batch::new().put("settings", old_copy))
        .await
        .unwrap();
    let before = snapshot(&store).await;
    let err = Session::unlock(store.clone(), "manifest password")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SessionError::Damaged(_)), "{err:?}");
    assert!(err.to_string().contains("not the copy last saved"), "{err}");
    assert_eq!(
        snapshot(&store).await,
        before,
        "a failed unlock writes nothing"
    );

    // Deletion.
    store.write(Batch::new().delete("settings")).await.unwrap();
    let err = Session::unlock(store.clone(), "manifest password")
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("\"settings\" is missing"), "{err}");
}

/// History is stored sealed beside the snapshot, written with it in one transaction, read
/// back in time order after a new unlock; compaction's deletes land with the same write.
#[wasm_bindgen_test]
async fn history_is_saved_with_the_snapshot_and_read_back() {
    use holdix_core::history::{self, Point};
    use holdix_core::records::Snapshot;
    const DAY: u64 = 86_400_000;
    let store = fresh("t-history").await;
    let session = Session::create(store.clone(), "history password 1", FAST)
        .await
        .unwrap();
    let point = |at_ms: u64, total: i64| Point {
        at_ms,
        total: total.into(),
        connections: vec![("okx-1".into(), total.into())],
        assets: vec![("BTC".into(), 1.into(), total.into())],
    };
    let now = 1_795_824_000_000;
    let mut points = vec![point(now - 100 * DAY, 1), point(now - DAY, 2)];
    let first = history::changes(&Vec::new(), &points, now - DAY, now - DAY);
    let snapshot = Snapshot {
        as_of_ms: now - DAY,
        ..Snapshot::default()
    };
    session.save_snapshot(&snapshot, first).await.unwrap();
    let dump = dump_storage().await.as_string().unwrap();
    assert!(dump.contains("history/d"), "history has records of its own");
    assert!(!dump.contains("okx-1"), "history is sealed");

    // A new point, and the day-old point aged into a 30-day record.
    let (_, layout) = session.history().await.unwrap();
    history::add(&mut points, point(now + 90 * DAY, 3));
    history::compact(&mut points, now + 90 * DAY);
    let next = history::changes(&layout, &points, now + 90 * DAY, now + 90 * DAY);
    assert_eq!(next.deletes.len(), 1);
    session.save_snapshot(&snapshot, next).await.unwrap();

    let again = Session::unlock(store.clone(), "history password 1")
        .await
        .unwrap();
    let (read, layout) = again.history().await.unwrap();
    assert_eq!(read, points);
    assert_eq!(layout.len(), history::layout(&points, now + 90 * DAY).len());
}

/// Backups in a real browser: a restore (merge or replace) whose write is interrupted
/// leaves IndexedDB byte-identical; the same restores, not interrupted, land whole; a
/// backup restores into an empty browser, and never over a vault that exists.
#[wasm_bindgen_test]
async fn restoring_a_backup_is_all_or_nothing() {
    use holdix_core::backup;
    let a_store = fresh("t-backup-a").await;
    let a = Session::create(a_store.clone(), "password of A 1", FAST)
        .await
        .unwrap();
    let a = a.save_connection(&okx_connection()).await.unwrap();
    let (a, file) = a.export_backup().await.unwrap();
    assert!(a.settings.last_backup_ms.is_some());
    let text = String::from_utf8_lossy(&file);
    for secret in [
        okx_connection().secret.expose().to_string(),
        okx_connection().api_key,
        "Passphrase-4-tests".into(),
        "password of A 1".into(),
    ] {
        assert!(
            !text.contains(&secret),
            "the backup file holds no plaintext"
        );
    }
    let backup = backup::read(&file).unwrap();
    let theirs = backup.open("password of A 1").unwrap();

    let b_store = fresh("t-backup-b").await;
    let b = Session::create(b_store.clone(), "password of B 2", FAST)
        .await
        .unwrap();
    let mut binance = okx_connection();
    binance.id = "c2".into();
    binance.exchange = ExchangeId::Binance;
    binance.api_key = "binance-key".into();
    binance.passphrase = None;
    let b = b.save_connection(&binance).await.unwrap();
    let before = snapshot(&b_store).await;

    let (batch, merged) = b.prepare_merge(&backup, &theirs).await.unwrap();
    assert_eq!(merged.added, 1);
    let err = b_store
        .write(batch.abort_before_commit())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WriteFailed(_)));
    assert_eq!(
        snapshot(&b_store).await,
        before,
        "an interrupted merge changed nothing"
    );
    let batch = b.prepare_replace(&backup).unwrap();
    assert!(b_store.write(batch.abort_before_commit()).await.is_err());
    assert_eq!(
        snapshot(&b_store).await,
        before,
        "an interrupted replace changed nothing"
    );
    assert_eq!(
        unstamped(
            Session::unlock(b_store.clone(), "password of B 2")
                .await
                .unwrap()
                .connections()
                .await
                .unwrap()
        ),
        vec![binance.clone()],
        "B as it was, with its own password"
    );

    // Merged for real: both connections, under B's password; merging again adds nothing.
    let merged = b.merge_backup(&backup, &theirs).await.unwrap();
    assert_eq!((merged.added, merged.updated), (1, 0));
    let again = b.merge_backup(&backup, &theirs).await.unwrap();
    assert_eq!((again.added, again.updated, again.points_added), (0, 0, 0));
    let reopened = Session::unlock(b_store.clone(), "password of B 2")
        .await
        .unwrap();
    let mut ids: Vec<String> = reopened
        .connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    assert_eq!(ids, ["c1", "c2"]);

    // Replaced for real: the vault is A's, with A's password.
    let replaced = reopened.replace_with(&backup, theirs).await.unwrap();
    assert_eq!(
        unstamped(replaced.connections().await.unwrap()),
        vec![okx_connection()]
    );
    assert_eq!(
        Session::unlock(b_store.clone(), "password of B 2")
            .await
            .err(),
        Some(SessionError::WrongPassword)
    );
    Session::unlock(b_store.clone(), "password of A 1")
        .await
        .unwrap();

    // Into an empty browser: the vault as it was; never over an existing vault.
    let c_store = fresh("t-backup-c").await;
    let restored = Session::restore(
        c_store.clone(),
        &backup,
        backup.open("password of A 1").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        unstamped(restored.connections().await.unwrap()),
        vec![okx_connection()]
    );
    let (meta, records) = snapshot(&c_store).await;
    assert_eq!(meta.as_deref(), Some(backup.meta.as_str()));
    assert_eq!(records.len(), backup.records.len());
    let before = snapshot(&b_store).await;
    assert_eq!(
        Session::restore(
            b_store.clone(),
            &backup,
            backup.open("password of A 1").unwrap()
        )
        .await
        .err(),
        Some(SessionError::Store(StoreError::AlreadyExists))
    );
    assert_eq!(
        snapshot(&b_store).await,
        before,
        "an existing vault is never overwritten"
    );
}

/// Every kind of write the app makes (a refresh's snapshot and history, settings, a new
/// connection, a removed one), failing in the browser, both ways: the disk full (every put
/// refused with QuotaExceededError) and the transaction aborted before it commits. Each
/// gives a clear error, IndexedDB exactly as it was (meta and every record's bytes), the
/// session still usable (the same write then succeeds), and the vault unlocks to the data
/// before the failure.
#[wasm_bindgen_test]
async fn every_failed_write_leaves_the_vault_as_it_was() {
    use holdix_core::history::{self, Point};
    use holdix_core::records::Snapshot;
    const PASSWORD: &str = "storage faults password 1";
    let store = fresh("t-write-faults").await;
    let mut session = Session::create(store.clone(), PASSWORD, FAST)
        .await
        .unwrap();
    session = session.save_connection(&okx_connection()).await.unwrap();
    let now = 1_795_824_000_000u64;
    let point = |at_ms: u64| Point {
        at_ms,
        total: 5.into(),
        connections: vec![("c1".into(), 5.into())],
        assets: vec![("BTC".into(), 1.into(), 5.into())],
    };
    let portfolio_at = |as_of_ms| Snapshot {
        as_of_ms,
        ..Snapshot::default()
    };
    let first = history::changes(&Vec::new(), &[point(now)], now, now);
    session
        .save_snapshot(&portfolio_at(now), first)
        .await
        .unwrap();

    let mut kinds = 0;
    for kind in [
        "snapshot",
        "settings",
        "new connection",
        "removed connection",
    ] {
        let before = snapshot(&store).await;
        let attempt = |session: Session| async move {
            match kind {
                "snapshot" => {
                    let (points, layout) = session.history().await.unwrap();
                    let mut points = points;
                    history::add(&mut points, point(now + 60_000));
                    let changes = history::changes(&layout, &points, now + 60_000, now + 60_000);
                    session
                        .save_snapshot(&portfolio_at(now + 60_000), changes)
                        .await
                        .map(|()| session)
                }
                "settings" => {
                    let mut settings = session.settings.clone();
                    settings.auto_lock_minutes += 1;
                    session.save_settings(settings).await
                }
                "new connection" => {
                    let other = Connection {
                        id: "c2".into(),
                        label: "Second".into(),
                        ..okx_connection()
                    };
                    session.save_connection(&other).await
                }
                _ => session.delete_connection("c1").await,
            }
        };
        store.fail_next_writes(1);
        let Err(err) = attempt(session.clone()).await else {
            panic!("{kind}: the failing write reported success");
        };
        assert!(
            matches!(err, SessionError::Store(StoreError::WriteFailed(_))),
            "{kind}: {err:?}"
        );
        assert!(
            err.to_string().contains("nothing was changed"),
            "{kind}: {err}"
        );
        assert_eq!(snapshot(&store).await, before, "{kind}: storage changed");
        // The vault still opens to what was there.
        let reopened = Session::unlock(store.clone(), PASSWORD).await.unwrap();
        assert_eq!(
            unstamped(reopened.connections().await.unwrap()),
            unstamped(session.connections().await.unwrap()),
            "{kind}"
        );
        // Still usable: the same write now lands.
        session = match attempt(session.clone()).await {
            Ok(next) => next,
            Err(e) => panic!("{kind}: the retry failed: {e}"),
        };
        assert_ne!(snapshot(&store).await, before, "{kind}: the retry landed");
        kinds += 1;
    }
    assert_eq!(kinds, 4);
    let last = Session::unlock(store.clone(), PASSWORD).await.unwrap();
    assert!(last
        .connections()
        .await
        .unwrap()
        .iter()
        .all(|c| c.id != "c1"));
    assert_eq!(last.history().await.unwrap().0.len(), 2);
}
