//! The typed records the vault stores, and their ids. Each record is JSON sealed by
//! [`crate::vault::OpenVault::seal_json`] under its id.

use serde::{Deserialize, Serialize};

use crate::exchange::{ExchangeError, Fetched};
use crate::portfolio::PriceBook;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Record id of the user's settings.
pub const SETTINGS_ID: &str = "settings";
/// Record id of the latest portfolio snapshot.
pub const SNAPSHOT_ID: &str = "snapshot/latest";
/// Prefix of exchange connection records: `conn/<id>`.
pub const CONNECTION_PREFIX: &str = "conn/";

/// A secret string (API secret, passphrase): zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Exchanges Holdix knows, in the order it trusts their prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeId {
    Okx,
    Binance,
    Bybit,
    Whitebit,
}

impl ExchangeId {
    pub fn name(self) -> &'static str {
        match self {
            Self::Okx => "OKX",
            Self::Binance => "Binance",
            Self::Bybit => "Bybit",
            Self::Whitebit => "WhiteBIT",
        }
    }
}

/// Per-connection options (region host, demo trading).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionOptions {
    /// Regional API host, e.g. `eea` or `us` for OKX; `None` is the global host.
    #[serde(default)]
    pub region: Option<String>,
    /// The key is a demo-trading key.
    #[serde(default)]
    pub demo: bool,
}

/// One exchange connection: a read-only API key and what signs with it. `Debug` shows only
/// the key's first four characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub exchange: ExchangeId,
    pub label: String,
    pub api_key: String,
    pub secret: Secret,
    /// OKX's API passphrase; `None` for exchanges without one (or an incomplete import).
    #[serde(default)]
    pub passphrase: Option<Secret>,
    #[serde(default)]
    pub options: ConnectionOptions,
    /// When the exchange said the key expires (Unix ms), for keys that do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_expires_ms: Option<i64>,
    /// When it was last saved (Unix ms): of the same key in two vaults, merging a backup
    /// keeps the newer.
    #[serde(default)]
    pub saved_ms: u64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: String = self.api_key.chars().take(4).collect();
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("exchange", &self.exchange)
            .field("label", &self.label)
            .field("api_key", &format_args!("{shown}…"))
            .field("secret", &self.secret)
            .field("passphrase", &self.passphrase)
            .field("options", &self.options)
            .field("key_expires_ms", &self.key_expires_ms)
            .field("saved_ms", &self.saved_ms)
            .finish()
    }
}

impl Connection {
    pub fn record_id(&self) -> String {
        format!("{CONNECTION_PREFIX}{}", self.id)
    }

    /// SHA-256 of the API key, hex: names the key of a removed connection without keeping
    /// it (see [`Removed`]).
    fn key_sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.api_key.as_bytes()))
    }
}

/// A connection removed from this vault, kept in the settings so that merging an older
/// backup that still holds it does not bring it back: its exchange, a SHA-256 of its API key
/// (the key itself goes with the connection) and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub exchange: ExchangeId,
    pub key_sha256: String,
    pub at_ms: u64,
}

impl Removed {
    /// The most kept: the oldest go first (a connection removed that long ago is unlikely
    /// to be in a backup merged now, and would come back, as before this list).
    pub const KEPT: usize = 100;

    /// Whether `connection` is this removed one, saved no later than it was removed (a copy
    /// saved after that was added again elsewhere, and is wanted).
    pub fn covers(&self, connection: &Connection) -> bool {
        self.exchange == connection.exchange
            && connection.saved_ms <= self.at_ms
            && self.key_sha256 == connection.key_sha256()
    }
}

