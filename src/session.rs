//! An unlocked vault in the browser: the glue between the vault format (core) and IndexedDB
//! ([`crate::store`]). Every write is sealed first and stored second, in one transaction.

use std::rc::Rc;

use holdix_core::records::{
    Connection, Settings, Snapshot, CONNECTION_PREFIX, SETTINGS_ID, SNAPSHOT_ID,
};
use holdix_core::vault::{KdfParams, OpenVault, VaultError, VaultMeta};

use crate::store::{Batch, Store, StoreError};

/// What went wrong, phrased for the person in front of the screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("Wrong password")]
    WrongPassword,
    #[error(
        "{0}. Nothing was changed or deleted. If you have a backup of this browser profile, \
         restore it; otherwise erase the vault and connect your exchanges again."
    )]
    Damaged(String),
    #[error("No vault exists in this browser yet.")]
    NoVault,
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// An unlocked vault. Cheap to clone (the key is shared, and zeroized when the last clone
/// is dropped, which is what locking does).
#[derive(Clone)]
pub struct Session {
    store: Store,
    vault: Rc<OpenVault>,
    pub settings: Settings,
}

impl Session {
    /// Creates a new vault with default settings. Never overwrites an existing one.
    pub async fn create(
        store: Store,
        password: &str,
        kdf: KdfParams,
    ) -> Result<Self, SessionError> {
        let (meta, vault) = VaultMeta::create(password, kdf)?;
        let settings = Settings::default();
        let batch = Batch::new()
            .create_meta(meta.to_json())
            .put(SETTINGS_ID, vault.seal_json(SETTINGS_ID, &settings)?);
        store.write(batch).await?;
        Ok(Self {
            store,
            vault: Rc::new(vault),
            settings,
        })
    }

    /// Derives the key from `password`, proves it, and reads the settings.
    pub async fn unlock(store: Store, password: &str) -> Result<Self, SessionError> {
        let meta = Self::stored_meta(&store).await?;
        let vault = meta.unlock(password)?;
        let settings = match store.record(SETTINGS_ID).await? {
            Some(sealed) => vault.open_json(SETTINGS_ID, &sealed)?,
            None => Settings::default(),
        };
        Ok(Self {
            store,
            vault: Rc::new(vault),
            settings,
        })
    }

    async fn stored_meta(store: &Store) -> Result<VaultMeta, SessionError> {
        let json = store.meta().await?.ok_or(SessionError::NoVault)?;
        Ok(VaultMeta::from_json(&json)?)
    }

    /// Saves new settings; on failure the old ones stay, in storage and here.
    pub async fn save_settings(&self, settings: Settings) -> Result<Self, SessionError> {
        let sealed = self.vault.seal_json(SETTINGS_ID, &settings)?;
        self.store
            .write(Batch::new().put(SETTINGS_ID, sealed))
            .await?;
        Ok(Self {
            settings,
            ..self.clone()
        })
    }

    pub async fn save_connection(&self, connection: &Connection) -> Result<(), SessionError> {
        let id = connection.record_id();
        let sealed = self.vault.seal_json(&id, connection)?;
        Ok(self.store.write(Batch::new().put(id, sealed)).await?)
    }

    /// Removes a connection and, in the same transaction, its data from the snapshot.
    pub async fn delete_connection(&self, id: &str) -> Result<(), SessionError> {
        let mut batch = Batch::new().delete(format!("{CONNECTION_PREFIX}{id}"));
        if let Some(mut snapshot) = self.snapshot().await? {
            snapshot.drop_connection(id);
            batch = batch.put(SNAPSHOT_ID, self.vault.seal_json(SNAPSHOT_ID, &snapshot)?);
        }
        Ok(self.store.write(batch).await?)
    }

    /// The last saved portfolio snapshot.
    pub async fn snapshot(&self) -> Result<Option<Snapshot>, SessionError> {
        match self.store.record(SNAPSHOT_ID).await? {
            Some(sealed) => Ok(Some(self.vault.open_json(SNAPSHOT_ID, &sealed)?)),
            None => Ok(None),
        }
    }

    pub async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), SessionError> {
        let sealed = self.vault.seal_json(SNAPSHOT_ID, snapshot)?;
        Ok(self
            .store
            .write(Batch::new().put(SNAPSHOT_ID, sealed))
            .await?)
    }

    pub async fn connections(&self) -> Result<Vec<Connection>, SessionError> {
        self.store
            .records()
            .await?
            .into_iter()
            .filter(|(id, _)| id.starts_with(CONNECTION_PREFIX))
            .map(|(id, sealed)| Ok(self.vault.open_json(&id, &sealed)?))
            .collect()
    }

    /// Re-encrypts everything under `new_password`, prepared in memory: the returned batch
    /// replaces the meta and every record in one transaction.
    pub async fn prepare_password_change(
        &self,
        current: &str,
        new_password: &str,
        kdf: KdfParams,
    ) -> Result<(Batch, OpenVault), SessionError> {
        let meta = Self::stored_meta(&self.store).await?;
        let verified = meta.unlock(current)?;
        let records = self.store.records().await?;
        let rekeyed = verified.rekey(&records, new_password, kdf)?;
        let batch = Batch::new()
            .replace_meta(rekeyed.meta.to_json())
            .put_all(rekeyed.records);
        Ok((batch, rekeyed.vault))
    }

    /// Changes the password. If the write fails, the old password keeps working.
    pub async fn change_password(
        &self,
        current: &str,
        new_password: &str,
    ) -> Result<Self, SessionError> {
        let kdf = self.vault.header().kdf.max_with(KdfParams::DEFAULT);
        let (batch, next) = self
            .prepare_password_change(current, new_password, kdf)
            .await?;
        self.store.write(batch).await?;
        Ok(Self {
            vault: Rc::new(next),
            ..self.clone()
        })
    }
}
