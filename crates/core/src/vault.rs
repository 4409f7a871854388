//! The vault: a password-derived key and the record format everything secret is stored in.
//!
//! * Key derivation: Argon2id with the parameters and a random 16-byte salt kept in the
//!   [`VaultHeader`]. Parameters below [`KdfParams::FLOOR`] are refused as tampered, so an
//!   attacker who can edit storage cannot downgrade the derivation.
//! * Records: AES-256-GCM, a fresh random 96-bit nonce on every write, and the header plus
//!   the record's id bound in as associated data (a record cannot be moved to another id or
//!   to a vault with other parameters). Every record starts with its format version.
//! * [`VaultMeta`] is what is stored beside the records: the header, a key-check record and
//!   an (unkeyed) checksum of both. The checksum tells accidental damage from a wrong
//!   password: a header that fails its checksum is damaged; a header that passes it but whose
//!   key check fails to authenticate means the password is wrong, unless the vault's
//!   [`Manifest`] opens with the same key (then the key was right and the key check was
//!   altered: damage).
//! * [`Manifest`]: a sealed record listing every other record with a digest of its sealed
//!   bytes, rewritten in the same transaction as every write. On unlock a record that is
//!   missing (a deleted `settings` would silently become defaults), an older copy put back
//!   (replay), or a record the vault no longer has (a removed connection restored) is
//!   reported as damage, and nothing is changed. Rolling back the whole storage to an
//!   earlier copy, manifest included, is not detectable without state outside the browser.
//! * Limits of what can be told apart: the KDF inputs (salt and parameters) are in the header
//!   itself, so a header rewritten with another salt or other in-range parameters and a
//!   recomputed checksum derives another key, which looks exactly like a wrong password.
//!   Parameters outside [`KdfParams::FLOOR`]..=[`KdfParams::CEILING`] are refused as damage
//!   before any derivation (so a tampered header can neither weaken the key nor hang the tab).

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Version of the header layout and of the record layout written by this code.
pub const FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"HDXV";
const HEADER_LEN: usize = 4 + 1 + 4 * 3 + SALT_LEN;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const KEY_CHECK_ID: &str = "holdix:key-check";
/// Written by vaults from before the [`Manifest`]: opened, then upgraded by the app.
const KEY_CHECK_V1: &[u8] = b"Holdix vault key check v1";
/// A vault whose key check says v2 keeps a [`Manifest`]; without one it is damaged.
const KEY_CHECK_V2: &[u8] = b"Holdix vault key check v2";
/// The record id of the [`Manifest`].
pub const MANIFEST_ID: &str = "holdix:manifest";

/// Everything that can go wrong opening or reading a vault. Each variant is a different
/// situation for the user, so each has its own message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("Wrong password")]
    WrongPassword,
    #[error("The vault data is damaged: {0}")]
    Damaged(String),
    #[error("The vault data is damaged: a record is truncated")]
    Truncated,
    #[error("The vault was written by an unknown format version ({0}); update Holdix")]
    UnsupportedVersion(u8),
    #[error(
        "The vault data is damaged or tampered with: key derivation parameters \
         ({m_cost_kib} KiB, {t_cost} passes, {p_cost} lanes) are outside the allowed range"
    )]
    WeakParameters {
        m_cost_kib: u32,
        t_cost: u32,
        p_cost: u32,
    },
    #[error("The browser's random number generator is unavailable")]
    Random,
    #[error("Could not encode a record: {0}")]
    Encode(String),
}

impl VaultError {
    /// True for the errors that mean the stored bytes are not what Holdix wrote.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            Self::Damaged(_)
                | Self::Truncated
                | Self::UnsupportedVersion(_)
                | Self::WeakParameters { .. }
        )
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Passes over memory.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// Bitwarden's default memory and time: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };
    /// OWASP's minimum for Argon2id: 19 MiB, 2 passes. Anything weaker is refused.
    pub const FLOOR: Self = Self {
        m_cost_kib: 19 * 1024,
        t_cost: 2,
        p_cost: 1,
    };
    /// Upper bounds, so a tampered header cannot make the page allocate gigabytes or spin:
    /// 256 MiB × 10 passes is about 15 s in a browser, the most an unlock may ever cost.
    pub const CEILING: Self = Self {
        m_cost_kib: 256 * 1024,
        t_cost: 10,
        p_cost: 4,
    };

    /// Component-wise maximum: a password change never weakens the derivation.
    pub fn max_with(self, other: Self) -> Self {
        Self {
            m_cost_kib: self.m_cost_kib.max(other.m_cost_kib),
            t_cost: self.t_cost.max(other.t_cost),
            p_cost: self.p_cost.max(other.p_cost),
        }
    }

    /// Refuses parameters outside `[FLOOR, CEILING]`.
    pub fn check(&self) -> Result<(), VaultError> {
        let (lo, hi) = (Self::FLOOR, Self::CEILING);
        let ok = (lo.m_cost_kib..=hi.m_cost_kib).contains(&self.m_cost_kib)
            && (lo.t_cost..=hi.t_cost).contains(&self.t_cost)
            && (lo.p_cost..=hi.p_cost).contains(&self.p_cost);
        if ok {
            Ok(())
        } else {
            Err(VaultError::WeakParameters {
                m_cost_kib: self.m_cost_kib,
                t_cost: self.t_cost,
                p_cost: self.p_cost,
            })
        }
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The vault header: format version, KDF parameters and salt. Its bytes are the associated
/// data of every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultHeader {
    pub kdf: KdfParams,
    pub salt: [u8; SALT_LEN],
}

