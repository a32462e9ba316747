//! Normalization for exact-term search through the blind index: the same rules turn
//! stored text and a query into terms, so a query matches what was said, whatever
//! the case or punctuation.

use std::collections::BTreeSet;

/// Longest term indexed (longer runs are cut).
const MAX_TERM: usize = 64;

/// The distinct terms of a text: runs of letters and digits, lower-cased.
pub fn terms(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| t.to_lowercase().chars().take(MAX_TERM).collect())
        .collect()
}

/// An e-mail address as looked up: trimmed, lower-cased.
pub fn email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    (e.contains('@') && e.len() <= 320).then_some(e)
}

/// A phone number as looked up: its digits only (at least 5).
pub fn phone(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 5 && digits.len() <= 20).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_ignore_case_and_punctuation() {
        let t = terms("Cancel my ACCOUNT, please! Straße 12-b");
        let want: BTreeSet<String> = ["cancel", "my", "account", "please", "straße", "12", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(t, want);
        assert_eq!(email(" Ann@Example.COM "), Some("ann@example.com".into()));
        assert_eq!(phone("+1 (555) 010-2030"), Some("15550102030".into()));
        assert_eq!(phone("12"), None);
    }
}
