//! IndexedDB storage for the vault: one database, two object stores.
//!
//! * `meta`: the vault's [`holdix_core::vault::VaultMeta`] as JSON under the key `vault`.
//! * `records`: sealed records (`Uint8Array`) under their record ids.
//!
//! Everything written is already encrypted by the caller. Writes go through [`Batch`], which
//! lands in one transaction over both stores: all of it or none of it. Nothing is awaited
//! inside a transaction except its own requests (an IndexedDB transaction dies otherwise),
//! so callers encrypt first and write second.
//!
//! A [`Guard`] makes a write conditional, checked inside its own transaction: the stored meta
//! must still be the one the session was opened with (another tab may have changed the
//! password), and the vault's manifest record is read and rewritten there too, by a
//! synchronous function (sealing is synchronous, so the transaction stays alive).
//!
//! Another tab erasing the vault (deleting the database) first asks every open connection to
//! close (`versionchange`): the store closes at once and tells the app, which locks.

use std::rc::Rc;

use idb::{Database, DatabaseEvent, Factory, ObjectStoreParams, TransactionMode};
use js_sys::Uint8Array;
use wasm_bindgen::{JsCast, JsValue};

/// The production database name.
pub const DB_NAME: &str = "holdix";
const DB_VERSION: u32 = 1;
const META: &str = "meta";
const RECORDS: &str = "records";
const META_KEY: &str = "vault";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "This browser does not give Holdix storage ({0}). Private windows and some \
         settings block IndexedDB; open Holdix in a normal window."
    )]
    Unavailable(String),
    #[error("A vault already exists in this browser; nothing was overwritten.")]
    AlreadyExists,
    #[error("Saving to browser storage failed ({0}); nothing was changed.")]
    WriteFailed(String),
    /// The browser refused the write for lack of space (`QuotaExceededError`).
    #[error(
        "The browser's storage for Holdix is full, so this was not saved; nothing stored was \
         changed. Free space (the browser's site data settings; Settings → Storage shows what \
         Holdix uses), then try again."
    )]
    Full,
    #[error("Reading browser storage failed ({0}).")]
    ReadFailed(String),
    /// The stored vault is no longer the one this session opened (a password change or an
    /// erase in another tab).
    #[error(
        "The vault was changed in another tab (new password, or erased); nothing was saved \
         here. Unlock again to go on."
    )]
    VaultChanged,
    /// The guard found the stored data damaged; nothing was written.
    #[error("{0}")]
    Damaged(String),
}