impl VaultHeader {
    /// A header with a fresh random salt.
    pub fn generate(kdf: KdfParams) -> Result<Self, VaultError> {
        kdf.check()?;
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        Ok(Self { kdf, salt })
    }

    /// `magic ‖ version ‖ m ‖ t ‖ p ‖ salt`, integers little-endian.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4] = FORMAT_VERSION;
        out[5..9].copy_from_slice(&self.kdf.m_cost_kib.to_le_bytes());
        out[9..13].copy_from_slice(&self.kdf.t_cost.to_le_bytes());
        out[13..17].copy_from_slice(&self.kdf.p_cost.to_le_bytes());
        out[17..].copy_from_slice(&self.salt);
        out
    }

    /// Parses and validates a header: layout, version, then the parameter floor.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        if bytes.len() < 5 || &bytes[..4] != MAGIC {
            return Err(VaultError::Damaged("the vault header is unreadable".into()));
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(VaultError::UnsupportedVersion(bytes[4]));
        }
        if bytes.len() != HEADER_LEN {
            return Err(VaultError::Damaged(
                "the vault header has the wrong length".into(),
            ));
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let kdf = KdfParams {
            m_cost_kib: u32_at(5),
            t_cost: u32_at(9),
            p_cost: u32_at(13),
        };
        kdf.check()?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[17..]);
        Ok(Self { kdf, salt })
    }

    fn aad(&self, record_id: &str) -> Vec<u8> {
        let mut aad = self.to_bytes().to_vec();
        aad.push(0);
        aad.extend_from_slice(record_id.as_bytes());
        aad
    }
}

/// The 256-bit record key. Zeroized when dropped; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct VaultKey([u8; 32]);

impl VaultKey {
    /// A key derived elsewhere (the app derives in a Web Worker and hands the 32 bytes back).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, to hand from the worker that derived them to the page.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }
}

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultKey(..)")
    }
}

/// Argon2id as specified by RFC 9106, with the optional secret and associated data the RFC's
/// test vector uses. The vault calls it with neither.
pub fn argon2id(
    password: &[u8],
    salt: &[u8],
    kdf: KdfParams,
    secret: Option<&[u8]>,
    associated_data: Option<&[u8]>,
    out: &mut [u8],
) -> Result<(), VaultError> {
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(kdf.m_cost_kib)
        .t_cost(kdf.t_cost)
        .p_cost(kdf.p_cost)
        .output_len(out.len());
    if let Some(ad) = associated_data {
        let ad = argon2::AssociatedData::new(ad).map_err(|e| VaultError::Encode(e.to_string()))?;
        builder.data(ad);
    }
    let params = builder
        .build()
        .map_err(|e| VaultError::Encode(e.to_string()))?;
    let hasher = match secret {
        Some(s) => argon2::Argon2::new_with_secret(
            s,
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        )
        .map_err(|e| VaultError::Encode(e.to_string()))?,
        None => argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params),
    };
    hasher
        .hash_password_into(password, salt, out)
        .map_err(|e| VaultError::Encode(e.to_string()))
}

/// Derives the record key from the password and the header's parameters and salt.
pub fn derive_key(password: &[u8], header: &VaultHeader) -> Result<VaultKey, VaultError> {
    header.kdf.check()?;
    let mut key = VaultKey([0u8; 32]);
    argon2id(password, &header.salt, header.kdf, None, None, &mut key.0)?;
    Ok(key)
}

/// Encrypts one record with a caller-chosen nonce. Only for known-answer tests; real writes
/// go through [`OpenVault::seal`], which draws a fresh nonce.
pub fn seal_with_nonce(
    key: &VaultKey,
    header: &VaultHeader,
    record_id: &str,
    nonce: [u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    let cipher = Aes256Gcm::new((&key.0).into());
    let aad = header.aad(record_id);
    let ciphertext = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| VaultError::Encode("encryption failed".into()))?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Decrypts one record: `version ‖ nonce ‖ ciphertext ‖ tag`.
fn open_record(
    key: &VaultKey,
    header: &VaultHeader,
    record_id: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(VaultError::Truncated);
    };
    if version != FORMAT_VERSION {
        return Err(VaultError::UnsupportedVersion(version));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(VaultError::Truncated);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let cipher = Aes256Gcm::new((&key.0).into());
    let aad = header.aad(record_id);
    cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| VaultError::Damaged(format!("record \"{record_id}\" failed authentication")))
}

