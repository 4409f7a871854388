//! Property tests over the vault's and the backup file's decoders: arbitrary bytes,
//! truncation at every length and single bit flips anywhere give the specific typed error —
//! never a panic, never a value, and never "wrong password" for damaged data.
//!
//! Cases per generated property: `HOLDIX_PROPTEST_CASES` (1,000 by default); the
//! truncations and bit flips are exhaustive.

use base64::Engine;
use holdix_core::backup::{self, BackupError};
use holdix_core::vault::{derive_key, KdfParams, VaultError, VaultKey, VaultMeta, MANIFEST_ID};
use proptest::prelude::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const PASSWORD: &str = "correct horse battery staple 42";

fn cases() -> u32 {
    std::env::var("HOLDIX_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// One vault (the cheapest allowed derivation), a sealed record, its manifest and a backup.
struct Vault {
    meta: VaultMeta,
    key: [u8; 32],
    record: Vec<u8>,
    manifest: Vec<u8>,
    file: Vec<u8>,
}

impl Vault {
    fn key(&self) -> VaultKey {
        VaultKey::from_bytes(self.key)
    }

    fn open(&self) -> holdix_core::vault::OpenVault {
        self.meta
            .open_with(self.key(), Some(&self.manifest))
            .unwrap()
    }
}

fn vault() -> &'static Vault {
    static ONE: std::sync::OnceLock<Vault> = std::sync::OnceLock::new();
    ONE.get_or_init(|| {
        let (meta, open) = VaultMeta::create(PASSWORD, KdfParams::FLOOR).unwrap();
        let key = *derive_key(PASSWORD.as_bytes(), &meta.header().unwrap())
            .unwrap()
            .to_bytes();
        let record = open
            .seal("settings", br#"{"proxy":"https://proxy.example"}"#)
            .unwrap();
        let records = vec![("settings".to_string(), record.clone())];
        let manifest = open
            .seal_manifest(&holdix_core::vault::Manifest::of(&records))
            .unwrap();
        let mut all = records.clone();
        all.push((MANIFEST_ID.to_string(), manifest.clone()));
        let file = backup::write(&meta.to_json(), &all);
        Vault {
            meta,
            key,
            record,
            manifest,
            file,
        }
    })
}

fn flipped(bytes: &[u8], bit: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[bit / 8] ^= 1 << (bit % 8);
    out
}

/// The control: the fixtures open.
#[test]
fn the_intact_vault_record_and_backup_open() {
    let v = vault();
    let open = v.open();
    assert!(open.open("settings", &v.record).is_ok());
    let b = backup::read(&v.file).unwrap();
    assert!(b.open_with(v.key()).is_ok());
}

#[test]
fn a_record_cut_or_flipped_anywhere_is_damage() {
    let v = vault();
    let open = v.open();
    for len in 0..v.record.len() {
        let err = open.open("settings", &v.record[..len]).unwrap_err();
        assert!(err.is_damage(), "cut at {len}: {err:?}");
    }
    for bit in 0..v.record.len() * 8 {
        let err = open.open("settings", &flipped(&v.record, bit)).unwrap_err();
        assert!(err.is_damage(), "bit {bit}: {err:?}");
    }
    // The same bytes under another record's id: damage, not another record's contents.
    assert!(open
        .open("connection:x", &v.record)
        .unwrap_err()
        .is_damage());
}

/// Every bit of the stored header, key check and checksum: damage, never "wrong password".
#[test]
fn a_vault_meta_flipped_anywhere_is_damage_not_a_wrong_password() {
    let v = vault();
    let header = B64.decode(&v.meta.header).unwrap();
    let check = B64.decode(&v.meta.check).unwrap();
    let mut tried = 0;
    for bit in 0..header.len() * 8 {
        let mut meta = v.meta.clone();
        meta.header = B64.encode(flipped(&header, bit));
        let err = meta.open_with(v.key(), Some(&v.manifest)).unwrap_err();
        assert!(err.is_damage(), "header bit {bit}: {err:?}");
        tried += 1;
    }
    for bit in 0..check.len() * 8 {
        let mut meta = v.meta.clone();
        meta.check = B64.encode(flipped(&check, bit));
        let err = meta.open_with(v.key(), Some(&v.manifest)).unwrap_err();
        assert!(err.is_damage(), "check bit {bit}: {err:?}");
        tried += 1;
    }
    for i in 0..v.meta.sum.len() {
        let mut meta = v.meta.clone();
        let mut sum = meta.sum.into_bytes();
        sum[i] = if sum[i] == b'0' { b'1' } else { b'0' };
        meta.sum = String::from_utf8(sum).unwrap();
        let err = meta.open_with(v.key(), Some(&v.manifest)).unwrap_err();
        assert!(err.is_damage(), "sum char {i}: {err:?}");
        tried += 1;
    }
    assert!(tried > 500, "{tried}");
    // The control: a wrong key on intact data is a wrong password.
    let wrong = VaultKey::from_bytes([7; 32]);
    assert_eq!(
        v.meta.open_with(wrong, Some(&v.manifest)).unwrap_err(),
        VaultError::WrongPassword
    );
}

/// A backup cut at every length: the error for what is left.
#[test]
fn a_backup_cut_anywhere_says_what_it_is() {
    let v = vault();
    for len in 0..v.file.len() {
        let err = backup::read(&v.file[..len]).unwrap_err();
        let expected = match len {
            0 => matches!(err, BackupError::Empty),
            1..=7 => matches!(err, BackupError::NotHoldix),
            _ => matches!(err, BackupError::Damaged(_)),
        };
        assert!(expected, "cut at {len}: {err:?}");
    }
}

/// Every bit of a backup file: not Holdix (the magic), newer (the version, upward), damaged
/// (anything else); never read, never a wrong password.
#[test]
fn a_backup_flipped_anywhere_is_refused_by_name() {
    let v = vault();
    for bit in 0..v.file.len() * 8 {
        let bytes = flipped(&v.file, bit);
        let err = backup::read(&bytes).unwrap_err();
        let byte = bit / 8;
        let ok = match byte {
            0..=7 => matches!(err, BackupError::NotHoldix),
            8 | 9 => {
                let version = u16::from_be_bytes([bytes[8], bytes[9]]);
                if version > backup::VERSION {
                    err == BackupError::NewerVersion(version)
                } else {
                    matches!(err, BackupError::Damaged(_))
                }
            }
            _ => matches!(err, BackupError::Damaged(_)),
        };
        assert!(ok, "bit {bit} (byte {byte}): {err:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Arbitrary bytes as a sealed record: damage.
    #[test]
    fn prop_arbitrary_record_bytes_are_damage(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let err = vault().open().open("settings", &bytes).unwrap_err();
        prop_assert!(err.is_damage(), "{:?}", err);
    }

    /// Arbitrary text as the stored vault meta: refused as damage (or, if it happens to be
    /// readable JSON of the right shape, still never opened).
    #[test]
    fn prop_arbitrary_meta_is_damage(text in "\\PC{0,200}", header in proptest::collection::vec(any::<u8>(), 0..64)) {
        let readable = VaultMeta::from_json(&text).is_ok();
        prop_assert!(!readable || text.trim_start().starts_with('{'), "read {:?}", text);
        let meta = VaultMeta {
            header: B64.encode(&header),
            check: vault().meta.check.clone(),
            sum: vault().meta.sum.clone(),
        };
        let err = meta.open_with(vault().key(), Some(&vault().manifest)).unwrap_err();
        prop_assert!(err.is_damage(), "{:?}", err);
    }

    /// Arbitrary bytes as a backup file, also behind a valid head: refused by name.
    #[test]
    fn prop_arbitrary_backup_bytes_are_refused(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        with_head in any::<bool>(),
    ) {
        let mut file = bytes.clone();
        if with_head {
            file = vault().file[..18].to_vec();
            file.extend_from_slice(&bytes);
        }
        let err = backup::read(&file).unwrap_err();
        let by_name = match &err {
            BackupError::Empty => file.is_empty(),
            BackupError::NotHoldix => file.len() < 8 || &file[..8] != backup::MAGIC,
            BackupError::NewerVersion(v) => *v > backup::VERSION,
            BackupError::Damaged(_) => true,
            BackupError::Vault(e) => e.is_damage(),
        };
        prop_assert!(by_name, "{:?}", err);
    }
}
