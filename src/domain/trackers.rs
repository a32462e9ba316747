//! Keyword and phrase trackers: where a conversation mentions a phrase an organization
//! watches for ("cancel my account", a competitor). Matching ignores case, punctuation
//! and spacing, and respects word boundaries.

/// One mention of a tracked phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit<'a> {
    pub phrase: &'a str,
    /// Index of the turn it was found in.
    pub turn: usize,
}

/// Lower-case words without punctuation ("Cancel, my account!" -> "cancel my account").
pub fn normalize(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every turn that mentions one of `phrases` (each phrase at most once per turn).
pub fn find<'a>(phrases: &'a [String], turns: &[&str]) -> Vec<Hit<'a>> {
    let wanted: Vec<(String, &'a str)> = phrases
        .iter()
        .map(|p| (normalize(p), p.as_str()))
        .filter(|(n, _)| !n.is_empty())
        .collect();
    let mut hits = Vec::new();
    for (i, text) in turns.iter().enumerate() {
        let padded = format!(" {} ", normalize(text));
        for (needle, phrase) in &wanted {
            if padded.contains(&format!(" {needle} ")) {
                hits.push(Hit { phrase, turn: i });
            }
        }
    }
    hits
}

/// Checks phrases an admin enters: 1..=50 phrases of 1..=100 characters with a word.
pub fn validate(phrases: &[String]) -> Result<(), String> {
    if phrases.is_empty() || phrases.len() > 50 {
        return Err("phrases must hold 1..=50 phrases".into());
    }
    for p in phrases {
        if p.len() > 100 || normalize(p).is_empty() {
            return Err(format!(
                "phrase '{p}' must be 1..=100 characters with a word in it"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_ignoring_case_and_punctuation() {
        let phrases = vec!["cancel my account".to_string(), "Globex".to_string()];
        let turns = [
            "I want to CANCEL, my account!",
            "we use globexcorp",
            "Globex is cheaper.",
        ];
        let hits = find(&phrases, &turns);
        assert_eq!(
            hits,
            vec![
                Hit {
                    phrase: "cancel my account",
                    turn: 0
                },
                Hit {
                    phrase: "Globex",
                    turn: 2
                },
            ]
        );
        assert!(validate(&["!!".into()]).is_err());
        assert!(validate(&[]).is_err());
        assert!(validate(&["refund".into()]).is_ok());
    }
}