fn describe(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A failed write, told apart: out of space, or anything else.
fn write_failed(text: String) -> StoreError {
    if text.contains("QuotaExceeded") {
        StoreError::Full
    } else {
        StoreError::WriteFailed(text)
    }
}

/// One atomic write: an optional new vault meta, records to put and records to delete.
#[derive(Default)]
pub struct Batch {
    meta: Option<(String, MetaWrite)>,
    puts: Vec<(String, Vec<u8>)>,
    deletes: Vec<String>,
    guard: Option<Guard>,
    /// Every stored record is deleted first (restoring a backup over the vault).
    clear: bool,
    abort_before_commit: bool,
}

/// What a guarded write checks and updates inside its transaction.
pub struct Guard {
    /// The meta (JSON) the writer's session was opened with.
    pub expected_meta: String,
    /// Record id of the manifest.
    pub manifest_id: &'static str,
    /// Given the stored manifest record and the batch's puts and deletes, the new manifest
    /// record, or why nothing may be written.
    #[allow(clippy::type_complexity)]
    pub update: Box<
        dyn FnOnce(Option<&[u8]>, &[(String, Vec<u8>)], &[String]) -> Result<Vec<u8>, StoreError>,
    >,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MetaWrite {
    /// Fails if a vault exists: creating never overwrites.
    Create,
    Replace,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }
    /// Writes the meta of a new vault; the batch fails if one already exists.
    pub fn create_meta(mut self, json: String) -> Self {
        self.meta = Some((json, MetaWrite::Create));
        self
    }
    pub fn replace_meta(mut self, json: String) -> Self {
        self.meta = Some((json, MetaWrite::Replace));
        self
    }
    pub fn put(mut self, id: impl Into<String>, sealed: Vec<u8>) -> Self {
        self.puts.push((id.into(), sealed));
        self
    }
    pub fn put_all(mut self, records: Vec<(String, Vec<u8>)>) -> Self {
        self.puts.extend(records);
        self
    }
    pub fn delete(mut self, id: impl Into<String>) -> Self {
        self.deletes.push(id.into());
        self
    }
    /// Deletes every stored record before the batch's puts.
    pub fn clear_records(mut self) -> Self {
        self.clear = true;
        self
    }
    /// Makes the batch conditional on `guard` (checked in the same transaction).
    pub fn guarded(mut self, guard: Guard) -> Self {
        self.guard = Some(guard);
        self
    }
    /// Fault injection for tests: issue every request, then abort instead of committing, as
    /// when the tab is closed mid-write. The batch reports a write failure.
    #[doc(hidden)]
    pub fn abort_before_commit(mut self) -> Self {
        self.abort_before_commit = true;
        self
    }
}

/// An open Holdix database.
#[derive(Clone)]
pub struct Store {
    db: Rc<Connection>,
    name: String,
    /// Test hook: how many of the next writes abort before committing.
    failing_writes: Rc<std::cell::Cell<u32>>,
}

/// The database connection, closed when the last [`Store`] clone is dropped (its
/// `versionchange` handler dies with it, and an open connection without one would block
/// another tab's erase).
struct Connection(Database);

impl std::ops::Deref for Connection {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.0
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl Store {
    /// Opens (creating on first use) the production database.
    pub async fn open() -> Result<Self, StoreError> {
        Self::open_named(DB_NAME).await
    }

    /// Opens a database by name; tests use their own names.
    pub async fn open_named(name: &str) -> Result<Self, StoreError> {
        Self::open_watched(name, || {}).await
    }

    /// Opens a database by name; `on_closed` runs when another tab deletes or upgrades it
    /// (the connection is closed first, so that tab is not blocked).
    pub async fn open_watched(
        name: &str,
        on_closed: impl FnOnce() + 'static,
    ) -> Result<Self, StoreError> {
        let factory = Factory::new().map_err(|e| StoreError::Unavailable(describe(e)))?;
        let mut request = factory
            .open(name, Some(DB_VERSION))
            .map_err(|e| StoreError::Unavailable(describe(e)))?;
        request.on_upgrade_needed(|event| {
            if let Ok(db) = event.database() {
                let names = db.store_names();
                for store in [META, RECORDS] {
                    if !names.iter().any(|n| n == store) {
                        let _ = db.create_object_store(store, ObjectStoreParams::new());
                    }
                }
            }
        });
        let mut db = request
            .await
            .map_err(|e| StoreError::Unavailable(describe(e)))?;
        db.on_version_change(move |event| {
            if let Some(db) = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::IdbDatabase>().ok())
            {
                db.close();
            }
            on_closed();
        });
        Ok(Self {
            db: Rc::new(Connection(db)),
            failing_writes: Rc::default(),
            name: name.to_string(),
        })
    }

    /// The stored vault meta (JSON), if a vault exists.
    pub async fn meta(&self) -> Result<Option<String>, StoreError> {
        // A value that is not a string is damage; the vault layer reports it as such.
        Ok(self
            .get(META, META_KEY)
            .await?
            .map(|v| v.as_string().unwrap_or_default()))
    }

    /// One value by key, in a read-only transaction of its own.
    async fn get(&self, store_name: &str, key: &str) -> Result<Option<JsValue>, StoreError> {
        let read = |e| StoreError::ReadFailed(describe(e));
        let tx = self
            .db
            .transaction(&[store_name], TransactionMode::ReadOnly)
            .map_err(read)?;
        let store = tx.object_store(store_name).map_err(read)?;
        store
            .get(JsValue::from_str(key))
            .map_err(read)?
            .await
            .map_err(read)
    }

    /// Every sealed record with its id, in id order.
    pub async fn records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(self.dump().await?.1)
    }

    /// The meta and every record, read in one transaction (a consistent copy, as a backup
    /// needs).
    pub async fn dump(&self) -> Result<(Option<String>, Vec<(String, Vec<u8>)>), StoreError> {
        let read = |e| StoreError::ReadFailed(describe(e));
        let tx = self
            .db
            .transaction(&[META, RECORDS], TransactionMode::ReadOnly)
            .map_err(read)?;
        let meta = tx
            .object_store(META)
            .map_err(read)?
            .get(JsValue::from_str(META_KEY))
            .map_err(read)?
            .await
            .map_err(read)?
            .map(|v| v.as_string().unwrap_or_default());
        let store = tx.object_store(RECORDS).map_err(read)?;
        let keys = store
            .get_all_keys(None, None)
            .map_err(read)?
            .await
            .map_err(read)?;
        let values = store
            .get_all(None, None)
            .map_err(read)?
            .await
            .map_err(read)?;
        Ok((meta, pairs(keys, values)))
    }

    /// One sealed record.
    pub async fn record(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(RECORDS, id).await?.map(|v| bytes_of(&v)))
    }

    /// Writes a batch in one transaction over both stores.
    pub async fn write(&self, batch: Batch) -> Result<(), StoreError> {
        let fail = |e| write_failed(describe(e));
        let tx = self
            .db
            .transaction(&[META, RECORDS], TransactionMode::ReadWrite)
            .map_err(fail)?;
        let Batch {
            meta,
            puts,
            deletes,
            guard,
            clear,
            abort_before_commit,
        } = batch;
        let forced = self.failing_writes.get();
        if forced > 0 {
            self.failing_writes.set(forced - 1);
        }
        let abort_before_commit = abort_before_commit || forced > 0;
        let mut puts = puts;
        let result = async {
            if let Some(guard) = guard {
                let stored = tx
                    .object_store(META)
                    .map_err(fail)?
                    .get(JsValue::from_str(META_KEY))
                    .map_err(fail)?
                    .await
                    .map_err(fail)?
                    .and_then(|v| v.as_string());
                if stored.as_deref() != Some(guard.expected_meta.as_str()) {
                    return Err(StoreError::VaultChanged);
                }
                let manifest = tx
                    .object_store(RECORDS)
                    .map_err(fail)?
                    .get(JsValue::from_str(guard.manifest_id))
                    .map_err(fail)?
                    .await
                    .map_err(fail)?
                    .map(|v| bytes_of(&v));
                let next = (guard.update)(manifest.as_deref(), &puts, &deletes)?;
                puts.push((guard.manifest_id.to_string(), next));
            }
            if let Some((json, how)) = &meta {
                let store = tx.object_store(META).map_err(fail)?;
                let (value, key) = (JsValue::from_str(json), JsValue::from_str(META_KEY));
                match how {
                    MetaWrite::Create => {
                        store
                            .add(&value, Some(&key))
                            .map_err(fail)?
                            .await
                            .map_err(|_| StoreError::AlreadyExists)?;
                    }
                    MetaWrite::Replace => {
                        store
                            .put(&value, Some(&key))
                            .map_err(fail)?
                            .await
                            .map_err(fail)?;
                    }
                }
            }
            let records = tx.object_store(RECORDS).map_err(fail)?;
            if clear {
                records.clear().map_err(fail)?.await.map_err(fail)?;
            }
            for (id, sealed) in &puts {
                let value: JsValue = Uint8Array::from(sealed.as_slice()).into();
                records
                    .put(&value, Some(&JsValue::from_str(id)))
                    .map_err(fail)?
                    .await
                    .map_err(fail)?;
            }
            for id in &deletes {
                records
                    .delete(JsValue::from_str(id))
                    .map_err(fail)?
                    .await
                    .map_err(fail)?;
            }
            Ok::<(), StoreError>(())
        }
        .await;
        if let Err(e) = result {
            // Roll back whatever part of the batch went through. The request's own error may
            // already have aborted the transaction; that is fine too.
            let _ = tx.abort();
            return Err(e);
        }
        if abort_before_commit {
            // The outcome is "aborted" either way; what matters is that nothing landed.
            let _ = tx.abort().map_err(fail)?.await;
            return Err(StoreError::WriteFailed("the write was interrupted".into()));
        }
        // Kept to read why, if the browser aborts the commit.
        let raw: web_sys::IdbTransaction = tx.into();
        let tx = idb::Transaction::from(raw.clone());
        let outcome = tx.commit().map_err(fail)?.await.map_err(fail)?;
        if outcome.is_committed() {
            Ok(())
        } else {
            // The transaction's own error says why (out of space, typically).
            let why = raw
                .error()
                .map(|e| format!("{}: {}", e.name(), e.message()))
                .unwrap_or_else(|| "the browser aborted the write".into());
            Err(write_failed(why))
        }
    }

    /// Test hook: the next `n` writes through this store (or any clone of it) issue their
    /// requests, then abort instead of committing, as when the tab is closed mid-write.
    #[doc(hidden)]
    pub fn fail_next_writes(&self, n: u32) {
        self.failing_writes.set(n);
    }

    /// Deletes the whole database: every trace of the vault in this browser.
    pub async fn erase(self) -> Result<(), StoreError> {
        self.db.close();
        let factory = Factory::new().map_err(|e| StoreError::Unavailable(describe(e)))?;
        factory
            .delete(&self.name)
            .map_err(|e| StoreError::WriteFailed(describe(e)))?
            .await
            .map_err(|e| StoreError::WriteFailed(describe(e)))
    }
}

fn pairs(keys: Vec<JsValue>, values: Vec<JsValue>) -> Vec<(String, Vec<u8>)> {
    keys.into_iter()
        .zip(values)
        .map(|(k, v)| (k.as_string().unwrap_or_default(), bytes_of(&v)))
        .collect()
}

fn bytes_of(value: &JsValue) -> Vec<u8> {
    value
        .dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .unwrap_or_default()
}