/// What is stored next to the records (as JSON): the header, the key check and a checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaultMeta {
    /// Base64 of [`VaultHeader::to_bytes`].
    pub header: String,
    /// Base64 of a sealed record whose plaintext is known: it tells a right key from a wrong one.
    pub check: String,
    /// Hex SHA-256 of header bytes ‖ check bytes: tells damage from a wrong password.
    pub sum: String,
}

fn checksum(header: &[u8], check: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(header);
    h.update(check);
    hex::encode(h.finalize())
}

impl VaultMeta {
    /// Creates a new vault: fresh salt, derived key, key check.
    pub fn create(password: &str, kdf: KdfParams) -> Result<(Self, OpenVault), VaultError> {
        let header = VaultHeader::generate(kdf)?;
        let key = derive_key(password.as_bytes(), &header)?;
        Self::create_with(header, key)
    }

    /// [`Self::create`] with the key already derived from the password for `header`.
    pub fn create_with(
        header: VaultHeader,
        key: VaultKey,
    ) -> Result<(Self, OpenVault), VaultError> {
        let vault = OpenVault {
            header,
            key,
            legacy: false,
        };
        let meta = vault.meta()?;
        Ok((meta, vault))
    }

    /// Parses the stored form from JSON; anything unreadable is damage.
    pub fn from_json(json: &str) -> Result<Self, VaultError> {
        serde_json::from_str(json)
            .map_err(|_| VaultError::Damaged("the vault header is not readable".into()))
    }

    pub fn to_json(&self) -> String {
        // Strings and byte arrays only: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks the checksum and parses the header, before any key derivation.
    pub fn header(&self) -> Result<VaultHeader, VaultError> {
        let (header, check) = self.decode()?;
        if checksum(&header, &check) != self.sum {
            return Err(damaged_header());
        }
        VaultHeader::from_bytes(&header)
    }

    fn decode(&self) -> Result<(Vec<u8>, Vec<u8>), VaultError> {
        let header = B64.decode(&self.header).map_err(|_| damaged_header())?;
        let check = B64.decode(&self.check).map_err(|_| damaged_header())?;
        Ok((header, check))
    }

    /// Derives the key from `password` and proves it against the key check.
    pub fn unlock(&self, password: &str) -> Result<OpenVault, VaultError> {
        self.unlock_with(password, None)
    }

    /// [`Self::unlock`], given the stored [`Manifest`] record if there is one: when the key
    /// check does not open but the manifest does, the password was right and the key check
    /// was altered.
    pub fn unlock_with(
        &self,
        password: &str,
        manifest: Option<&[u8]>,
    ) -> Result<OpenVault, VaultError> {
        let key = derive_key(password.as_bytes(), &self.header()?)?;
        self.open_with(key, manifest)
    }

    /// [`Self::unlock_with`] with the key already derived from the password for
    /// [`Self::header`].
    pub fn open_with(
        &self,
        key: VaultKey,
        manifest: Option<&[u8]>,
    ) -> Result<OpenVault, VaultError> {
        let header = self.header()?;
        let (_, check) = self.decode()?;
        let legacy = match open_record(&key, &header, KEY_CHECK_ID, &check) {
            Ok(pt) if pt.as_slice() == KEY_CHECK_V2 => false,
            Ok(pt) if pt.as_slice() == KEY_CHECK_V1 => true,
            Ok(_) => {
                return Err(VaultError::Damaged(
                    "the key check has unexpected contents".into(),
                ))
            }
            Err(VaultError::Damaged(_)) => {
                let opens =
                    manifest.is_some_and(|m| open_record(&key, &header, MANIFEST_ID, m).is_ok());
                return Err(if opens {
                    VaultError::Damaged("the key check was altered".into())
                } else {
                    // The checksum matched, so the bytes are as written: the key is wrong.
                    VaultError::WrongPassword
                });
            }
            Err(other) => return Err(other),
        };
        Ok(OpenVault {
            header,
            key,
            legacy,
        })
    }
}

fn damaged_header() -> VaultError {
    VaultError::Damaged("the vault header does not match its checksum".into())
}

/// An unlocked vault: header and key, able to seal and open records.
#[derive(Debug, Clone)]
pub struct OpenVault {
    header: VaultHeader,
    key: VaultKey,
    /// Opened from a vault written before the [`Manifest`] existed.
    legacy: bool,
}

impl OpenVault {
    pub fn header(&self) -> &VaultHeader {
        &self.header
    }

