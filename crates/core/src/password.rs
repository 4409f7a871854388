//! Password advice for the "Create vault" screen: the minimum length and a strength hint.
//!
//! The estimate is deliberately simple (character pool × length, less for repeats and
//! well-known patterns): it is a hint shown while typing, not a gate beyond the minimum.

/// Passwords shorter than this (in characters) are refused.
pub const MIN_LENGTH: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Strength {
    TooShort,
    Weak,
    Fair,
    Strong,
}

impl Strength {
    pub fn label(self) -> &'static str {
        match self {
            Self::TooShort => "Too short",
            Self::Weak => "Weak",
            Self::Fair => "Fair",
            Self::Strong => "Strong",
        }
    }

    pub fn hint(self) -> &'static str {
        match self {
            Self::TooShort => "Use at least 12 characters.",
            Self::Weak => "Easy to guess: avoid repeats and common words; add words or symbols.",
            Self::Fair => "Acceptable. A few more words make it much stronger.",
            Self::Strong => "Strong password.",
        }
    }
}

const COMMON: &[&str] = &[
    "password", "passwort", "qwerty", "123456", "abcdef", "letmein", "welcome", "admin",
    "iloveyou", "monkey", "dragon", "bitcoin", "crypto", "holdix",
];

/// Rough entropy estimate in bits.
pub fn estimate_bits(password: &str) -> f64 {
    let chars: Vec<char> = password.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut pool = 0u32;
    if chars.iter().any(|c| c.is_ascii_lowercase()) {
        pool += 26;
    }
    if chars.iter().any(|c| c.is_ascii_uppercase()) {
        pool += 26;
    }
    if chars.iter().any(|c| c.is_ascii_digit()) {
        pool += 10;
    }
    if chars.iter().any(|c| c.is_ascii_punctuation() || *c == ' ') {
        pool += 33;
    }
    if chars.iter().any(|c| !c.is_ascii()) {
        pool += 100;
    }
    // Count only characters that differ from their predecessor by more than one step, so
    // "aaaa" and "abcd" add little.
    let mut effective = 1.0;
    for w in chars.windows(2) {
        let step = (w[1] as i64 - w[0] as i64).abs();
        effective += if step <= 1 { 0.25 } else { 1.0 };
    }
    let lower = password.to_ascii_lowercase();
    for word in COMMON {
        if lower.contains(word) {
            effective -= word.chars().count() as f64 * 0.75;
        }
    }
    effective.max(1.0) * f64::from(pool.max(1)).log2()
}

/// Strength class for the hint under the password field.
pub fn assess(password: &str) -> Strength {
    if password.chars().count() < MIN_LENGTH {
        return Strength::TooShort;
    }
    match estimate_bits(password) {
        b if b < 50.0 => Strength::Weak,
        b if b < 75.0 => Strength::Fair,
        _ => Strength::Strong,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorter_than_twelve_is_too_short() {
        assert_eq!(assess("Abc!1234567"), Strength::TooShort);
        assert_eq!(assess(""), Strength::TooShort);
    }

    #[test]
    fn repeats_sequences_and_common_words_are_weak() {
        assert_eq!(assess("aaaaaaaaaaaaaaaa"), Strength::Weak);
        assert_eq!(assess("123456789012"), Strength::Weak);
        assert_eq!(assess("password1234"), Strength::Weak);
    }

    #[test]
    fn long_mixed_passwords_are_strong() {
        assert_eq!(assess("tangerine-Vortex-91-quilt"), Strength::Strong);
        assert!(assess("mountain river") >= Strength::Fair);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(assess("ééééééééééé"), Strength::TooShort); // 11 chars, 22 bytes
    }
}