/// The user's settings, stored encrypted like everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Lock after this many minutes without input.
    pub auto_lock_minutes: u32,
    /// Where exchange requests go; `None` is the app's own origin.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Privacy mode: every amount and value is masked on screen.
    #[serde(default)]
    pub privacy: bool,
    /// Assets worth less than this (USD) are "small balances", hidden unless asked for.
    #[serde(default = "Settings::default_dust")]
    pub dust_usd: rust_decimal::Decimal,
    /// Values are shown in this currency (USD, or one of `currency::FIATS`).
    #[serde(default = "Settings::default_currency")]
    pub currency: String,
    /// Refresh by itself every this many minutes while open and online (0: never).
    #[serde(default = "Settings::default_refresh")]
    pub refresh_minutes: u32,
    /// When a connection was last added, changed or removed (Unix ms).
    #[serde(default)]
    pub connections_changed_ms: u64,
    /// When a backup was last exported (Unix ms).
    #[serde(default)]
    pub last_backup_ms: Option<u64>,
    /// When the backup reminder was last dismissed (Unix ms).
    #[serde(default)]
    pub backup_dismissed_ms: u64,
    /// Connections removed here, newest last (at most [`Removed::KEPT`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<Removed>,
}

impl Settings {
    pub const AUTO_LOCK_CHOICES: [u32; 6] = [1, 5, 15, 30, 60, 240];
    /// The small-balance thresholds offered, in USD.
    pub const DUST_CHOICES: [&'static str; 6] = ["0", "0.1", "1", "5", "10", "100"];

    /// Auto-refresh intervals offered, in minutes (0: off).
    pub const REFRESH_CHOICES: [u32; 5] = [0, 1, 5, 15, 60];

    fn default_currency() -> String {
        "USD".into()
    }

    fn default_refresh() -> u32 {
        5
    }

    fn default_dust() -> rust_decimal::Decimal {
        rust_decimal::Decimal::ONE
    }

    /// Notes `connection` as removed at `at_ms` (once per key: a later removal replaces
    /// the earlier).
    pub fn note_removed(&mut self, connection: &Connection, at_ms: u64) {
        let key_sha256 = connection.key_sha256();
        self.removed
            .retain(|r| !(r.exchange == connection.exchange && r.key_sha256 == key_sha256));
        self.removed.push(Removed {
            exchange: connection.exchange,
            key_sha256,
            at_ms,
        });
        let over = self.removed.len().saturating_sub(Removed::KEPT);
        self.removed.drain(..over);
    }

    /// The dashboard offers a backup: connections changed since the last backup, and the
    /// offer was not dismissed since.
    pub fn backup_due(&self) -> bool {
        self.connections_changed_ms
            > self
                .last_backup_ms
                .unwrap_or(0)
                .max(self.backup_dismissed_ms)
    }

    /// Checks a proxy address typed in Settings: empty means the app's own origin (`None`);
    /// otherwise `https://host[:port][/path]`, or `http://` for this computer only (browsers
    /// block plain http from an https page, and anything else would travel unencrypted).
    /// Returned without a trailing `/`.
    pub fn parse_proxy_url(input: &str) -> Result<Option<String>, &'static str> {
        let url = input.trim().trim_end_matches('/');
        if url.is_empty() {
            return Ok(None);
        }
        let (rest, https) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (rest, true),
            (_, Some(rest)) => (rest, false),
            _ => return Err("The proxy address must start with https://"),
        };
        let host = rest.split('/').next().unwrap_or("");
        let name = match host.rsplit_once(':') {
            Some((name, port)) if !name.ends_with(':') && port.parse::<u16>().is_ok() => name,
            _ => host,
        };
        if name.is_empty()
            || host.contains('@')
            || url.contains(|c: char| c.is_whitespace() || c == '?' || c == '#' || c == '\\')
        {
            return Err("That is not a web address: use e.g. https://proxy.example.com");
        }
        if !https && !matches!(name, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(
                "Use https:// (plain http:// only for this computer: 127.0.0.1 or localhost)",
            );
        }
        Ok(Some(url.to_string()))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            auto_lock_minutes: 15,
            proxy_url: None,
            privacy: false,
            dust_usd: Self::default_dust(),
            refresh_minutes: Self::default_refresh(),
            currency: Self::default_currency(),
            connections_changed_ms: 0,
            last_backup_ms: None,
            backup_dismissed_ms: 0,
            removed: Vec::new(),
        }
    }
}

