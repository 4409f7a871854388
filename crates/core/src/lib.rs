//! Holdix's pure logic, with no web dependencies: the vault format and its crypto
//! ([`vault`]), the typed records the vault stores ([`records`]), password advice
//! ([`password`]), the exchange modules ([`exchange`], sans-IO: request building, signing,
//! parsing, error explanations), portfolio math ([`portfolio`], [`allocation`]) and its
//! history over time ([`history`]). Everything here is
//! tested natively against known answers.

pub mod allocation;
pub mod exchange;
pub mod history;
pub mod password;
pub mod portfolio;
pub mod records;
pub mod vault;
