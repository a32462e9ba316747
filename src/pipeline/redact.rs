//! Redaction: e-mail addresses, phone numbers, payment card numbers (Luhn-checked) and
//! IBANs (mod-97-checked) become typed placeholders before anything is stored.

use regex::Regex;
use std::sync::LazyLock;

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Email,
    Card,
    Iban,
    Phone,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Email, Kind::Card, Kind::Iban, Kind::Phone];

    /// Lower-case name, as counted in a conversation's `redactions`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Card => "card",
            Kind::Iban => "iban",
            Kind::Phone => "phone",
        }
    }

    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "[EMAIL]",
            Kind::Card => "[CARD]",
            Kind::Iban => "[IBAN]",
            Kind::Phone => "[PHONE]",
        }
    }
}

/// The redacted text and how many spans of each kind were replaced.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Redacted {
    pub text: String,
    pub counts: Vec<(Kind, usize)>,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    // Written (`a.b@c.de`) or spoken (`a b at c dot de`): spaces only around "at"/"dot".
    Regex::new(r"(?i)\b[a-z0-9._%+-]+(?:@|\s+at\s+)[a-z0-9-]+(?:(?:\.|\s+dot\s+)[a-z0-9-]+)*(?:\.|\s+dot\s+)[a-z]{2,}\b")
        .unwrap_or_else(unreachable_regex)
});
/// A run of 13 or more digits, grouped by spaces, dashes, dots or commas (speech
/// recognition writes spoken card numbers as "4,111,111,…").
static CARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d(?:[ ,.-]?\d){12,}\b").unwrap_or_else(unreachable_regex));
static IBAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z]{2}\d{2}(?:[ ]?[a-z0-9]){11,30}\b").unwrap_or_else(unreachable_regex)
});
/// 7..15 digits with an optional +, grouped by spaces, dots, dashes or parentheses.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+|\b)\(?\d(?:[ .()-]{0,2}\d){6,14}\b").unwrap_or_else(unreachable_regex)
});

fn unreachable_regex(e: regex::Error) -> Regex {
    // The patterns are constants covered by tests; a typo must fail loudly there.
    panic!("redaction pattern does not compile: {e}")
}

fn digits(s: &str) -> Vec<u32> {
    s.chars().filter_map(|c| c.to_digit(10)).collect()
}

/// A digit run holds a card number when its first 13..=19 digits pass Luhn (a number
/// read out is often run together with what follows it).
fn holds_card(run: &str) -> bool {
    let d: String = run.chars().filter(char::is_ascii_digit).collect();
    (13..=d.len().min(19)).any(|n| luhn(&d[..n]))
}

/// The Luhn check of payment card numbers.
pub fn luhn(number: &str) -> bool {
    let d = digits(number);
    if !(13..=19).contains(&d.len()) {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    sum % 10 == 0
}

/// The ISO 13616 mod-97 check of IBANs.
pub fn iban_valid(candidate: &str) -> bool {
    let s: String = candidate
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    if !(15..=34).contains(&s.len()) {
        return false;
    }
    let (head, tail) = s.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        for digit in v.to_string().chars() {
            rem = (rem * 10 + (digit as u32 - '0' as u32)) % 97;
        }
    }
    rem == 1
}

fn replace(text: &str, re: &Regex, kind: Kind, keep: impl Fn(&str) -> bool) -> (String, usize) {
    let mut n = 0;
    let out = re.replace_all(text, |caps: &regex::Captures| {
        let m = &caps[0];
        if keep(m) {
            n += 1;
            kind.placeholder().to_string()
        } else {
            m.to_string()
        }
    });
    (out.into_owned(), n)
}

/// Counts of redacted spans by kind name, as stored in a conversation's `redactions`.
pub type Tally = std::collections::BTreeMap<String, usize>;

/// Redacts `text` and adds what it replaced to `tally`.
pub fn redact_into(text: &str, tally: &mut Tally) -> String {
    let r = redact(text);
    for (kind, n) in r.counts {
        *tally.entry(kind.name().to_string()).or_default() += n;
    }
    r.text
}

/// Whether redacted text holds a placeholder.
pub fn has_placeholder(text: &str) -> bool {
    Kind::ALL.iter().any(|k| text.contains(k.placeholder()))
}

/// Replaces every detected span; cards and IBANs first (they would read as phones).
pub fn redact(text: &str) -> Redacted {
    let (t, emails) = replace(text, &EMAIL, Kind::Email, |m| {
        m.contains('@') || m.to_lowercase().contains(" at ")
    });
    let (t, cards) = replace(&t, &CARD, Kind::Card, holds_card);
    let (t, ibans) = replace(&t, &IBAN, Kind::Iban, iban_valid);
    let (t, phones) = replace(&t, &PHONE, Kind::Phone, |m| {
        (7..=15).contains(&digits(m).len())
    });
    let counts = [
        (Kind::Email, emails),
        (Kind::Card, cards),
        (Kind::Iban, ibans),
        (Kind::Phone, phones),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .collect();
    Redacted { text: t, counts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_each_kind_with_its_placeholder() {
        let r = redact(
            "Mail jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, \
             IBAN GB82 WEST 1234 5698 7654 32. Order 12345 stays.",
        );
        assert_eq!(
            r.text,
            "Mail [EMAIL] or call [PHONE]; card [CARD], IBAN [IBAN]. Order 12345 stays."
        );
        assert_eq!(r.counts.len(), 4);
    }

    #[test]
    fn spoken_addresses_and_dashed_cards_are_found() {
        let r = redact("it is jane at example dot com and 5500-0000-0000-0004 thanks");
        assert_eq!(r.text, "it is [EMAIL] and [CARD] thanks");
    }

    #[test]
    fn numbers_failing_the_checks_are_not_cards_or_ibans() {
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(luhn("4111111111111111"));
        assert!(iban_valid("DE89 3704 0044 0532 0130 00"));
        assert!(!iban_valid("DE89 3704 0044 0532 0130 01"));
        // A 16-digit number failing Luhn is still a long number, but never a [CARD].
        assert!(!redact("ref 4111 1111 1111 1112").text.contains("[CARD]"));
        assert_eq!(
            redact("in 2026 we had 3 calls").text,
            "in 2026 we had 3 calls"
        );
        // As speech recognition writes a spoken card number.
        assert_eq!(
            redact("it is 4,111,111,111,111,111,111,111.").text,
            "it is [CARD]."
        );
    }
}
