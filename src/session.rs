//! An unlocked vault in the browser: the glue between the vault format (core) and IndexedDB
//! ([`crate::store`]). Every write is sealed first and stored second, in one transaction that
//! first checks the stored vault is still the one this session opened and updates the vault's
//! manifest (see `holdix_core::vault::Manifest`).

use std::cell::Cell;
use std::rc::Rc;

use holdix_core::backup::{self, Backup, Merged};
use holdix_core::history::{self, Layout, Point};
use holdix_core::records::{
    Connection, Settings, Snapshot, CONNECTION_PREFIX, SETTINGS_ID, SNAPSHOT_ID,
};
use holdix_core::vault::{
    KdfParams, Manifest, OpenVault, SealedRecord, VaultError, VaultHeader, VaultMeta, MANIFEST_ID,
};

use crate::kdf;
use crate::store::{Batch, Guard, Store, StoreError};

/// What went wrong, phrased for the person in front of the screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("Wrong password")]
    WrongPassword,
    #[error(
        "{0}. Nothing was changed or deleted. If you have a Holdix backup file, erase the \
         vault and restore the backup from the Create screen; otherwise erase the vault and \
         connect your exchanges again."
    )]
    Damaged(String),
    #[error("No vault exists in this browser yet.")]
    NoVault,
    /// Another tab changed the password or erased the vault: this session must lock.
    #[error("{}", StoreError::VaultChanged)]
    VaultChanged,
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Other(String),
}

impl From<VaultError> for SessionError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::WrongPassword => Self::WrongPassword,
            e if e.is_damage() => Self::Damaged(e.to_string()),
            e => Self::Other(e.to_string()),
        }
    }
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::VaultChanged => Self::VaultChanged,
            StoreError::Damaged(text) => Self::Damaged(text),
            other => Self::Store(other),
        }
    }
}

thread_local! {
    static LIVE_KEYS: Cell<usize> = const { Cell::new(0) };
}

/// Vault keys alive in this page (a key dies, zeroized, with its last session clone). Tests
/// read it to see that locking really lets go of the key.
pub fn live_keys() -> usize {
    LIVE_KEYS.with(Cell::get)
}

/// The open vault, counted in [`live_keys`].
struct Key(OpenVault);