    /// True for a vault from before the [`Manifest`]: it has none yet, and [`Self::meta`]
    /// plus [`Manifest::of`] its records upgrade it.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// The stored form of this vault's header, with a fresh key check (which says the vault
    /// keeps a [`Manifest`]).
    pub fn meta(&self) -> Result<VaultMeta, VaultError> {
        let header = self.header.to_bytes();
        let check = self.seal(KEY_CHECK_ID, KEY_CHECK_V2)?;
        Ok(VaultMeta {
            header: B64.encode(header),
            sum: checksum(&header, &check),
            check: B64.encode(check),
        })
    }

    /// Encrypts `plaintext` as record `record_id` under a fresh random nonce.
    pub fn seal(&self, record_id: &str, plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        seal_with_nonce(&self.key, &self.header, record_id, nonce, plaintext)
    }

    pub fn open(&self, record_id: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        open_record(&self.key, &self.header, record_id, sealed)
    }

    /// Serializes a typed record to JSON and seals it; the JSON is zeroized afterwards.
    pub fn seal_json<T: Serialize>(
        &self,
        record_id: &str,
        value: &T,
    ) -> Result<Vec<u8>, VaultError> {
        let json = Zeroizing::new(
            serde_json::to_vec(value).map_err(|_| VaultError::Encode("record to JSON".into()))?,
        );
        self.seal(record_id, &json)
    }

    pub fn open_json<T: DeserializeOwned>(
        &self,
        record_id: &str,
        sealed: &[u8],
    ) -> Result<T, VaultError> {
        let plain = self.open(record_id, sealed)?;
        serde_json::from_slice(&plain).map_err(|_| {
            VaultError::Damaged(format!("record \"{record_id}\" has unexpected contents"))
        })
    }

    /// Change of password: opens every record with this key, then seals it again under a key
    /// derived from `new_password` with a fresh salt, with a new [`Manifest`] of the resealed
    /// records. Pure: nothing is written, so the caller can store the result in one
    /// transaction. Fails, with nothing to write, if any record does not open.
    pub fn rekey(
        &self,
        records: &[SealedRecord],
        new_password: &str,
        kdf: KdfParams,
    ) -> Result<Rekeyed, VaultError> {
        self.rekey_to(records, VaultMeta::create(new_password, kdf)?)
    }

    /// [`Self::rekey`] to a vault already created (see [`VaultMeta::create_with`]).
    pub fn rekey_to(
        &self,
        records: &[SealedRecord],
        (meta, next): (VaultMeta, OpenVault),
    ) -> Result<Rekeyed, VaultError> {
        let plain = records
            .iter()
            .filter(|(id, _)| id != MANIFEST_ID)
            .map(|(id, sealed)| Ok((id.clone(), self.open(id, sealed)?)))
            .collect::<Result<Vec<_>, VaultError>>()?;
        let mut resealed = plain
            .iter()
            .map(|(id, pt)| Ok((id.clone(), next.seal(id, pt)?)))
            .collect::<Result<Vec<_>, VaultError>>()?;
        let manifest = next.seal_manifest(&Manifest::of(&resealed))?;
        resealed.push((MANIFEST_ID.to_string(), manifest));
        Ok(Rekeyed {
            meta,
            vault: next,
            records: resealed,
        })
    }

    pub fn seal_manifest(&self, manifest: &Manifest) -> Result<Vec<u8>, VaultError> {
        self.seal_json(MANIFEST_ID, manifest)
    }

    pub fn open_manifest(&self, sealed: &[u8]) -> Result<Manifest, VaultError> {
        self.open_json(MANIFEST_ID, sealed)
    }

    /// On unlock: the stored records are the ones this vault last wrote. A legacy vault has
    /// no manifest yet and passes.
    pub fn verify(&self, records: &[SealedRecord]) -> Result<(), VaultError> {
        if self.legacy {
            return Ok(());
        }
        let sealed = records
            .iter()
            .find(|(id, _)| id == MANIFEST_ID)
            .ok_or_else(|| VaultError::Damaged("the list of records is missing".into()))?;
        self.open_manifest(&sealed.1)?.check(records)
    }
}

/// Every record of a vault (but itself) with the SHA-256 of its sealed bytes. Sealed bytes
/// carry a random nonce, so every write has a new digest: an older copy of a record does not
/// match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub records: BTreeMap<String, String>,
}

fn digest(sealed: &[u8]) -> String {
    hex::encode(Sha256::digest(sealed))
}

impl Manifest {
    /// The manifest of exactly these records.
    pub fn of(records: &[SealedRecord]) -> Self {
        let mut m = Self::default();
        for (id, sealed) in records {
            m.record(id, sealed);
        }
        m
    }