/// A portfolio snapshot as last fetched: shown at once after unlock, and offline. Amounts
/// are decimals serialized as strings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Unix milliseconds of the fetch.
    pub as_of_ms: u64,
    pub holdings: Vec<crate::portfolio::Holding>,
    pub positions: Vec<crate::portfolio::Position>,
    pub prices: crate::portfolio::Prices,
    /// Per asset, where exchanges' prices disagree by more than 1 %: which one priced it.
    #[serde(default)]
    pub price_notes: std::collections::BTreeMap<String, String>,
    /// Per asset, its price 24 hours ago, from the exchange that gave its price.
    #[serde(default)]
    pub opens: std::collections::BTreeMap<String, rust_decimal::Decimal>,
    /// Per display currency, the exchange its rate came from.
    #[serde(default)]
    pub rate_sources: std::collections::BTreeMap<String, String>,
    /// Accounts a connection's owner never enabled on the exchange: (connection, account).
    #[serde(default)]
    pub not_enabled: Vec<(String, crate::portfolio::Account)>,
    /// Accounts a connection's key may not read: (connection, account).
    #[serde(default)]
    pub unreadable: Vec<(String, crate::portfolio::Account)>,
}

impl Snapshot {
    /// Forgets one connection's holdings and positions (it was removed).
    pub fn drop_connection(&mut self, id: &str) {
        self.holdings.retain(|h| h.connection != id);
        self.positions.retain(|p| p.connection != id);
        self.not_enabled.retain(|(c, _)| c != id);
        self.unreadable.retain(|(c, _)| c != id);
    }

