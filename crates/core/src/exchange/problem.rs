//! What went wrong with an exchange, in two forms: an [`ErrorKind`] the refresh logic decides
//! on (re-measure the clock, pause and retry, give up), and a [`Problem`] for the person at
//! the screen: what happened, what to do, and which field of the Connect dialog it belongs
//! next to. Every exchange module maps its own error codes onto both (as ccxt maps codes to
//! its exception classes), so the app never shows a raw code or JSON.

/// Which field of the Connect dialog a problem belongs next to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The API key (or, where the exchange cannot tell which, the key or the secret).
    ApiKey,
    Secret,
    Passphrase,
    Region,
    Demo,
    /// Not one field: shown above the Connect button / on the connection.
    General,
}

/// A problem explained for the user: where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: Field,
    pub message: String,
}

/// The kind of failure, shared by every exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The API key is unknown, malformed or was copied wrong.
    AuthKey,
    /// The signature does not verify: the secret was copied wrong.
    AuthSecret,
    Passphrase,
    /// The key may not read this (or may do more than read: refused by Holdix).
    Permission,
    /// The key is bound to IP addresses that do not include the proxy's.
    Ip,
    /// The request time was refused: re-measure the exchange's clock and retry once.
    Clock,
    /// Too many requests: pause (`retry_after_ms` when the exchange says) and retry.
    RateLimit,
    /// The exchange (or its edge) is down or timed out.
    Unavailable,
    /// The answer could not be read.
    Malformed,
    /// A demo key on the live site or the reverse; a key of another regional site.
    WrongEnvironment,
    /// This kind of key or account is not supported (yet).
    Unsupported,
    /// The proxy refused the request.
    Proxy,
    /// The proxy did not answer at all (offline, stopped, wrong address).
    Unreachable,
}

/// A failed exchange call, decided on by kind and explained by its problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeError {
    pub kind: ErrorKind,
    /// How long the exchange (or the proxy) asked to wait, for rate limits.
    pub retry_after_ms: Option<u64>,
    pub problem: Problem,
}

impl ExchangeError {
    pub fn new(kind: ErrorKind, field: Field, message: impl Into<String>) -> Self {
        Self {
            kind,
            retry_after_ms: None,
            problem: Problem {
                field,
                message: message.into(),
            },
        }
    }

    /// A problem not tied to one field.
    pub fn general(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self::new(kind, Field::General, message)
    }

    /// The proxy did not answer at all.
    pub fn unreachable(proxy: &str) -> Self {
        Self::general(
            ErrorKind::Unreachable,
            format!(
                "Cannot reach the proxy at {proxy}. Check your connection and that the proxy is running (the address is in Settings); your last snapshot stays on screen."
            ),
        )
    }

    pub fn with_retry_after(mut self, ms: Option<u64>) -> Self {
        self.retry_after_ms = ms;
        self
    }

    pub fn message(&self) -> &str {
        &self.problem.message
    }
}

impl std::fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl std::error::Error for ExchangeError {}

/// Warn this long before a key expires.
pub const EXPIRY_WARNING_MS: i64 = 14 * 86_400_000;

/// The dashboard's warning, next to the connection's name, for a key that expires within
/// [`EXPIRY_WARNING_MS`] (or has).
pub fn expiry_notice(
    exchange: crate::records::ExchangeId,
    expires_ms: i64,
    now_ms: i64,
) -> Option<String> {
    let left = expires_ms - now_ms;
    let date = super::time::day(expires_ms);
    let name = exchange.name();
    if left <= 0 {
        return Some(format!(
            "The key expired on {date}. Create a new read-only key on {name}, connect it, then remove this connection."
        ));
    }
    (left <= EXPIRY_WARNING_MS).then(|| {
        let days = (left + 86_399_999) / 86_400_000;
        format!(
            "The key expires on {date} (in {days} day{}). Create a new read-only key on {name} before then, connect it, then remove this connection.",
            if days == 1 { "" } else { "s" }
        )
    })
}

/// The dashboard's note, next to the connection's name, for an account its key may not read:
/// what to allow, as the exchange's [`super::ConnectSpec::allow`] says.
pub fn unreadable_notice(
    exchange: crate::records::ExchangeId,
    account: crate::portfolio::Account,
) -> String {
    let (name, what) = (exchange.name(), account.label());
    let allow = super::exchange(exchange)
        .spec()
        .allow
        .iter()
        .find(|(a, _)| *a == account)
        .map_or_else(|| format!("reading {what}"), |(_, hint)| hint.to_string());
    format!(
        "{what} is not readable with this key, so it is not in the total. On {name}, edit the API key and allow {allow} (the key stays read-only), then refresh."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::Account;
    use crate::records::ExchangeId;

    const DAY: i64 = 86_400_000;
    /// 2026-11-28T00:00:00Z
    const NOW: i64 = 1_795_824_000_000;

    #[test]
    fn keys_are_warned_about_from_two_weeks_before_they_expire() {
        let at = |days: i64| expiry_notice(ExchangeId::Bybit, NOW + days * DAY, NOW);
        assert_eq!(
            at(10).as_deref(),
            Some("The key expires on 2026-12-08 (in 10 days). Create a new read-only key on Bybit before then, connect it, then remove this connection.")
        );
        assert!(at(14).unwrap().contains("in 14 days"));
        assert_eq!(at(15), None);
        assert!(expiry_notice(ExchangeId::Bybit, NOW + DAY / 2, NOW)
            .unwrap()
            .contains("(in 1 day)"));
        assert_eq!(
            at(-2).as_deref(),
            Some("The key expired on 2026-11-26. Create a new read-only key on Bybit, connect it, then remove this connection.")
        );
    }

    #[test]
    fn an_unreadable_account_says_what_to_allow() {
        let n = unreadable_notice(ExchangeId::Bybit, Account::Earn);
        assert!(n.starts_with("Earn is not readable with this key"), "{n}");
        assert!(
            n.contains("On Bybit, edit the API key and allow reading Earn"),
            "{n}"
        );
    }
}
