//! Summary faithfulness, checked without a model: a sentence is flagged when it names a
//! number or a name the transcript does not have, or when most of its content words are
//! not in the transcript (stems of five letters, so "refunded" meets "refund"). It
//! catches invented amounts, dates, names and events; it cannot see a fact turned on its
//! head with the transcript's own words ("the card works again" when it stays blocked),
//! which is why the set's labels also hold the outcome the scorecard asks for.

use crate::domain::sentences::is_abbreviation;
use crate::domain::trackers::normalize;
use std::collections::HashSet;

/// Words that say nothing about the facts of a conversation (summary language).
const META: &[&str] = &[
    "the",
    "and",
    "that",
    "this",
    "with",
    "from",
    "they",
    "their",
    "them",
    "then",
    "than",
    "have",
    "has",
    "had",
    "was",
    "were",
    "been",
    "being",
    "will",
    "would",
    "could",
    "should",
    "about",
    "after",
    "before",
    "into",
    "onto",
    "over",
    "under",
    "again",
    "also",
    "only",
    "some",
    "such",
    "very",
    "more",
    "most",
    "other",
    "which",
    "while",
    "when",
    "what",
    "there",
    "here",
    "where",
    "because",
    "since",
    "during",
    "customer",
    "customers",
    "agent",
    "agents",
    "caller",
    "seller",
    "prospect",
    "client",
    "called",
    "calls",
    "call",
    "contacted",
    "contact",
    "asked",
    "asks",
    "asking",
    "request",
    "requested",
    "requests",
    "wanted",
    "wants",
    "needed",
    "needs",
    "explained",
    "explains",
    "mentioned",
    "stated",
    "said",
    "says",
    "discussed",
    "discuss",
    "conversation",
    "ticket",
    "issue",
    "issues",
    "regarding",
    "concerning",
    "inquired",
    "inquiry",
    "provided",
    "offered",
    "offers",
    "informed",
    "confirmed",
    "agreed",
    "helped",
    "assisted",
    "support",
    "service",
    "representative",
    "resolved",
    "resolve",
    "unresolved",
    "resolution",
    "ended",
    "ends",
    "satisfied",
    "unsatisfied",
    "dissatisfied",
    "frustrated",
    "happy",
    "unhappy",
    "upset",
    "politely",
    "polite",
    "briefly",
    "further",
    "follow",
    "followed",
    "promised",
    "promise",
    "his",
    "her",
    "hers",
    "she",
    "him",
    "who",
    "whom",
    "whose",
    "does",
    "did",
    "not",
    "any",
    "all",
    "each",
    "both",
    "either",
    "neither",
    "well",
];

fn stem(word: &str) -> String {
    word.chars().take(5).collect()
}

/// What of a transcript a sentence is checked against.
pub struct Transcript {
    words: HashSet<String>,
    stems: HashSet<String>,
    digits: String,
}

impl Transcript {
    pub fn new(turns: &[&str]) -> Self {
        let text = normalize(&turns.join(" "));
        let words: HashSet<String> = text.split(' ').map(str::to_string).collect();
        let stems = words.iter().map(|w| stem(w)).collect();
        let digits = turns
            .join(" ")
            .chars()
            .map(|c| if c.is_ascii_digit() { c } else { ' ' })
            .collect::<String>();
        Self {
            words,
            stems,
            digits: format!(
                " {} ",
                digits.split_whitespace().collect::<Vec<_>>().join(" ")
            ),
        }
    }

    /// Why `sentence` is not backed by the transcript, or `None` when it is.
    pub fn unsupported(&self, sentence: &str) -> Option<String> {
        for number in sentence
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
        {
            if !self.digits.contains(&format!(" {number} ")) {
                return Some(format!("the number {number} is not in the conversation"));
            }
        }
        let words: Vec<&str> = sentence.split_whitespace().collect();
        for (n, w) in words.iter().enumerate().skip(1) {
            let bare = w.trim_matches(|c: char| !c.is_alphanumeric());
            let capital = bare.chars().next().is_some_and(char::is_uppercase)
                && bare.chars().skip(1).any(char::is_lowercase);
            let prev = words[n - 1];
            let after_stop =
                prev.ends_with(['!', '?', ':']) || (prev.ends_with('.') && !is_abbreviation(prev));
            if capital && !after_stop && !self.words.contains(&normalize(bare)) {
                return Some(format!("the name {bare} is not in the conversation"));
            }
        }
        let content: Vec<String> = normalize(sentence)
            .split(' ')
            .filter(|w| w.chars().count() >= 4 && !META.contains(w))
            .map(str::to_string)
            .collect();
        let missing: Vec<&String> = content
            .iter()
            .filter(|w| !self.words.contains(*w) && !self.stems.contains(&stem(w)))
            .collect();
        (content.len() >= 3 && missing.len() * 2 > content.len()).then(|| {
            format!(
                "most of its words are not in the conversation ({})",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }
}

/// A text that stops without closing its sentence (cut off by a token budget).
pub fn truncated(text: &str) -> bool {
    let t = text.trim_end();
    !t.is_empty() && !t.ends_with(['.', '!', '?', '"', ')', '»', '。'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_invented_numbers_names_and_events() {
        let t = Transcript::new(&[
            "agent: I have blocked the card ending 4412, Mrs. Patel.",
            "customer: Thank you, I will wait for the new one.",
        ]);
        assert_eq!(
            t.unsupported("The agent blocked the card ending 4412."),
            None
        );
        assert!(t.unsupported("A refund of 50 pounds was issued.").is_some());
        assert!(t
            .unsupported("The agent transferred her to Mr. Jones.")
            .is_some());
        assert!(t
            .unsupported("The courier delivered the replacement laptop yesterday.")
            .is_some());
    }

    #[test]
    fn a_cut_sentence_is_truncated() {
        assert!(truncated("The customer wanted to"));
        assert!(!truncated("The card was blocked."));
    }
}
