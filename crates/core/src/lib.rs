//! Holdix's pure logic, with no web dependencies: the vault format and its crypto
//! ([`vault`]) and its backup file ([`backup`]), the typed records the vault stores
//! ([`records`]), password advice ([`password`]), the exchange modules ([`exchange`],
//! sans-IO: request building, signing, parsing, error explanations), portfolio math
//! ([`portfolio`], [`allocation`], [`currency`]), its history over time ([`history`]), the
//! chart of it ([`chart`]) and CSV export ([`export`]). Everything here is tested natively
//! against known answers.

pub mod allocation;
pub mod backup;
pub mod chart;
pub mod currency;
pub mod exchange;
pub mod export;
pub mod history;
pub mod password;
pub mod portfolio;
pub mod records;
pub mod sort;
pub mod vault;