    /// Notes a record written (the manifest itself is never listed).
    pub fn record(&mut self, id: &str, sealed: &[u8]) {
        if id != MANIFEST_ID {
            self.records.insert(id.to_string(), digest(sealed));
        }
    }

    /// Notes a record deleted.
    pub fn forget(&mut self, id: &str) {
        self.records.remove(id);
    }

    /// The stored `records` are exactly the listed ones, each as last written.
    pub fn check(&self, records: &[SealedRecord]) -> Result<(), VaultError> {
        // Inserted one by one: collecting into a map would compile a sort into the bundle.
        let mut stored: BTreeMap<&str, &[u8]> = BTreeMap::new();
        for (id, s) in records.iter().filter(|(id, _)| id != MANIFEST_ID) {
            stored.insert(id.as_str(), s.as_slice());
        }
        for (id, want) in &self.records {
            match stored.get(id.as_str()) {
                None => {
                    return Err(VaultError::Damaged(format!("record \"{id}\" is missing")));
                }
                Some(sealed) if digest(sealed) != *want => {
                    return Err(VaultError::Damaged(format!(
                        "record \"{id}\" is not the copy last saved (an older copy was put back?)"
                    )));
                }
                Some(_) => {}
            }
        }
        if let Some(id) = stored.keys().find(|id| !self.records.contains_key(**id)) {
            return Err(VaultError::Damaged(format!(
                "record \"{id}\" is not part of this vault (a removed record put back?)"
            )));
        }
        Ok(())
    }
}

/// A stored record: its id and its sealed bytes.
pub type SealedRecord = (String, Vec<u8>);

/// The result of [`OpenVault::rekey`]: everything to write, and the vault to keep using.
#[derive(Debug)]
pub struct Rekeyed {
    pub meta: VaultMeta,
    pub vault: OpenVault,
    pub records: Vec<SealedRecord>,
}

