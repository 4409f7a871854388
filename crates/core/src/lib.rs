//! Holdix's pure logic, with no web dependencies: the vault format and its crypto
//! ([`vault`]), the typed records the vault stores ([`records`]) and password advice
//! ([`password`]). Everything here is tested natively against known answers.

pub mod password;
pub mod records;
pub mod vault;