    /// The snapshot after a refresh, or `None` if no connection answered (the last one
    /// stays). A connection that answered replaces its data; one that failed keeps its last
    /// data; new prices replace old ones asset by asset.
    pub fn merge(
        &self,
        results: &[(String, Result<Fetched, ExchangeError>)],
        book: &PriceBook,
        now_ms: u64,
    ) -> Option<Snapshot> {
        if !results.iter().any(|(_, r)| r.is_ok()) {
            return None;
        }
        let mut next = Snapshot {
            as_of_ms: now_ms,
            prices: self.prices.clone(),
            ..Snapshot::default()
        };
        let (prices, notes) = book.resolve();
        next.opens = self.opens.clone();
        next.rate_sources = self.rate_sources.clone();
        for fiat in crate::currency::FIATS {
            let key = crate::currency::fx_key(fiat);
            if let Some(source) = book.source_of(&key).or_else(|| book.source_of(fiat)) {
                next.rate_sources
                    .insert(fiat.to_string(), source.name().to_string());
            }
        }
        for (asset, open) in book.opens() {
            match open {
                Some(open) => next.opens.insert(asset, open),
                None => next.opens.remove(&asset),
            };
        }
        next.prices.0.extend(prices.0);
        next.price_notes = if book.is_empty() {
            self.price_notes.clone()
        } else {
            notes
        };
        for (id, result) in results {
            match result {
                Ok(f) => {
                    next.holdings.extend(f.holdings.iter().cloned());
                    next.positions.extend(f.positions.iter().cloned());
                    next.not_enabled
                        .extend(f.not_enabled.iter().map(|a| (id.clone(), *a)));
                    next.unreadable
                        .extend(f.unreadable.iter().map(|a| (id.clone(), *a)));
                }
                Err(_) => {
                    next.holdings.extend(
                        self.holdings
                            .iter()
                            .filter(|h| h.connection == *id)
                            .cloned(),
                    );
                    next.positions.extend(
                        self.positions
                            .iter()
                            .filter(|p| p.connection == *id)
                            .cloned(),
                    );
                    next.not_enabled
                        .extend(self.not_enabled.iter().filter(|(c, _)| c == id).cloned());
                    next.unreadable
                        .extend(self.unreadable.iter().filter(|(c, _)| c == id).cloned());
                }
            }
        }
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_debug_hides_secrets() {
        let c = Connection {
            id: "1".into(),
            exchange: ExchangeId::Okx,
            label: "OKX".into(),
            api_key: "985d5b66".into(),
            secret: Secret::new("chNOOS4KvNXR"),
            passphrase: Some(Secret::new("1234567890")),
            options: ConnectionOptions::default(),
            key_expires_ms: None,
            saved_ms: 0,
        };
        let printed = format!("{c:?}");
        assert!(!printed.contains("chNOOS4KvNXR"));
        assert!(!printed.contains("1234567890"));
        assert!(
            !printed.contains("985d5b66"),
            "the API key is shortened: {printed}"
        );
        assert!(printed.contains("985d…"));
        assert!(printed.contains("Secret(***)"));
    }

    #[test]
    fn connection_json_round_trip_and_missing_passphrase() {
        let json = r#"{"id":"a","exchange":"okx","label":"OKX","api_key":"k","secret":"s"}"#;
        let c: Connection = serde_json::from_str(json).unwrap();
        assert_eq!(c.passphrase, None);
        assert_eq!(c.options, ConnectionOptions::default());
        assert_eq!(c.record_id(), "conn/a");
        let back: Connection = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn a_backup_is_due_after_connections_changed_until_made_or_dismissed() {
        let mut s = Settings::default();
        assert!(!s.backup_due(), "nothing connected yet");
        s.connections_changed_ms = 1_000;
        assert!(s.backup_due());
        s.last_backup_ms = Some(2_000);
        assert!(!s.backup_due(), "backed up since");
        s.connections_changed_ms = 3_000;
        assert!(s.backup_due(), "changed again");
        s.backup_dismissed_ms = 3_500;
        assert!(!s.backup_due(), "dismissed");
        // Settings saved before these fields existed read with nothing due.
        let old: Settings = serde_json::from_str(r#"{"auto_lock_minutes":15}"#).unwrap();
        assert!(!old.backup_due());
    }

    #[test]
    fn proxy_addresses() {
        let ok = |s: &str| Settings::parse_proxy_url(s).unwrap();
        assert_eq!(ok(""), None);
        assert_eq!(ok("  "), None);
        assert_eq!(
            ok("https://proxy.example.com/"),
            Some("https://proxy.example.com".into())
        );
        assert_eq!(
            ok(" https://example.com:8443/holdix/ "),
            Some("https://example.com:8443/holdix".into())
        );
        assert_eq!(
            ok("http://127.0.0.1:8181"),
            Some("http://127.0.0.1:8181".into())
        );
        assert_eq!(
            ok("http://localhost:3000/"),
            Some("http://localhost:3000".into())
        );
        assert_eq!(ok("http://[::1]:8181"), Some("http://[::1]:8181".into()));
        for bad in [
            "proxy.example.com",
            "ftp://proxy.example.com",
            "javascript:alert(1)",
            "https://",
            "https://user:pw@proxy.example.com",
            "https://proxy.example.com/?x=1",
            "https://proxy.example.com/#a",
            "https://proxy example.com",
            "http://proxy.example.com",
            "http://192.168.1.10:8181",
            "http://127.0.0.1.example.com",
        ] {
            assert!(
                Settings::parse_proxy_url(bad).is_err(),
                "{bad} was accepted"
            );
        }
        assert!(Settings::parse_proxy_url("http://10.0.0.1")
            .unwrap_err()
            .contains("https://"));
    }

    /// A failed connection keeps its last data (marked by its status, not lost); one that
    /// answered replaces its own; nothing answered → no new snapshot.
    #[test]
    fn merge_keeps_a_failed_connections_last_data() {
        use crate::exchange::{ErrorKind, ExchangeError, Fetched};
        use crate::portfolio::{Account, Holding, PriceBook};
        let h = |conn: &str, asset: &str, amount: i64| Holding {
            connection: conn.into(),
            account: Account::Spot,
            asset: asset.into(),
            amount: amount.into(),
            usd: None,
        };
        let previous = Snapshot {
            as_of_ms: 1,
            holdings: vec![h("a", "BTC", 1), h("b", "ETH", 2)],
            not_enabled: vec![("b".into(), Account::Futures)],
            unreadable: vec![("a".into(), Account::Earn), ("b".into(), Account::Earn)],
            ..Snapshot::default()
        };
        let down = || Err(ExchangeError::general(ErrorKind::Unavailable, "down"));
        let results = vec![
            (
                "a".to_string(),
                Ok(Fetched {
                    holdings: vec![h("a", "BTC", 3)],
                    ..Fetched::default()
                }),
            ),
            ("b".to_string(), down()),
        ];
        let mut book = PriceBook::default();
        book.add(ExchangeId::Okx, vec![("BTC".into(), 100.into(), None)]);
        let next = previous.merge(&results, &book, 9).unwrap();
        assert_eq!(next.as_of_ms, 9);
        assert_eq!(next.holdings, vec![h("a", "BTC", 3), h("b", "ETH", 2)]);
        assert_eq!(next.not_enabled, vec![("b".to_string(), Account::Futures)]);
        // "a" answered and could read Earn this time; "b" failed and keeps its last note.
        assert_eq!(next.unreadable, vec![("b".to_string(), Account::Earn)]);
        assert_eq!(next.prices.of("BTC"), Some(100.into()));
        let all_down = vec![("a".to_string(), down()), ("b".to_string(), down())];
        assert_eq!(previous.merge(&all_down, &book, 10), None);
    }

    #[test]
    fn a_removed_connection_is_noted_by_a_hash_of_its_key_once_and_the_oldest_go_first() {
        let okx = |key: &str, saved_ms| Connection {
            id: "1".into(),
            exchange: ExchangeId::Okx,
            label: "OKX".into(),
            api_key: key.into(),
            secret: Secret::new("s"),
            passphrase: None,
            options: ConnectionOptions::default(),
            key_expires_ms: None,
            saved_ms,
        };
        let mut s = Settings::default();
        s.note_removed(&okx("985d5b66", 5), 10);
        s.note_removed(&okx("985d5b66", 5), 30);
        assert_eq!(s.removed.len(), 1, "one entry per key: {:?}", s.removed);
        assert_eq!(s.removed[0].at_ms, 30, "the later removal");
        // `printf 985d5b66 | sha256sum`
        assert_eq!(
            s.removed[0].key_sha256,
            "d8479a4e526df1762f167c90b9adf2288dc8c40591029aa16b329f6e52f17f22"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("985d5b66"), "the key is not kept: {json}");
        assert!(s.removed[0].covers(&okx("985d5b66", 30)));
        assert!(!s.removed[0].covers(&okx("985d5b66", 31)), "saved after");
        assert!(!s.removed[0].covers(&okx("985d5b67", 1)), "another key");
        for i in 0..Removed::KEPT + 5 {
            s.note_removed(&okx(&format!("key {i}"), 0), 100 + i as u64);
        }
        assert_eq!(s.removed.len(), Removed::KEPT);
        assert_eq!(s.removed[0].at_ms, 105, "the oldest went first");
        // Settings written before the list read as none removed.
        let old: Settings = serde_json::from_str(r#"{"auto_lock_minutes":15}"#).unwrap();
        assert!(old.removed.is_empty());
    }

    /// Snapshots saved before the exchange seam (no notes, no not-enabled list) still open.
    #[test]
    fn older_snapshots_still_read() {
        let old = r#"{"as_of_ms":5,"holdings":[{"connection":"c","account":"trading","asset":"BTC","amount":"1","usd":null}],"positions":[],"prices":{"BTC":"97000"}}"#;
        let s: Snapshot = serde_json::from_str(old).unwrap();
        assert_eq!(s.holdings.len(), 1);
        assert!(s.price_notes.is_empty() && s.not_enabled.is_empty());
    }
}
