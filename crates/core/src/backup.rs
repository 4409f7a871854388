//! The backup file: the vault exactly as stored — its meta (KDF parameters, salt, key check)
//! and every sealed record (connections, settings, snapshot, history) — with nothing
//! decrypted to write it; it opens with the vault password. Layout:
//!
//! `HOLDIXBK` (8 bytes) · format version (u16, big-endian) · body length (u64, big-endian) ·
//! body (JSON: `{"meta": vault meta, "records": [[id, base64 of the sealed bytes], …]}`) ·
//! SHA-256 of everything before it (32 bytes).
//!
//! [`read`] refuses, each with its own message and before any key derivation: an empty file,
//! a file that is not a Holdix backup, a newer format, a truncated or damaged file (length
//! and checksum), and KDF parameters below the floor (a tampered header). A wrong password
//! is [`crate::vault::VaultError::WrongPassword`] when the backup is opened.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::vault::{OpenVault, SealedRecord, VaultError, VaultMeta, MANIFEST_ID};

pub const MAGIC: &[u8; 8] = b"HOLDIXBK";
/// The format this version writes (and the newest it reads).
pub const VERSION: u16 = 1;
const HEAD: usize = 8 + 2 + 8;
const SUM: usize = 32;

/// What went wrong reading a backup, phrased for the person choosing the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    #[error("The file is empty.")]
    Empty,
    #[error("This is not a Holdix backup file.")]
    NotHoldix,
    #[error("This backup was made by a newer Holdix (format {0}); update Holdix to restore it.")]
    NewerVersion(u16),
    #[error("The backup file is damaged or incomplete ({0}); nothing was changed. Try another copy of it.")]
    Damaged(&'static str),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

#[derive(Serialize, Deserialize)]
struct Body {
    meta: String,
    records: Vec<(String, String)>,
}

/// A backup's contents: the vault meta (JSON, as stored) and the sealed records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub meta: String,
    pub records: Vec<SealedRecord>,
}

/// The backup file of a vault as stored.
pub fn write(meta: &str, records: &[SealedRecord]) -> Vec<u8> {
    let body = Body {
        meta: meta.to_string(),
        records: records
            .iter()
            .map(|(id, sealed)| (id.clone(), B64.encode(sealed)))
            .collect(),
    };
    // Strings only: serializing cannot fail.
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut out = Vec::with_capacity(HEAD + json.len() + SUM);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    out.extend_from_slice(&(json.len() as u64).to_be_bytes());
    out.extend_from_slice(&json);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Reads a backup file, refusing anything but an intact one with sound KDF parameters.
pub fn read(bytes: &[u8]) -> Result<Backup, BackupError> {
    if bytes.is_empty() {
        return Err(BackupError::Empty);
    }
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(BackupError::NotHoldix);
    }
    if bytes.len() < HEAD + SUM {
        return Err(BackupError::Damaged("it ends too early"));
    }
    let version = u16::from_be_bytes([bytes[8], bytes[9]]);
    if version > VERSION {
        return Err(BackupError::NewerVersion(version));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[10..HEAD]);
    let len = u64::from_be_bytes(len);
    if len != (bytes.len() - HEAD - SUM) as u64 {
        return Err(BackupError::Damaged("its length does not match"));
    }
    let (content, sum) = bytes.split_at(bytes.len() - SUM);
    if Sha256::digest(content).as_slice() != sum {
        return Err(BackupError::Damaged("its checksum does not match"));
    }
    let body: Body = serde_json::from_slice(&content[HEAD..])
        .map_err(|_| BackupError::Damaged("its contents are not readable"))?;
    let records = body
        .records
        .into_iter()
        .map(|(id, b64)| {
            Ok((
                id,
                B64.decode(b64)
                    .map_err(|_| BackupError::Damaged("a record is not readable"))?,
            ))
        })
        .collect::<Result<Vec<_>, BackupError>>()?;
    // The header's checksum and KDF parameters, before anyone derives a key from them.
    VaultMeta::from_json(&body.meta)?.header()?;
    Ok(Backup {
        meta: body.meta,
        records,
    })
}

