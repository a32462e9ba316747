//! Redaction: e-mail addresses, phone numbers, payment card numbers (Luhn-checked,
//! written or read out as words), card security codes and expiry dates (by what is
//! said before them), IBANs (mod-97-checked), dates of birth and national ids (US SSN,
//! UK NINO) become typed placeholders before anything is stored.

mod context;
mod spoken;

use regex::Regex;
use std::sync::LazyLock;

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Email,
    Card,
    CardSecurityCode,
    CardExpiry,
    Iban,
    Phone,
    DateOfBirth,
    NationalId,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Email,
        Kind::Card,
        Kind::CardSecurityCode,
        Kind::CardExpiry,
        Kind::Iban,
        Kind::Phone,
        Kind::DateOfBirth,
        Kind::NationalId,
    ];

    /// Lower-case name, as counted in a conversation's `redactions`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Card => "card",
            Kind::CardSecurityCode => "card_security_code",
            Kind::CardExpiry => "card_expiry",
            Kind::Iban => "iban",
            Kind::Phone => "phone",
            Kind::DateOfBirth => "date_of_birth",
            Kind::NationalId => "national_id",
        }
    }

    pub fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "[EMAIL]",
            Kind::Card => "[CARD]",
            Kind::CardSecurityCode => "[CARD_CODE]",
            Kind::CardExpiry => "[CARD_EXPIRY]",
            Kind::Iban => "[IBAN]",
            Kind::Phone => "[PHONE]",
            Kind::DateOfBirth => "[DATE_OF_BIRTH]",
            Kind::NationalId => "[NATIONAL_ID]",
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

pub(super) fn unreachable_regex(e: regex::Error) -> Regex {
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

/// Replaces the byte `spans` of `text` (overlapping ones merged) with `kind`'s
/// placeholder.
fn replace_spans(text: &str, mut spans: Vec<(usize, usize)>, kind: Kind) -> (String, usize) {
    spans.sort();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (a, b) in &merged {
        out.push_str(&text[at..*a]);
        out.push_str(kind.placeholder());
        at = *b;
    }
    out.push_str(&text[at..]);
    (out, merged.len())
}

/// Card numbers read out as words (or words and digits): runs of 13 or more digits
/// holding a Luhn-valid number.
fn spoken_cards(text: &str) -> Vec<(usize, usize)> {
    spoken::runs(text)
        .into_iter()
        .filter(|r| r.digits.len() >= 13 && holds_card(&r.digits))
        .map(|r| (r.start, r.end))
        .collect()
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

/// Finds the byte spans of one class in a text.
type Finder = fn(&str) -> Vec<(usize, usize)>;

/// Replaces every detected span. Classes found by context and spoken cards go first
/// (a date or a card read out would otherwise read as a phone number), then written
/// cards and IBANs, phones last.
pub fn redact(text: &str) -> Redacted {
    let mut counts = Vec::new();
    let mut t = text.to_string();
    let mut step = |t: &mut String, kind: Kind, n: usize, next: String| {
        *t = next;
        if n > 0 {
            match counts.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, c)) => *c += n,
                None => counts.push((kind, n)),
            }
        }
    };
    let (next, n) = replace(&t, &EMAIL, Kind::Email, |m| {
        m.contains('@') || m.to_lowercase().contains(" at ")
    });
    step(&mut t, Kind::Email, n, next);
    let finders: [(Kind, Finder); 5] = [
        (Kind::DateOfBirth, context::dates_of_birth),
        (Kind::CardSecurityCode, context::security_codes),
        (Kind::CardExpiry, context::expiries),
        (Kind::NationalId, context::national_ids),
        (Kind::Card, spoken_cards),
    ];
    for (kind, find) in finders {
        let (next, n) = replace_spans(&t, find(&t), kind);
        step(&mut t, kind, n, next);
    }
    let (next, n) = replace(&t, &CARD, Kind::Card, holds_card);
    step(&mut t, Kind::Card, n, next);
    let (next, n) = replace(&t, &IBAN, Kind::Iban, iban_valid);
    step(&mut t, Kind::Iban, n, next);
    let (next, n) = replace(&t, &PHONE, Kind::Phone, |m| {
        (7..=15).contains(&digits(m).len())
    });
    step(&mut t, Kind::Phone, n, next);
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
    fn spoken_card_data_dates_of_birth_and_ids_are_found() {
        let r = redact(
            "My card is four one one one one one one one one one one one one one one one, \
             expiry oh four twenty-seven and the security code is seven three nine. \
             I was born on the twelfth of March nineteen eighty-five; SSN 123-45-6789.",
        );
        assert_eq!(
            r.text,
            "My card is [CARD], expiry [CARD_EXPIRY] and the security code is [CARD_CODE]. \
             I was born on the [DATE_OF_BIRTH]; SSN [NATIONAL_ID]."
        );
        assert_eq!(r.counts.len(), 5);
        // Near misses: an order number, a price, a time, a delivery date stay.
        let kept = "Order one two three four five, it costs 129.99, at 10:30 on 12/03/2026.";
        assert_eq!(redact(kept).text, kept);
        let kept = "Order number 4111 1111 1111 1112 is late.";
        assert!(!redact(kept).text.contains("[CARD]"));
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
