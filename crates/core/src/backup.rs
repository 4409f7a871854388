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
//!
//! Restoring into a vault that exists either replaces it (the backup's meta and records, as
//! they are) or [`merge`]s: connections matched by exchange and API key (the one saved later
//! wins; one removed here since the backup's copy was saved stays removed), history points
//! united by time, the snapshot joined, the current settings kept,
//! and every record written sealed under the current vault's key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::history::{self, Layout, Point};
use crate::records::{Connection, Settings, Snapshot, CONNECTION_PREFIX, SETTINGS_ID, SNAPSHOT_ID};
use crate::vault::{
    derive_key, OpenVault, SealedRecord, VaultError, VaultHeader, VaultKey, VaultMeta, MANIFEST_ID,
};

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
    /// From opening the backup's vault. Damage reads as the file's, not as the vault's.
    #[error("{}", in_backup(.0))]
    Vault(#[from] VaultError),
}

/// `e` as it reads for a backup file: the damage is the file's (the stored vault is not
/// touched), and nothing was changed.
fn in_backup(e: &VaultError) -> String {
    const AFTER: &str = "nothing was changed. Try another copy of it.";
    match e {
        VaultError::Damaged(what) => format!("The backup file is damaged ({what}); {AFTER}"),
        VaultError::Truncated => {
            format!("The backup file is damaged (a record is truncated); {AFTER}")
        }
        VaultError::WeakParameters {
            m_cost_kib,
            t_cost,
            p_cost,
        } => format!(
            "The backup file is damaged or tampered with: its key derivation parameters \
             ({m_cost_kib} KiB, {t_cost} passes, {p_cost} lanes) are outside the allowed \
             range; {AFTER}"
        ),
        VaultError::UnsupportedVersion(v) => format!(
            "This backup holds a vault of an unknown format version ({v}); update Holdix to \
             restore it."
        ),
        e => e.to_string(),
    }
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

/// How many bytes [`check_head`] looks at.
pub const HEAD_LEN: usize = HEAD;

/// The first bytes of a file (up to [`HEAD_LEN`]): refuses an empty file, one that is not
/// a Holdix backup, and a newer format, without reading the rest (a large file chosen by
/// mistake is refused at once).
pub fn check_head(head: &[u8]) -> Result<(), BackupError> {
    if head.is_empty() {
        return Err(BackupError::Empty);
    }
    if head.len() < MAGIC.len() || &head[..MAGIC.len()] != MAGIC {
        return Err(BackupError::NotHoldix);
    }
    if let [_, _, _, _, _, _, _, _, hi, lo, ..] = *head {
        let version = u16::from_be_bytes([hi, lo]);
        if version > VERSION {
            return Err(BackupError::NewerVersion(version));
        }
    }
    Ok(())
}

/// Reads a backup file, refusing anything but an intact one with sound KDF parameters.
pub fn read(bytes: &[u8]) -> Result<Backup, BackupError> {
    check_head(&bytes[..bytes.len().min(HEAD)])?;
    if bytes.len() < HEAD + SUM {
        return Err(BackupError::Damaged("it ends too early"));
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
        let key = derive_key(password.as_bytes(), &self.header()?)?;
        self.open_with(key)
    }

    /// The header of the backup's vault: its key derivation's parameters and salt.
    pub fn header(&self) -> Result<VaultHeader, BackupError> {
        Ok(VaultMeta::from_json(&self.meta)?.header()?)
    }

    /// [`Self::open`] with the key already derived from the password for [`Self::header`].
    pub fn open_with(&self, key: VaultKey) -> Result<OpenVault, BackupError> {
        let manifest = self
            .records
            .iter()
            .find(|(id, _)| id == MANIFEST_ID)
            .map(|(_, s)| s.as_slice());
        let vault = VaultMeta::from_json(&self.meta)?.open_with(key, manifest)?;
        if vault.is_legacy() {
            // Holdix upgrades a vault on unlock, before it can be exported: not its file.
            return Err(
                VaultError::Damaged("the backup's list of records is missing".into()).into(),
            );
        }
        vault.verify(&self.records)?;
        Ok(vault)
    }
}

/// History's points in `records` (time-ordered) and what its records hold.
pub fn history_of(
    vault: &OpenVault,
    records: &[SealedRecord],
) -> Result<(Vec<Point>, Layout), VaultError> {
    let mut points = Vec::new();
    let mut layout = Vec::new();
    for (id, sealed) in records {
        if !id.starts_with(history::RECORD_PREFIX) {
            continue;
        }
        let json = vault.open(id, sealed)?;
        let record = history::decode(&json).map_err(|e| {
            VaultError::Damaged(format!("the history record {id} cannot be read ({e})"))
        })?;
        layout.push((id.clone(), record.iter().map(|p| p.at_ms).collect()));
        points.extend(record);
    }
    crate::sort::by(&mut points, &|a, b| a.at_ms.cmp(&b.at_ms));
    Ok((points, layout))
}

/// Every connection in `records`, opened.
pub fn connections_of(
    vault: &OpenVault,
    records: &[SealedRecord],
) -> Result<Vec<Connection>, VaultError> {
    records
        .iter()
        .filter(|(id, _)| id.starts_with(CONNECTION_PREFIX))
        .map(|(id, sealed)| vault.open_json(id, sealed))
        .collect()
}

fn snapshot_of(
    vault: &OpenVault,
    records: &[SealedRecord],
) -> Result<Option<Snapshot>, VaultError> {
    records
        .iter()
        .find(|(id, _)| id == SNAPSHOT_ID)
        .map(|(_, sealed)| vault.open_json(SNAPSHOT_ID, sealed))
        .transpose()
}

/// What merging a backup into the current vault writes, all sealed under the current key.
#[derive(Debug, Default)]
pub struct Merged {
    pub puts: Vec<SealedRecord>,
    pub deletes: Vec<String>,
    /// Connections only the backup had.
    pub added: usize,
    /// Connections both had, where the backup's copy was saved later.
    pub updated: usize,
    /// History points only the backup had.
    pub points_added: usize,
    /// Connections removed here that the backup still holds (saved no later than their
    /// removal): not brought back.
    pub not_brought_back: usize,
}

/// Merges an opened backup (`theirs`, its records `backup`) into the current vault
/// (`ours`, its stored `records`), at `now_ms`. Pure: nothing is written; fails, with
/// nothing to write, if any record of either does not open.
///
/// * Connections: the same exchange and API key is one connection; the copy saved later
///   wins (the current one on a tie) and keeps the current id, so the current history
///   and snapshot still point at it. A connection only the backup has is added (under a
///   new id if its id is taken), unless it was removed here after the backup's copy was
///   saved (the current settings' [`Settings::removed`]): then it stays removed, and its
///   history points keep their values under an id of no connection.
/// * History: the union by time (at the same millisecond the current point stays), with
///   the backup's connection ids mapped as above, then compacted as every refresh does.
/// * Snapshot: the current one, plus the backup's data of the connections it added, and of
///   those it updated when its snapshot is the newer; prices missing here come from the
///   backup. Its time is the older of the two when both contribute.
/// * Settings: the current ones, untouched.
pub fn merge(
    ours: &OpenVault,
    records: &[SealedRecord],
    theirs: &OpenVault,
    backup: &[SealedRecord],
    now_ms: u64,
) -> Result<Merged, VaultError> {
    let mut out = Merged::default();
    let removed = records
        .iter()
        .find(|(id, _)| id == SETTINGS_ID)
        .map(|(_, sealed)| ours.open_json::<Settings>(SETTINGS_ID, sealed))
        .transpose()?
        .unwrap_or_default()
        .removed;
    let current = connections_of(ours, records)?;
    let mut taken: Vec<String> = current.iter().map(|c| c.id.clone()).collect();
    // Backup connection id → (id here, whether the backup's data of it is taken).
    let mut ids: Vec<(String, String, bool)> = Vec::new();
    for mut theirs_conn in connections_of(theirs, backup)? {
        let from = theirs_conn.id.clone();
        let same = current
            .iter()
            .find(|c| c.exchange == theirs_conn.exchange && c.api_key == theirs_conn.api_key);
        let (to, take) = match same {
            Some(c) if theirs_conn.saved_ms > c.saved_ms => {
                out.updated += 1;
                (c.id.clone(), true)
            }
            Some(c) => (c.id.clone(), false),
            None => {
                let mut id = from.clone();
                while taken.contains(&id) {
                    id.push_str("-b");
                }
                taken.push(id.clone());
                if removed.iter().any(|r| r.covers(&theirs_conn)) {
                    out.not_brought_back += 1;
                    (id, false)
                } else {
                    out.added += 1;
                    (id, true)
                }
            }
        };
        if take {
            theirs_conn.id = to.clone();
            let record = theirs_conn.record_id();
            out.puts
                .push((record.clone(), ours.seal_json(&record, &theirs_conn)?));
        }
        ids.push((from, to, take));
    }
    let map = |id: &str| {
        ids.iter()
            .find(|(from, _, _)| from == id)
            .map_or_else(|| id.to_string(), |(_, to, _)| to.clone())
    };

    let (mut points, layout) = history_of(ours, records)?;
    let (their_points, _) = history_of(theirs, backup)?;
    for mut point in their_points {
        if points
            .binary_search_by_key(&point.at_ms, |p| p.at_ms)
            .is_ok()
        {
            continue;
        }
        for (id, _) in &mut point.connections {
            *id = map(id);
        }
        history::add(&mut points, point);
        out.points_added += 1;
    }
    history::compact(&mut points, now_ms);
    let changes = history::changes(&layout, &points, now_ms, u64::MAX);
    for (id, json) in changes.puts {
        let sealed = ours.seal(&id, &json)?;
        out.puts.push((id, sealed));
    }
    out.deletes = changes.deletes;

    let their_snapshot = snapshot_of(theirs, backup)?;
    if let Some(theirs_snap) = their_snapshot.filter(|_| ids.iter().any(|(_, _, take)| *take)) {
        let mut snap = snapshot_of(ours, records)?.unwrap_or_default();
        let newer = theirs_snap.as_of_ms > snap.as_of_ms;
        let mut joined = false;
        for (from, to, take) in &ids {
            let added = !current.iter().any(|c| c.id == *to);
            if !take || !(added || newer) {
                continue;
            }
            joined = true;
            snap.drop_connection(to);
            let rename = |c: &String| if c == from { Some(to.clone()) } else { None };
            for h in &theirs_snap.holdings {
                if let Some(connection) = rename(&h.connection) {
                    snap.holdings.push(crate::portfolio::Holding {
                        connection,
                        ..h.clone()
                    });
                }
            }
            for p in &theirs_snap.positions {
                if let Some(connection) = rename(&p.connection) {
                    snap.positions.push(crate::portfolio::Position {
                        connection,
                        ..p.clone()
                    });
                }
            }
            for (c, a) in &theirs_snap.not_enabled {
                if let Some(c) = rename(c) {
                    snap.not_enabled.push((c, *a));
                }
            }
            for (c, a) in &theirs_snap.unreadable {
                if let Some(c) = rename(c) {
                    snap.unreadable.push((c, *a));
                }
            }
        }
        if joined {
            for (asset, price) in &theirs_snap.prices.0 {
                snap.prices.0.entry(asset.clone()).or_insert(*price);
            }
            for (asset, open) in &theirs_snap.opens {
                snap.opens.entry(asset.clone()).or_insert(*open);
            }
            snap.as_of_ms = match snap.as_of_ms {
                0 => theirs_snap.as_of_ms,
                ours_ms => ours_ms.min(theirs_snap.as_of_ms),
            };
            out.puts
                .push((SNAPSHOT_ID.to_string(), ours.seal_json(SNAPSHOT_ID, &snap)?));
        }
    }
    Ok(out)
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

    use crate::portfolio::{Account, Holding, Prices};
    use crate::records::{ConnectionOptions, ExchangeId, Secret};
    use rust_decimal::Decimal;

    const DAY: u64 = 86_400_000;
    /// 2026-11-28T00:00:00Z
    const NOW: u64 = 1_795_824_000_000;

    fn conn(id: &str, exchange: ExchangeId, key: &str, label: &str, saved_ms: u64) -> Connection {
        Connection {
            id: id.into(),
            exchange,
            label: label.into(),
            api_key: key.into(),
            secret: Secret::new(format!("secret of {key}")),
            passphrase: None,
            options: ConnectionOptions::default(),
            key_expires_ms: None,
            saved_ms,
        }
    }

    fn point(at_ms: u64, total: i64, conn: &str) -> Point {
        Point {
            at_ms,
            total: Decimal::from(total),
            connections: vec![(conn.to_string(), Decimal::from(total))],
            assets: vec![("BTC".into(), Decimal::ONE, Decimal::from(total))],
        }
    }

    /// A vault holding these connections, history points and snapshot, as the app stores it.
    fn stored(
        password: &str,
        conns: &[Connection],
        points: &[Point],
        snapshot: Option<&Snapshot>,
    ) -> (OpenVault, Vec<SealedRecord>) {
        let (_, vault) = VaultMeta::create(password, KdfParams::FLOOR).unwrap();
        let mut records = vec![(
            SETTINGS_ID.to_string(),
            vault.seal_json(SETTINGS_ID, &Settings::default()).unwrap(),
        )];
        for c in conns {
            records.push((c.record_id(), vault.seal_json(&c.record_id(), c).unwrap()));
        }
        for (id, json) in history::changes(&Vec::new(), points, NOW, 0).puts {
            records.push((id.clone(), vault.seal(&id, &json).unwrap()));
        }
        if let Some(s) = snapshot {
            records.push((SNAPSHOT_ID.into(), vault.seal_json(SNAPSHOT_ID, s).unwrap()));
        }
        (vault, records)
    }

    /// The records after writing a merge, as one transaction would leave them.
    fn apply(records: &[SealedRecord], merged: &Merged) -> Vec<SealedRecord> {
        let mut out: Vec<SealedRecord> = records
            .iter()
            .filter(|(id, _)| {
                !merged.deletes.contains(id) && !merged.puts.iter().any(|(p, _)| p == id)
            })
            .cloned()
            .collect();
        out.extend(merged.puts.iter().cloned());
        out
    }

    fn snapshot(as_of_ms: u64, holdings: &[(&str, &str, i64)]) -> Snapshot {
        Snapshot {
            as_of_ms,
            holdings: holdings
                .iter()
                .map(|(c, asset, amount)| Holding {
                    connection: c.to_string(),
                    account: Account::Spot,
                    asset: asset.to_string(),
                    amount: Decimal::from(*amount),
                    usd: None,
                })
                .collect(),
            prices: Prices(
                [("BTC".to_string(), Decimal::from(100))]
                    .into_iter()
                    .collect(),
            ),
            ..Snapshot::default()
        }
    }

    #[test]
    fn merging_matches_connections_by_exchange_and_key_and_the_newer_wins() {
        let (ours, records) = stored(
            "ours password 1",
            &[
                conn("a1", ExchangeId::Okx, "KEY-OKX", "OKX here", 10),
                conn("a2", ExchangeId::Binance, "KEY-BIN", "Binance here", 50),
            ],
            &[],
            None,
        );
        let (theirs, backup) = stored(
            "theirs password 2",
            &[
                // Same key, saved later there: the backup's copy wins, under our id.
                conn("b1", ExchangeId::Okx, "KEY-OKX", "OKX renamed there", 20),
                // Same key, saved earlier there: ours stays.
                conn("b2", ExchangeId::Binance, "KEY-BIN", "Binance there", 40),
                // The same key string on another exchange is another connection, and its
                // id (taken here) is replaced.
                conn("a1", ExchangeId::Bybit, "KEY-OKX", "Bybit there", 5),
            ],
            &[],
            None,
        );
        let merged = merge(&ours, &records, &theirs, &backup, NOW).unwrap();
        assert_eq!((merged.added, merged.updated), (1, 1));
        let after = apply(&records, &merged);
        let mut conns = connections_of(&ours, &after).unwrap();
        conns.sort_by(|a, b| a.id.cmp(&b.id));
        let got: Vec<(&str, ExchangeId, &str, &str)> = conns
            .iter()
            .map(|c| {
                (
                    c.id.as_str(),
                    c.exchange,
                    c.api_key.as_str(),
                    c.label.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("a1", ExchangeId::Okx, "KEY-OKX", "OKX renamed there"),
                ("a1-b", ExchangeId::Bybit, "KEY-OKX", "Bybit there"),
                ("a2", ExchangeId::Binance, "KEY-BIN", "Binance here"),
            ]
        );
        // The current settings were not touched.
        assert!(!merged.puts.iter().any(|(id, _)| id == SETTINGS_ID));
        // Merging the same backup again adds nothing: no duplicates.
        let again = merge(&ours, &after, &theirs, &backup, NOW).unwrap();
        assert_eq!((again.added, again.updated, again.points_added), (0, 0, 0));
        assert!(again.puts.is_empty() && again.deletes.is_empty());
    }

    /// `records` with their settings record replaced by `settings`.
    fn with_settings(
        vault: &OpenVault,
        mut records: Vec<SealedRecord>,
        settings: &Settings,
    ) -> Vec<SealedRecord> {
        records.retain(|(id, _)| id != SETTINGS_ID);
        let sealed = vault.seal_json(SETTINGS_ID, settings).unwrap();
        records.push((SETTINGS_ID.into(), sealed));
        records
    }

    #[test]
    fn a_connection_removed_here_is_not_brought_back_by_an_older_backup() {
        let okx = conn("a1", ExchangeId::Okx, "KEY-OKX", "OKX", 10);
        let binance = |saved| conn("a2", ExchangeId::Binance, "KEY-BIN", "Binance", saved);
        // Binance was removed here at 20; the backup's copy was saved at 10.
        let mut settings = Settings::default();
        settings.note_removed(&binance(10), 20);
        let (ours, records) = stored("ours password 1", std::slice::from_ref(&okx), &[], None);
        let records = with_settings(&ours, records, &settings);
        let held = [point(NOW - DAY, 70, "a2")];
        let backup_snapshot = snapshot(NOW - 5000, &[("a2", "BTC", 2)]);
        let (theirs, backup) = stored(
            "theirs password 2",
            &[okx.clone(), binance(10)],
            &held,
            Some(&backup_snapshot),
        );
        let merged = merge(&ours, &records, &theirs, &backup, NOW).unwrap();
        assert_eq!(
            (merged.added, merged.updated, merged.not_brought_back),
            (0, 0, 1)
        );
        let after = apply(&records, &merged);
        let ids: Vec<String> = connections_of(&ours, &after)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["a1"], "Binance stays removed");
        // Its past value stays in history; nothing of it joins the snapshot.
        assert_eq!(merged.points_added, 1);
        assert!(!merged.puts.iter().any(|(id, _)| id == SNAPSHOT_ID));
        // Merging it again: still not brought back.
        let again = merge(&ours, &after, &theirs, &backup, NOW).unwrap();
        assert_eq!((again.added, again.not_brought_back), (0, 1));

        // Saved there after it was removed here (added again on another device): wanted.
        let (theirs, backup) = stored("theirs password 2", &[binance(30)], &[], None);
        let merged = merge(&ours, &records, &theirs, &backup, NOW).unwrap();
        assert_eq!((merged.added, merged.not_brought_back), (1, 0));
        // The same key string on another exchange is another connection.
        let bybit = conn("b3", ExchangeId::Bybit, "KEY-BIN", "Bybit", 10);
        let (theirs, backup) = stored("theirs password 2", &[bybit], &[], None);
        let merged = merge(&ours, &records, &theirs, &backup, NOW).unwrap();
        assert_eq!((merged.added, merged.not_brought_back), (1, 0));
    }

    #[test]
    fn merging_unites_history_by_time_and_maps_connection_ids() {
        let ours_points = [
            point(NOW - 3 * DAY, 100, "a1"),
            point(NOW - DAY, 110, "a1"),
            point(NOW - 60_000, 120, "a1"),
        ];
        let theirs_points = [
            point(NOW - 400 * DAY, 50, "b1"),
            point(NOW - DAY, 999, "b1"), // the same moment: ours stays
            point(NOW - 30_000, 130, "b1"),
        ];
        let okx = |id: &str, saved| conn(id, ExchangeId::Okx, "K", "OKX", saved);
        let (ours, records) = stored("ours password 1", &[okx("a1", 1)], &ours_points, None);
        let (theirs, backup) = stored("theirs password 2", &[okx("b1", 1)], &theirs_points, None);
        let merged = merge(&ours, &records, &theirs, &backup, NOW).unwrap();
        assert_eq!(merged.points_added, 2);
        let after = apply(&records, &merged);
        let (points, _) = history_of(&ours, &after).unwrap();
        let got: Vec<(u64, Decimal, &str)> = points
            .iter()
            .map(|p| (p.at_ms, p.total, p.connections[0].0.as_str()))
            .collect();
        let d = Decimal::from;
        assert_eq!(
            got,
            vec![
                (NOW - 400 * DAY, d(50), "a1"),
                (NOW - 3 * DAY, d(100), "a1"),
                (NOW - DAY, d(110), "a1"),
                (NOW - 60_000, d(120), "a1"),
                (NOW - 30_000, d(130), "a1"),
            ]
        );
        // Every record written is sealed under the current key, none under the backup's.
        for (id, sealed) in &merged.puts {
            assert!(ours.open(id, sealed).is_ok(), "{id} opens with ours");
            assert!(theirs.open(id, sealed).is_err(), "{id} not with theirs");
        }
        assert!(!merged.puts.is_empty());
    }

    #[test]
    fn merging_joins_the_snapshot_of_added_connections() {
        let (ours, records) = stored(
            "ours password 1",
            &[conn("a1", ExchangeId::Okx, "K1", "OKX", 1)],
            &[],
            Some(&snapshot(NOW - 1000, &[("a1", "BTC", 1)])),
        );
        let mut theirs_snap = snapshot(NOW - 5000, &[("b2", "BTC", 2), ("b1", "BTC", 7)]);
        theirs_snap
            .prices
            .0
            .insert("ETH".into(), Decimal::from(3000));
        theirs_snap.prices.0.insert("BTC".into(), Decimal::from(1));
        let (theirs, backup) = stored(
            "theirs password 2",
            &[
                conn("b1", ExchangeId::Okx, "K1", "OKX", 1),
                conn("b2", ExchangeId::Binance, "K2", "Binance", 1),
            ],
            &[],
            Some(&theirs_snap),
        );
        let merged = merge(&ours, &records, &theirs, &backup, NOW).unwrap();
        let after = apply(&records, &merged);
        let snap = snapshot_of(&ours, &after).unwrap().unwrap();
        let holdings: Vec<(&str, Decimal)> = snap
            .holdings
            .iter()
            .map(|h| (h.connection.as_str(), h.amount))
            .collect();
        // Ours for the shared connection (same save time: ours stays), theirs for the added.
        assert_eq!(
            holdings,
            vec![("a1", Decimal::ONE), ("b2", Decimal::from(2))]
        );
        assert_eq!(snap.prices.of("BTC"), Some(Decimal::from(100)), "ours kept");
        assert_eq!(
            snap.prices.of("ETH"),
            Some(Decimal::from(3000)),
            "theirs added"
        );
        assert_eq!(snap.as_of_ms, NOW - 5000, "the older of the two");
    }

    #[test]
    fn a_backup_whose_records_do_not_open_merges_nothing() {
        let (ours, records) = stored("ours password 1", &[], &[], None);
        let (theirs, mut backup) = stored(
            "theirs password 2",
            &[conn("b1", ExchangeId::Okx, "K1", "OKX", 1)],
            &[],
            None,
        );
        let last = backup.len() - 1;
        let n = backup[last].1.len();
        backup[last].1[n - 1] ^= 1;
        assert!(matches!(
            merge(&ours, &records, &theirs, &backup, NOW),
            Err(VaultError::Damaged(_))
        ));
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
        let err = read(&file).unwrap_err();
        assert!(matches!(
            err,
            BackupError::Vault(VaultError::WeakParameters {
                m_cost_kib: 1024,
                ..
            })
        ));
        assert_eq!(
            err.to_string(),
            "The backup file is damaged or tampered with: its key derivation parameters \
             (1024 KiB, 1 passes, 1 lanes) are outside the allowed range; nothing was \
             changed. Try another copy of it."
        );
    }

    /// The vault's own errors name the backup file when they come from one; a wrong
    /// password keeps its message (the restore form words it for a backup itself).
    #[test]
    fn a_vault_error_from_a_backup_names_the_file() {
        let damaged = BackupError::from(VaultError::Damaged("a record is missing".into()));
        assert_eq!(
            damaged.to_string(),
            "The backup file is damaged (a record is missing); nothing was changed. Try \
             another copy of it."
        );
        assert!(BackupError::from(VaultError::Truncated)
            .to_string()
            .starts_with("The backup file is damaged (a record is truncated)"));
        assert_eq!(
            BackupError::from(VaultError::UnsupportedVersion(9)).to_string(),
            "This backup holds a vault of an unknown format version (9); update Holdix to \
             restore it."
        );
        assert_eq!(
            BackupError::from(VaultError::WrongPassword).to_string(),
            "Wrong password"
        );
    }
}