impl Key {
    fn new(vault: OpenVault) -> Rc<Self> {
        LIVE_KEYS.with(|n| n.set(n.get() + 1));
        Rc::new(Self(vault))
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        LIVE_KEYS.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// An unlocked vault. Cheap to clone (the key is shared, and zeroized when the last clone
/// is dropped, which is what locking does).
#[derive(Clone)]
pub struct Session {
    store: Store,
    key: Rc<Key>,
    /// The stored meta this session was opened with: every write checks it is still there.
    meta: Rc<str>,
    pub settings: Settings,
}

impl Session {
    fn vault(&self) -> &OpenVault {
        &self.key.0
    }

    /// Creates a new vault with default settings. Never overwrites an existing one.
    pub async fn create(
        store: Store,
        password: &str,
        kdf: KdfParams,
    ) -> Result<Self, SessionError> {
        let (meta, vault) = new_vault(password, kdf).await?;
        let settings = Settings::default();
        let records = vec![(
            SETTINGS_ID.to_string(),
            vault.seal_json(SETTINGS_ID, &settings)?,
        )];
        let manifest = vault.seal_manifest(&Manifest::of(&records))?;
        let meta = meta.to_json();
        let batch = Batch::new()
            .create_meta(meta.clone())
            .put_all(records)
            .put(MANIFEST_ID, manifest);
        store.write(batch).await?;
        Ok(Self {
            store,
            key: Key::new(vault),
            meta: meta.into(),
            settings,
        })
    }

    /// Derives the key from `password`, proves it, checks every record against the vault's
    /// manifest, and reads the settings. A vault from before manifests is upgraded here.
    pub async fn unlock(store: Store, password: &str) -> Result<Self, SessionError> {
        let json = store.meta().await?.ok_or(SessionError::NoVault)?;
        let meta = VaultMeta::from_json(&json)?;
        let records = store.records().await?;
        let manifest = find(&records, MANIFEST_ID);
        let key = kdf::derive(password, &meta.header()?).await?;
        let vault = meta.open_with(key, manifest)?;
        vault.verify(&records)?;
        Self::opened(store, vault, json, &records).await
    }

    /// The session of a vault whose key is proven and records verified: its settings read,
    /// and a vault from before manifests upgraded.
    async fn opened(
        store: Store,
        vault: OpenVault,
        json: String,
        records: &[SealedRecord],
    ) -> Result<Self, SessionError> {
        let settings = match find(records, SETTINGS_ID) {
            Some(sealed) => vault.open_json(SETTINGS_ID, sealed)?,
            None => Settings::default(),
        };
        let session = Self {
            store,
            key: Key::new(vault),
            meta: json.into(),
            settings,
        };
        if session.vault().is_legacy() {
            return session.upgrade(records).await;
        }
        Ok(session)
    }

    /// Restores a backup into a browser without a vault: the vault as it was, meta and
    /// records as they are in the file, in one transaction that never overwrites a vault.
    /// `vault` is the backup opened with its password.
    pub async fn restore(
        store: Store,
        backup: &Backup,
        vault: OpenVault,
    ) -> Result<Self, SessionError> {
        store
            .write(
                Batch::new()
                    .create_meta(backup.meta.clone())
                    .put_all(backup.records.clone()),
            )
            .await?;
        Self::opened(store, vault, backup.meta.clone(), &backup.records).await
    }

    /// Gives a vault from before manifests its manifest (and a key check that says so), in
    /// one transaction guarded like every write.
    async fn upgrade(self, records: &[SealedRecord]) -> Result<Self, SessionError> {
        let manifest = self.vault().seal_manifest(&Manifest::of(records))?;
        let meta = self.vault().meta()?.to_json();
        let unlisted = move |stored: Option<&[u8]>, _: &[SealedRecord], _: &[String]| {
            stored
                .is_none()
                .then_some(manifest)
                .ok_or(StoreError::VaultChanged)
        };
        self.store
            .write(
                Batch::new()
                    .replace_meta(meta.clone())
                    .guarded(self.guard_with(Box::new(unlisted))),
            )
            .await?;
        Ok(Self {
            meta: meta.into(),
            ..self
        })
    }

    /// The guard of an ordinary write: same vault, manifest updated with the batch.
    fn guard(&self) -> Guard {
        let key = self.key.clone();
        self.guard_with(Box::new(move |stored, puts, deletes| {
            updated_manifest(&key.0, stored, puts, deletes)
        }))
    }

    #[allow(clippy::type_complexity)]
    fn guard_with(
        &self,
        update: Box<
            dyn FnOnce(Option<&[u8]>, &[SealedRecord], &[String]) -> Result<Vec<u8>, StoreError>,
        >,
    ) -> Guard {
        Guard {
            expected_meta: self.meta.to_string(),
            manifest_id: MANIFEST_ID,
            update,
        }
    }

    /// Writes `batch` if the stored vault is still this session's.
    async fn write(&self, batch: Batch) -> Result<(), SessionError> {
        Ok(self.store.write(batch.guarded(self.guard())).await?)
    }

    /// Saves new settings; on failure the old ones stay, in storage and here.
    pub async fn save_settings(&self, settings: Settings) -> Result<Self, SessionError> {
        let sealed = self.vault().seal_json(SETTINGS_ID, &settings)?;
        self.write(Batch::new().put(SETTINGS_ID, sealed)).await?;
        Ok(Self {
            settings,
            ..self.clone()
        })
    }

    /// Saves a connection (noting when, for merging backups) and, in the same transaction,
    /// the settings saying connections changed (the dashboard then offers a backup).
    pub async fn save_connection(&self, connection: &Connection) -> Result<Self, SessionError> {
        let now = now_ms();
        let connection = Connection {
            saved_ms: now,
            ..connection.clone()
        };
        let id = connection.record_id();
        let sealed = self.vault().seal_json(&id, &connection)?;
        self.write_changed_connections(Batch::new().put(id, sealed), now, None)
            .await
    }

    /// Removes a connection and, in the same transaction, its data from the snapshot.
    pub async fn delete_connection(&self, id: &str) -> Result<Self, SessionError> {
        let removed = self.connection(id).await?;
        let mut batch = Batch::new().delete(format!("{CONNECTION_PREFIX}{id}"));
        if let Some(mut snapshot) = self.snapshot().await? {
            snapshot.drop_connection(id);
            batch = batch.put(SNAPSHOT_ID, self.vault().seal_json(SNAPSHOT_ID, &snapshot)?);
        }
        self.write_changed_connections(batch, now_ms(), removed.as_ref())
            .await
    }

    /// Writes `batch` with the settings noting that connections changed at `now` (and that
    /// `removed` was removed, so merging an older backup does not bring it back), in one
    /// transaction.
    async fn write_changed_connections(
        &self,
        batch: Batch,
        now: u64,
        removed: Option<&Connection>,
    ) -> Result<Self, SessionError> {
        let mut settings = Settings {
            connections_changed_ms: now,
            ..self.settings.clone()
        };
        if let Some(connection) = removed {
            settings.note_removed(connection, now);
        }
        let sealed = self.vault().seal_json(SETTINGS_ID, &settings)?;
        self.write(batch.put(SETTINGS_ID, sealed)).await?;
        Ok(Self {
            settings,
            ..self.clone()
        })
    }

    /// The last saved portfolio snapshot.
    pub async fn snapshot(&self) -> Result<Option<Snapshot>, SessionError> {
        let Some(sealed) = self.store.record(SNAPSHOT_ID).await? else {
            return Ok(None);
        };
        match self.vault().open_json(SNAPSHOT_ID, &sealed) {
            Ok(snapshot) => Ok(Some(snapshot)),
            Err(e) => Err(self.unreadable(e).await),
        }
    }

    /// What a record that does not open means: damage, unless the vault changed meanwhile
    /// (another tab set a new password, or erased it and made a new one), so this session's
    /// key is retired. The reads of [`Self::snapshot`], [`Self::connection`],
    /// [`Self::connections`] and [`Self::history`] go through here. (One generic reader for
    /// the four cost about 1 KB of bundle: each async copy is compiled per type.)
    async fn unreadable(&self, e: VaultError) -> SessionError {
        match self.store.meta().await {
            Ok(Some(meta)) if *meta == *self.meta => e.into(),
            Ok(_) => SessionError::VaultChanged,
            Err(e) => e.into(),
        }
    }

    /// Saves a refresh: the snapshot and history's changed records (see
    /// `history::changes`), in one transaction: all of it lands, or none.
    pub async fn save_snapshot(
        &self,
        snapshot: &Snapshot,
        history: history::Changes,
    ) -> Result<(), SessionError> {
        let mut batch =
            Batch::new().put(SNAPSHOT_ID, self.vault().seal_json(SNAPSHOT_ID, snapshot)?);
        for (id, json) in history.puts {
            let sealed = self.vault().seal(&id, &json)?;
            batch = batch.put(id, sealed);
        }
        for id in history.deletes {
            batch = batch.delete(id);
        }
        self.write(batch).await
    }

    /// History's points, time-ordered, and what its records hold.
    pub async fn history(&self) -> Result<(Vec<Point>, Layout), SessionError> {
        match backup::history_of(self.vault(), &self.store.records().await?) {
            Ok(history) => Ok(history),
            Err(e) => Err(self.unreadable(e).await),
        }
    }

    /// The backup file of this vault as stored now (nothing decrypted), after noting the
    /// backup in the settings (so the file says it too). Returns the session with those
    /// settings and the file.
    pub async fn export_backup(&self) -> Result<(Self, Vec<u8>), SessionError> {
        let settings = Settings {
            last_backup_ms: Some(now_ms()),
            ..self.settings.clone()
        };
        let next = self.save_settings(settings).await?;
        let (meta, records) = self.store.dump().await?;
        if meta.as_deref() != Some(&*self.meta) {
            return Err(SessionError::VaultChanged);
        }
        // Never hand out a copy that would not restore.
        self.vault().verify(&records)?;
        Ok((next, backup::write(&self.meta, &records)))
    }

    /// Merging an opened backup into this vault, prepared in memory (see
    /// `holdix_core::backup::merge`): the batch lands only if nothing was saved since the
    /// records were read.
    pub async fn prepare_merge(
        &self,
        backup: &Backup,
        theirs: &OpenVault,
    ) -> Result<(Batch, Merged), SessionError> {
        let records = self.store.records().await?;
        let mut merged = backup::merge(self.vault(), &records, theirs, &backup.records, now_ms())?;
        let read = find(&records, MANIFEST_ID).map(<[u8]>::to_vec);
        let key = self.key.clone();
        let unchanged = move |stored: Option<&[u8]>, puts: &[SealedRecord], deletes: &[String]| {
            if stored.map(<[u8]>::to_vec) != read {
                return Err(StoreError::WriteFailed(
                    "Holdix saved something else meanwhile; try again".into(),
                ));
            }
            updated_manifest(&key.0, stored, puts, deletes)
        };
        let mut batch = Batch::new().put_all(std::mem::take(&mut merged.puts));
        for id in &merged.deletes {
            batch = batch.delete(id.clone());
        }
        Ok((batch.guarded(self.guard_with(Box::new(unchanged))), merged))
    }

    /// Merges an opened backup into this vault, in one transaction.
    pub async fn merge_backup(
        &self,
        backup: &Backup,
        theirs: &OpenVault,
    ) -> Result<Merged, SessionError> {
        let (batch, merged) = self.prepare_merge(backup, theirs).await?;
        self.store.write(batch).await?;
        Ok(merged)
    }

    /// Replacing this vault with an opened backup, prepared: the batch swaps the meta and
    /// every record in one transaction, if the stored vault is still this session's.
    pub fn prepare_replace(&self, backup: &Backup) -> Result<Batch, SessionError> {
        let manifest = find(&backup.records, MANIFEST_ID)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| {
                SessionError::Damaged("The backup's list of records is missing".into())
            })?;
        let records = backup
            .records
            .iter()
            .filter(|(id, _)| id != MANIFEST_ID)
            .cloned()
            .collect();
        let theirs = move |_: Option<&[u8]>, _: &[SealedRecord], _: &[String]| Ok(manifest);
        Ok(Batch::new()
            .replace_meta(backup.meta.clone())
            .clear_records()
            .put_all(records)
            .guarded(self.guard_with(Box::new(theirs))))
    }

    /// Replaces this vault with an opened backup; the session afterwards is the backup's.
    pub async fn replace_with(
        &self,
        backup: &Backup,
        vault: OpenVault,
    ) -> Result<Self, SessionError> {
        self.store.write(self.prepare_replace(backup)?).await?;
        Self::opened(
            self.store.clone(),
            vault,
            backup.meta.clone(),
            &backup.records,
        )
        .await
    }

    pub async fn connections(&self) -> Result<Vec<Connection>, SessionError> {
        match backup::connections_of(self.vault(), &self.store.records().await?) {
            Ok(connections) => Ok(connections),
            Err(e) => Err(self.unreadable(e).await),
        }
    }

    /// One connection by id.
    pub async fn connection(&self, id: &str) -> Result<Option<Connection>, SessionError> {
        let record = format!("{CONNECTION_PREFIX}{id}");
        let Some(sealed) = self.store.record(&record).await? else {
            return Ok(None);
        };
        match self.vault().open_json(&record, &sealed) {
            Ok(connection) => Ok(Some(connection)),
            Err(e) => Err(self.unreadable(e).await),
        }
    }

    /// Re-encrypts everything under `new_password`, prepared in memory: the returned batch
    /// replaces the meta and every record in one transaction, and only if no other write
    /// landed since the records were read.
    pub async fn prepare_password_change(
        &self,
        current: &str,
        new_password: &str,
        kdf: KdfParams,
    ) -> Result<(Batch, OpenVault, String), SessionError> {
        let json = self.store.meta().await?.ok_or(SessionError::NoVault)?;
        if *json != *self.meta {
            return Err(SessionError::VaultChanged);
        }
        let stored = VaultMeta::from_json(&json)?;
        let verified = stored.open_with(kdf::derive(current, &stored.header()?).await?, None)?;
        let next = new_vault(new_password, kdf).await?;
        let records = self.store.records().await?;
        let read = find(&records, MANIFEST_ID).map(<[u8]>::to_vec);
        let mut rekeyed = verified.rekey_to(&records, next)?;
        let manifest = rekeyed
            .records
            .pop()
            .filter(|(id, _)| id == MANIFEST_ID)
            .map(|(_, sealed)| sealed)
            .ok_or_else(|| SessionError::Other("the new record list is missing".into()))?;
        let meta = rekeyed.meta.to_json();
        let unchanged = move |stored: Option<&[u8]>, _: &[SealedRecord], _: &[String]| {
            if stored.map(<[u8]>::to_vec) == read {
                Ok(manifest)
            } else {
                Err(StoreError::WriteFailed(
                    "another tab saved meanwhile; try again".into(),
                ))
            }
        };
        let batch = Batch::new()
            .replace_meta(meta.clone())
            .put_all(rekeyed.records)
            .guarded(self.guard_with(Box::new(unchanged)));
        Ok((batch, rekeyed.vault, meta))
    }

    /// Changes the password. If the write fails, the old password keeps working.
    pub async fn change_password(
        &self,
        current: &str,
        new_password: &str,
    ) -> Result<Self, SessionError> {
        let kdf = self.vault().header().kdf.max_with(KdfParams::DEFAULT);
        let (batch, next, meta) = self
            .prepare_password_change(current, new_password, kdf)
            .await?;
        self.store.write(batch).await?;
        Ok(Self {
            key: Key::new(next),
            meta: meta.into(),
            ..self.clone()
        })
    }
}

/// A new vault for `password`: fresh salt, key derived by [`kdf::derive`].
async fn new_vault(password: &str, kdf: KdfParams) -> Result<(VaultMeta, OpenVault), VaultError> {
    let header = VaultHeader::generate(kdf)?;
    let key = kdf::derive(password, &header).await?;
    VaultMeta::create_with(header, key)
}

/// The stored manifest, opened, with a batch's puts and deletes noted, sealed again; or
/// why nothing may be written.
fn updated_manifest(
    vault: &OpenVault,
    stored: Option<&[u8]>,
    puts: &[SealedRecord],
    deletes: &[String],
) -> Result<Vec<u8>, StoreError> {
    let sealed = stored
        .ok_or_else(|| StoreError::Damaged("The vault's list of records is missing".into()))?;
    let mut manifest = vault
        .open_manifest(sealed)
        .map_err(|e| StoreError::Damaged(e.to_string()))?;
    for (id, sealed) in puts {
        manifest.record(id, sealed);
    }
    for id in deletes {
        manifest.forget(id);
    }
    vault
        .seal_manifest(&manifest)
        .map_err(|e| StoreError::WriteFailed(e.to_string()))
}

fn now_ms() -> u64 {
    crate::browser::unix_ms() as u64
}

fn find<'a>(records: &'a [SealedRecord], id: &str) -> Option<&'a [u8]> {
    records
        .iter()
        .find(|(rid, _)| rid == id)
        .map(|(_, sealed)| sealed.as_slice())
}
