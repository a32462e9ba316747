//! Evidence: a quote the model gives for an answer counts only when it is a verbatim
//! span of one transcript segment (case, spacing and surrounding punctuation aside);
//! it then carries that segment's speaker and time. Anything else is rejected and
//! never shown as evidence.

use super::trackers::normalize;
use serde::{Deserialize, Serialize};

/// A verified quote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    /// The words as they stand in the transcript.
    pub quote: String,
    /// Index (`seq`) of the segment it is in.
    pub segment: usize,
    pub speaker: String,
    pub start: f64,
    pub end: f64,
}

/// A segment as evidence is checked against.
pub struct Line<'a> {
    pub speaker: &'a str,
    pub start: f64,
    pub end: f64,
    pub text: &'a str,
}

/// Shortest quote accepted, in words: shorter ones prove nothing.
const MIN_WORDS: usize = 2;

/// Drops a leading "[mm:ss] speaker:" that a model copied from the transcript layout.
fn strip_layout(quote: &str) -> &str {
    let q = quote.trim();
    if let Some(rest) = q.strip_prefix('[') {
        if let Some(close) = rest.find(']') {
            let after = rest[close + 1..].trim_start();
            return match after.split_once(':') {
                Some((who, said)) if !who.contains(' ') => said,
                _ => after,
            };
        }
    }
    q
}

/// Finds `quote` in `lines`; `None` when it is not a verbatim span of one of them.
pub fn locate(quote: &str, lines: &[Line]) -> Option<Evidence> {
    let wanted = normalize(strip_layout(quote));
    if wanted.split(' ').count() < MIN_WORDS {
        return None;
    }
    lines.iter().enumerate().find_map(|(n, l)| {
        let hay = normalize(l.text);
        // Whole words only: pad both with spaces.
        format!(" {hay} ")
            .contains(&format!(" {wanted} "))
            .then(|| Evidence {
                quote: original_span(l.text, &wanted).unwrap_or_else(|| l.text.to_string()),
                segment: n,
                speaker: l.speaker.to_string(),
                start: l.start,
                end: l.end,
            })
    })
}

/// The shortest run of `text`'s words whose normal form is `wanted`.
fn original_span(text: &str, wanted: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    for i in 0..words.len() {
        for j in i + 1..=words.len() {
            let span = words[i..j].join(" ");
            let n = normalize(&span);
            if n == wanted {
                return Some(span);
            }
            if n.len() > wanted.len() {
                break;
            }
        }
    }
    None
}

/// Splits quotes into verified evidence and rejected quotes.
pub fn check(quotes: &[String], lines: &[Line]) -> (Vec<Evidence>, Vec<String>) {
    let mut found: Vec<Evidence> = Vec::new();
    let mut rejected = Vec::new();
    for q in quotes {
        match locate(q, lines) {
            Some(e) if !found.contains(&e) => found.push(e),
            Some(_) => {}
            None => rejected.push(q.clone()),
        }
    }
    (found, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<Line<'static>> {
        vec![
            Line {
                speaker: "agent",
                start: 0.0,
                end: 4.0,
                text: "Good morning Mrs Patel, my name is Sam.",
            },
            Line {
                speaker: "customer",
                start: 4.0,
                end: 9.0,
                text: "BrightSpark offered me a cheaper tariff!",
            },
        ]
    }

    #[test]
    fn verbatim_spans_are_found_with_their_time() {
        let e = locate("good morning mrs patel", &lines()).unwrap();
        assert_eq!(e.quote, "Good morning Mrs Patel,");
        assert_eq!((e.speaker.as_str(), e.start), ("agent", 0.0));
        let e = locate("[00:04] customer: BrightSpark offered me", &lines()).unwrap();
        assert_eq!(e.segment, 1);
        assert_eq!(e.quote, "BrightSpark offered me");
    }

    #[test]
    fn invented_or_partial_word_quotes_are_rejected() {
        assert!(locate("Good evening Mrs Patel", &lines()).is_none());
        assert!(locate("morning Mrs Pat", &lines()).is_none());
        assert!(
            locate("Patel", &lines()).is_none(),
            "one word proves nothing"
        );
        // A quote spanning two segments is not a span of one.
        assert!(locate("Sam BrightSpark offered", &lines()).is_none());
        let (ok, bad) = check(&["my name is Sam".into(), "I will cancel".into()], &lines());
        assert_eq!(ok.len(), 1);
        assert_eq!(bad, vec!["I will cancel".to_string()]);
    }
}