fn fill_random(buf: &mut [u8]) -> Result<(), VaultError> {
    getrandom::getrandom(buf).map_err(|_| VaultError::Random)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hex_literal::hex;

    /// Cheap parameters at the floor, so the behavioural tests run fast.
    const FAST: KdfParams = KdfParams::FLOOR;

    fn aes_gcm_raw(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) -> Vec<u8> {
        Aes256Gcm::new(key.into())
            .encrypt(Nonce::from_slice(nonce), Payload { msg: pt, aad })
            .unwrap()
    }

    /// NIST GCM validation vectors (McGrew & Viega, "The Galois/Counter Mode of Operation",
    /// test cases 14 and 16: AES-256, 96-bit IV; 16 with associated data).
    #[test]
    fn aes_256_gcm_matches_nist_vectors() {
        let ct = aes_gcm_raw(&[0u8; 32], &[0u8; 12], &[], &[0u8; 16]);
        assert_eq!(
            ct,
            hex!("cea7403d4d606b6e074ec5d3baf39d18 d0d1c8a799996bf0265b98b5d48ab919")
        );

        let key = hex!("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
        let iv = hex!("cafebabefacedbaddecaf888");
        let pt = hex!(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
        );
        let aad = hex!("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let ct = aes_gcm_raw(&key, &iv, &aad, &pt);
        assert_eq!(
            ct,
            hex!(
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
                "76fc6ece0f4e1768cddf8853bb2d551b"
            )
        );
    }

    /// The record format is `version ‖ nonce ‖ AES-256-GCM(ciphertext ‖ tag)` with
    /// `header ‖ 0 ‖ id` as associated data: checked against the raw cipher.
    #[test]
    fn record_layout_is_version_nonce_gcm() {
        let key = VaultKey([7u8; 32]);
        let header = VaultHeader {
            kdf: FAST,
            salt: [2u8; 16],
        };
        let nonce = hex!("000102030405060708090a0b");
        let sealed = seal_with_nonce(&key, &header, "settings", nonce, b"hello").unwrap();
        let mut aad = header.to_bytes().to_vec();
        aad.extend_from_slice(b"\0settings");
        let expected = aes_gcm_raw(&[7u8; 32], &nonce, &aad, b"hello");
        assert_eq!(sealed[0], FORMAT_VERSION);
        assert_eq!(&sealed[1..13], &nonce);
        assert_eq!(&sealed[13..], expected.as_slice());
    }

    /// RFC 9106 section 5.3: Argon2id test vector.
    #[test]
    fn argon2id_matches_rfc9106_vector() {
        let mut out = [0u8; 32];
        argon2id(
            &[1u8; 32],
            &[2u8; 16],
            KdfParams {
                m_cost_kib: 32,
                t_cost: 3,
                p_cost: 4,
            },
            Some(&[3u8; 8]),
            Some(&[4u8; 12]),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            hex!("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
        );
    }

    #[test]
    fn default_parameters_are_64mib_3_passes_1_lane() {
        assert_eq!(
            KdfParams::default(),
            KdfParams {
                m_cost_kib: 65536,
                t_cost: 3,
                p_cost: 1
            }
        );
        assert_eq!(KdfParams::default().check(), Ok(()));
    }

    #[test]
    fn round_trip_through_stored_meta() {
        let (meta, vault) = VaultMeta::create("correct horse battery", FAST).unwrap();
        let sealed = vault.seal("conn/1", b"secret payload").unwrap();
        let stored = meta.to_json();
        let again = VaultMeta::from_json(&stored)
            .unwrap()
            .unlock("correct horse battery")
            .unwrap();
        assert_eq!(
            again.open("conn/1", &sealed).unwrap().as_slice(),
            b"secret payload"
        );
    }

    #[test]
    fn each_write_uses_a_fresh_nonce() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let a = vault.seal("x", b"same").unwrap();
        let b = vault.seal("x", b"same").unwrap();
        assert_ne!(a[1..13], b[1..13]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_password_is_wrong_password() {
        let (meta, _) = VaultMeta::create("the right password", FAST).unwrap();
        assert_eq!(
            meta.unlock("the wrong password").unwrap_err(),
            VaultError::WrongPassword
        );
    }

    #[test]
    fn record_under_wrong_key_fails_authentication() {
        let (_, a) = VaultMeta::create("password one!", FAST).unwrap();
        let (_, b) = VaultMeta::create("password two!", FAST).unwrap();
        let sealed = a.seal("conn/1", b"x").unwrap();
        assert!(matches!(
            b.open("conn/1", &sealed),
            Err(VaultError::Damaged(_))
        ));
    }

    #[test]
    fn flipped_ciphertext_bit_is_damage() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let mut sealed = vault.seal("conn/1", b"payload").unwrap();
        let last = sealed.len() - 1;
        sealed[last - TAG_LEN] ^= 0x01;
        let err = vault.open("conn/1", &sealed).unwrap_err();
        assert_eq!(
            err,
            VaultError::Damaged("record \"conn/1\" failed authentication".into())
        );
    }

    #[test]
    fn record_moved_to_another_id_is_damage() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let sealed = vault.seal("conn/1", b"payload").unwrap();
        assert!(matches!(
            vault.open("conn/2", &sealed),
            Err(VaultError::Damaged(_))
        ));
    }

    #[test]
    fn flipped_header_bit_is_damage() {
        let (meta, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let mut header = B64.decode(&meta.header).unwrap();
        header[20] ^= 0x01; // a salt bit
        let flipped = VaultMeta {
            header: B64.encode(&header),
            ..meta.clone()
        };
        assert_eq!(
            flipped.unlock("pw-pw-pw-pw-pw").unwrap_err(),
            damaged_header()
        );

        // A record sealed under the original header does not open under the altered one.
        let sealed = vault.seal("settings", b"{}").unwrap();
        let altered = VaultHeader::from_bytes(&header).unwrap();
        assert!(matches!(
            open_record(&vault.key, &altered, "settings", &sealed),
            Err(VaultError::Damaged(_))
        ));
    }

    #[test]
    fn truncated_record_is_truncated() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let sealed = vault.seal("x", b"payload").unwrap();
        assert_eq!(
            vault.open("x", &sealed[..1 + NONCE_LEN + TAG_LEN - 1]),
            Err(VaultError::Truncated)
        );
        assert_eq!(vault.open("x", &[]), Err(VaultError::Truncated));
    }

    #[test]
    fn unknown_record_version_is_refused() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let mut sealed = vault.seal("x", b"payload").unwrap();
        sealed[0] = 9;
        assert_eq!(
            vault.open("x", &sealed),
            Err(VaultError::UnsupportedVersion(9))
        );
    }

    #[test]
    fn unknown_header_version_is_refused() {
        let mut header = VaultHeader {
            kdf: FAST,
            salt: [0; 16],
        }
        .to_bytes();
        header[4] = 2;
        assert_eq!(
            VaultHeader::from_bytes(&header),
            Err(VaultError::UnsupportedVersion(2))
        );
    }

    /// `meta` with its header rewritten to `kdf` and the checksum recomputed, as someone
    /// editing storage would.
    pub(crate) fn with_params(meta: &VaultMeta, kdf: KdfParams) -> VaultMeta {
        let check = B64.decode(&meta.check).unwrap();
        let header = VaultHeader { kdf, salt: [5; 16] }.to_bytes();
        VaultMeta {
            header: B64.encode(header),
            check: meta.check.clone(),
            sum: checksum(&header, &check),
        }
    }

    /// Someone rewrites the header with cheap parameters and a matching checksum: refused
    /// before any derivation, as tampering.
    #[test]
    fn parameters_below_the_floor_are_refused() {
        let (meta, _) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        for weak in [
            KdfParams {
                m_cost_kib: 19 * 1024 - 1,
                t_cost: 2,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 64 * 1024,
                t_cost: 1,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 64 * 1024,
                t_cost: 3,
                p_cost: 0,
            },
        ] {
            assert_eq!(
                with_params(&meta, weak)
                    .unlock("pw-pw-pw-pw-pw")
                    .unwrap_err(),
                VaultError::WeakParameters {
                    m_cost_kib: weak.m_cost_kib,
                    t_cost: weak.t_cost,
                    p_cost: weak.p_cost
                }
            );
        }
        assert!(VaultHeader::generate(KdfParams {
            m_cost_kib: 1024,
            t_cost: 1,
            p_cost: 1
        })
        .is_err());
    }

    #[test]
    fn unreadable_meta_is_damage_not_wrong_password() {
        assert!(matches!(
            VaultMeta::from_json("{not json"),
            Err(VaultError::Damaged(_))
        ));
        let (meta, _) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let mut check = B64.decode(&meta.check).unwrap();
        check[15] ^= 0x80;
        let damaged = VaultMeta {
            check: B64.encode(check),
            ..meta
        };
        assert_eq!(
            damaged.unlock("pw-pw-pw-pw-pw").unwrap_err(),
            damaged_header()
        );
    }

    #[test]
    fn rekey_reseals_everything_and_old_password_stops_working() {
        let (_, vault) = VaultMeta::create("old password 1", FAST).unwrap();
        let records = vec![
            (
                "settings".to_string(),
                vault.seal("settings", b"{\"a\":1}").unwrap(),
            ),
            (
                "conn/1".to_string(),
                vault.seal("conn/1", b"creds").unwrap(),
            ),
        ];
        let Rekeyed {
            meta,
            records: resealed,
            ..
        } = vault.rekey(&records, "new password 2", FAST).unwrap();
        assert_eq!(
            meta.unlock("old password 1").unwrap_err(),
            VaultError::WrongPassword
        );
        let next = meta.unlock("new password 2").unwrap();
        assert_eq!(
            next.open("conn/1", &resealed[1].1).unwrap().as_slice(),
            b"creds"
        );
        assert_eq!(
            next.open("settings", &resealed[0].1).unwrap().as_slice(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn rekey_of_a_damaged_vault_produces_nothing() {
        let (_, vault) = VaultMeta::create("old password 1", FAST).unwrap();
        let mut sealed = vault.seal("conn/1", b"creds").unwrap();
        sealed[20] ^= 1;
        let err = vault
            .rekey(&[("conn/1".into(), sealed)], "new password 2", FAST)
            .unwrap_err();
        assert!(err.is_damage());
    }

    #[test]
    fn key_is_not_printed() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let printed = format!("{vault:?}");
        assert!(printed.contains("VaultKey(..)"));
        assert!(!printed.contains(&format!("{:?}", vault.key.0)));
    }

    /// A header with parameters above the ceiling (which would hang the tab on every unlock)
    /// is refused as damage before any derivation.
    #[test]
    fn parameters_above_the_ceiling_are_damage() {
        let (meta, _) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        for heavy in [
            KdfParams {
                m_cost_kib: 256 * 1024 + 1,
                t_cost: 3,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 64 * 1024,
                t_cost: 11,
                p_cost: 1,
            },
            KdfParams {
                m_cost_kib: 64 * 1024,
                t_cost: 3,
                p_cost: 5,
            },
        ] {
            let err = with_params(&meta, heavy)
                .unlock("pw-pw-pw-pw-pw")
                .unwrap_err();
            assert!(err.is_damage(), "{heavy:?}: {err}");
        }
        assert_eq!(KdfParams::CEILING.check(), Ok(()));
    }

    /// Someone replaces the key check (and recomputes the checksum): the password still
    /// opens the vault's manifest, so this is damage, not "Wrong password".
    #[test]
    fn altered_key_check_is_damage_when_the_manifest_opens() {
        let (meta, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let manifest = vault.seal_manifest(&Manifest::default()).unwrap();
        let (_, other) = VaultMeta::create("someone else's", FAST).unwrap();
        let foreign_check = other.seal(KEY_CHECK_ID, KEY_CHECK_V2).unwrap();
        let header = B64.decode(&meta.header).unwrap();
        let tampered = VaultMeta {
            header: meta.header.clone(),
            check: B64.encode(&foreign_check),
            sum: checksum(&header, &foreign_check),
        };
        assert_eq!(
            tampered
                .unlock_with("pw-pw-pw-pw-pw", Some(&manifest))
                .unwrap_err(),
            VaultError::Damaged("the key check was altered".into())
        );
        // A wrong password opens neither: still "Wrong password".
        assert_eq!(
            meta.unlock_with("not the password", Some(&manifest))
                .unwrap_err(),
            VaultError::WrongPassword
        );
    }

    fn sealed_set(vault: &OpenVault) -> Vec<SealedRecord> {
        let mut records = vec![
            (
                "settings".to_string(),
                vault.seal("settings", b"{}").unwrap(),
            ),
            (
                "conn/1".to_string(),
                vault.seal("conn/1", b"creds").unwrap(),
            ),
        ];
        let manifest = vault.seal_manifest(&Manifest::of(&records)).unwrap();
        records.push((MANIFEST_ID.to_string(), manifest));
        records
    }

    #[test]
    fn manifest_accepts_exactly_what_was_last_written() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let records = sealed_set(&vault);
        assert_eq!(vault.verify(&records), Ok(()));
    }

    #[test]
    fn a_deleted_record_is_damage() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let mut records = sealed_set(&vault);
        records.retain(|(id, _)| id != "settings");
        assert_eq!(
            vault.verify(&records),
            Err(VaultError::Damaged("record \"settings\" is missing".into()))
        );
        let mut no_manifest = sealed_set(&vault);
        no_manifest.retain(|(id, _)| id != MANIFEST_ID);
        assert!(vault.verify(&no_manifest).unwrap_err().is_damage());
    }

    #[test]
    fn an_older_copy_put_back_is_damage() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let old_settings = vault.seal("settings", b"{\"old\":1}").unwrap();
        let records = sealed_set(&vault);
        // The old copy authenticates on its own (same key, same id) ...
        assert!(vault.open("settings", &old_settings).is_ok());
        let replayed: Vec<SealedRecord> = records
            .into_iter()
            .map(|(id, s)| {
                if id == "settings" {
                    (id, old_settings.clone())
                } else {
                    (id, s)
                }
            })
            .collect();
        // ... but it is not the copy the manifest lists.
        let err = vault.verify(&replayed).unwrap_err();
        assert!(err.to_string().contains("not the copy last saved"), "{err}");
    }

    #[test]
    fn a_removed_record_put_back_is_damage() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let mut records = sealed_set(&vault);
        let removed = vault.seal("conn/2", b"old creds").unwrap();
        records.push(("conn/2".to_string(), removed));
        let err = vault.verify(&records).unwrap_err();
        assert!(err.to_string().contains("not part of this vault"), "{err}");
    }

    #[test]
    fn manifest_follows_puts_and_deletes() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let records = sealed_set(&vault);
        let mut manifest = vault.open_manifest(&records[2].1).unwrap();
        let new_settings = vault.seal("settings", b"{\"new\":1}").unwrap();
        manifest.record("settings", &new_settings);
        manifest.forget("conn/1");
        let after = vec![
            ("settings".to_string(), new_settings),
            (
                MANIFEST_ID.to_string(),
                vault.seal_manifest(&manifest).unwrap(),
            ),
        ];
        assert_eq!(vault.verify(&after), Ok(()));
    }

    /// A vault written before manifests existed (key check v1) opens, marked legacy, and
    /// needs no manifest until it is upgraded.
    #[test]
    fn legacy_vault_opens_and_is_marked() {
        let (_, vault) = VaultMeta::create("pw-pw-pw-pw-pw", FAST).unwrap();
        let header = vault.header.to_bytes();
        let check = vault.seal(KEY_CHECK_ID, KEY_CHECK_V1).unwrap();
        let legacy_meta = VaultMeta {
            header: B64.encode(header),
            sum: checksum(&header, &check),
            check: B64.encode(&check),
        };
        let opened = legacy_meta.unlock("pw-pw-pw-pw-pw").unwrap();
        assert!(opened.is_legacy());
        let records = vec![(
            "settings".to_string(),
            opened.seal("settings", b"{}").unwrap(),
        )];
        assert_eq!(opened.verify(&records), Ok(()));
        // Its upgraded meta says v2: the same password opens it, not legacy any more.
        let upgraded = opened.meta().unwrap().unlock("pw-pw-pw-pw-pw").unwrap();
        assert!(!upgraded.is_legacy());
        assert!(upgraded.verify(&records).unwrap_err().is_damage());
    }

    #[test]
    fn rekey_writes_a_manifest_of_the_resealed_records() {
        let (_, vault) = VaultMeta::create("old password 1", FAST).unwrap();
        let records = sealed_set(&vault);
        let rekeyed = vault.rekey(&records, "new password 2", FAST).unwrap();
        assert_eq!(rekeyed.records.len(), 3);
        assert_eq!(rekeyed.vault.verify(&rekeyed.records), Ok(()));
    }
}