impl Backup {
    /// Opens the backup with its vault password and checks every record against the
    /// backup's own record list (none missing, altered or replayed).
    pub fn open(&self, password: &str) -> Result<OpenVault, BackupError> {
        let manifest = self
            .records
            .iter()
            .find(|(id, _)| id == MANIFEST_ID)
            .map(|(_, s)| s.as_slice());
        let vault = VaultMeta::from_json(&self.meta)?.unlock_with(password, manifest)?;
        vault.verify(&self.records)?;
        Ok(vault)
    }
}

/// The file name of a backup made at `ms`: `holdix-backup-2026-11-28.holdix`.
pub fn file_name(ms: u64) -> String {
    format!(
        "holdix-backup-{}.holdix",
        &crate::export::iso_time(ms)[..10]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Settings, SETTINGS_ID};
    use crate::vault::{KdfParams, Manifest};

    const PASSWORD: &str = "backup password 1";

    /// A vault as the app stores it: meta, a settings record and the manifest.
    fn vault() -> (String, Vec<SealedRecord>) {
        let (meta, vault) = VaultMeta::create(PASSWORD, KdfParams::FLOOR).unwrap();
        let mut records = vec![(
            SETTINGS_ID.to_string(),
            vault.seal_json(SETTINGS_ID, &Settings::default()).unwrap(),
        )];
        let manifest = vault.seal_manifest(&Manifest::of(&records)).unwrap();
        records.push((MANIFEST_ID.to_string(), manifest));
        (meta.to_json(), records)
    }

    #[test]
    fn a_backup_round_trips_and_opens_with_the_vault_password() {
        let (meta, records) = vault();
        let file = write(&meta, &records);
        assert_eq!(&file[..8], b"HOLDIXBK");
        assert_eq!(&file[8..10], &[0, 1], "format version 1");
        let backup = read(&file).unwrap();
        assert_eq!(
            backup,
            Backup {
                meta: meta.clone(),
                records: records.clone()
            }
        );
        let vault = backup.open(PASSWORD).unwrap();
        let settings: Settings = vault.open_json(SETTINGS_ID, &records[0].1).unwrap();
        assert_eq!(settings, Settings::default());
        // Nothing decrypted went into the file: the sealed bytes are there as stored.
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains(&B64.encode(&records[0].1)));
        assert!(!text.contains("auto_lock_minutes"));
        assert_eq!(
            file_name(1_795_877_100_000),
            "holdix-backup-2026-11-28.holdix"
        );
    }

    #[test]
    fn every_bad_file_has_its_own_error() {
        let (meta, records) = vault();
        let good = write(&meta, &records);
        assert_eq!(read(&[]), Err(BackupError::Empty));
        assert_eq!(
            read(b"{\"not\": \"a backup\"}"),
            Err(BackupError::NotHoldix)
        );
        assert_eq!(read(b"HOLD"), Err(BackupError::NotHoldix));
        let mut newer = good.clone();
        newer[9] = 2;
        assert_eq!(read(&newer), Err(BackupError::NewerVersion(2)));
        assert_eq!(
            read(&good[..good.len() - 1]),
            Err(BackupError::Damaged("its length does not match"))
        );
        assert_eq!(
            read(&good[..12]),
            Err(BackupError::Damaged("it ends too early"))
        );
        let mut flipped = good.clone();
        flipped[HEAD + 5] ^= 1;
        assert_eq!(
            read(&flipped),
            Err(BackupError::Damaged("its checksum does not match"))
        );
        // 50 MB of noise: refused at the magic, at once.
        let noise: Vec<u8> = (0..50u64 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(read(&noise), Err(BackupError::NotHoldix));
        // The right file, the wrong password.
        assert_eq!(
            read(&good).unwrap().open("not the password").unwrap_err(),
            BackupError::Vault(VaultError::WrongPassword)
        );
    }

    /// A header rewritten with cheap KDF parameters (and a matching checksum, and a file
    /// checksum made anew) is refused as tampered before any derivation.
    #[test]
    fn parameters_below_the_floor_are_refused() {
        let (meta, records) = vault();
        let weak = KdfParams {
            m_cost_kib: 1024,
            t_cost: 1,
            p_cost: 1,
        };
        let tampered =
            crate::vault::tests::with_params(&VaultMeta::from_json(&meta).unwrap(), weak);
        let file = write(&tampered.to_json(), &records);
        assert!(matches!(
            read(&file),
            Err(BackupError::Vault(VaultError::WeakParameters {
                m_cost_kib: 1024,
                ..
            }))
        ));
    }
}
