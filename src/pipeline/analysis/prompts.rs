//! The analysis prompt (version `analysis.v1`): the conversation laid out one line per
//! turn, and one question per thing to find out, each with the grammar its JSON answer
//! must match. The system prompt and the shared grammar rules are files beside the
//! engines (`engines/prompts/analysis.v1.*`).

use crate::domain::insight::{AnswerType, Insight};
use crate::domain::scorecard::{QuestionDef, QuestionType};
use crate::engines::llm::Question;

/// A version of the analysis prompts; results record the one that made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    /// Evidence first: see `prompts_v2`.
    V2,
    /// `V2` with the words of every turn withheld from the model (speakers and order
    /// kept): what the answers are worth without the conversation. For `insite eval`
    /// only; an analysis that scores no better than this is not reading the call.
    Blind,
}

impl Version {
    /// The version the server uses.
    pub const LATEST: Version = Version::V2;
    pub const ALL: [Version; 3] = [Version::V1, Version::V2, Version::Blind];

    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "analysis.v1",
            Version::V2 => "analysis.v2",
            Version::Blind => "ablation.blind",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}
pub const SYSTEM: &str = include_str!("../../engines/prompts/analysis.v1.txt");
pub(super) const RULES: &str = include_str!("../../engines/prompts/analysis.v1.gbnf");

/// A transcript line as the model sees it.
pub struct Turn<'a> {
    pub speaker: &'a str,
    pub start: f64,
    pub text: &'a str,
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// The conversation as the model reads it.
pub fn layout(turns: &[Turn]) -> String {
    let mut out = String::from("Conversation:\n");
    for t in turns {
        out.push_str(&format!(
            "[{}] {}: {}\n",
            clock(t.start),
            t.speaker,
            t.text.replace('\n', " ")
        ));
    }
    out
}

fn grammar(root: &str, quote: &str) -> String {
    format!("root ::= {root}\n{RULES}{quote}\n")
}

/// Most sentences offered as quotes; a longer part lets the model write quotes
/// freely (they are still checked against the transcript).
const MAX_QUOTABLE: usize = 1500;

/// The `quote` rule for a part: any sentence of its turns (of two words or more),
/// as a JSON string.
pub fn quote_rule(turns: &[Turn]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let mut alts = Vec::new();
    for t in turns {
        for sentence in crate::domain::sentences::split(t.text) {
            if sentence.split_whitespace().count() >= 2 && seen.insert(sentence) {
                let json = serde_json::to_string(sentence).unwrap_or_default();
                alts.push(gbnf_literal(&json));
            }
        }
    }
    if alts.is_empty() || alts.len() > MAX_QUOTABLE {
        return "quote ::= \"\\\"\" qc{3,200} \"\\\"\"".into();
    }
    format!("quote ::= {}", alts.join(" | "))
}

/// A GBNF string literal matching exactly `s`.
fn gbnf_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A choice question's options: as the model reads them (`"a", "b"`) and as a grammar
/// alternative that also allows "na".
pub(super) fn choice_options(q: &QuestionDef) -> (String, String) {
    let labels: Vec<String> = q
        .options
        .iter()
        .map(|o| format!("\"{}\"", o.label))
        .collect();
    let alts: Vec<String> = q.options.iter().map(|o| json_literal(&o.label)).collect();
    (
        labels.join(", "),
        format!("{} | \"\\\"na\\\"\"", alts.join(" | ")),
    )
}

/// GBNF literal for a JSON string value (labels were checked to hold no `"` or `\`).
fn json_literal(label: &str) -> String {
    gbnf_literal(&format!("\"{label}\""))
}

pub fn overview(quote: &str) -> Question {
    Question {
        text: "Question: Summarise the conversation. Give \"summary\" (two or three sentences), \
               \"reason\" (why the customer got in touch), \"outcome\" (how it ended), \
               \"action_items\" (follow-ups someone promised; [] if none) and \"topics\" \
               (one to five short topics)."
            .into(),
        grammar: grammar(
            r#""{\"summary\": " text ", \"reason\": " reason ", \"outcome\": " reason ", \"action_items\": " items ", \"topics\": [" short (", " short){0,4} "]}"
items ::= "[]" | "[" reason (", " reason){0,2} "]""#,
            quote,
        ),
        max_tokens: 400,
        watch: Vec::new(),
    }
}

/// The sides whose sentiment is asked for, one question each.
pub const SIDES: [&str; 3] = ["customer", "agent", "overall"];

pub fn sentiment(side: &str, quote: &str) -> Question {
    let (who, course, rule) = if side == "customer" {
        (
            "the customer",
            ", and \"course\": the customer's label at the beginning, the middle and the end",
            r#"", \"course\": [" label ", " label ", " label "]""#,
        )
    } else if side == "agent" {
        ("the agent", "", "")
    } else {
        ("the whole conversation", "", "")
    };
    Question {
        text: format!(
            "Question: What is the sentiment of {who}? Give \"why\" (one short sentence \
             on how {who} sounds), \"label\" (positive, neutral or negative) and \"score\" \
             from -1.0 (very negative) to 1.0 (very positive){course}."
        ),
        grammar: grammar(
            &format!(
                r#""{{\"why\": " reason ", \"label\": " label ", \"score\": " num {rule} "}}"
label ::= "\"positive\"" | "\"neutral\"" | "\"negative\"""#
            ),
            quote,
        ),
        max_tokens: 90,
        watch: Vec::new(),
    }
}

pub fn scorecard(q: &QuestionDef, quote: &str) -> Question {
    let (hint, answer) = match q.kind {
        QuestionType::YesNo => (
            "\"yes\", \"no\", or \"na\" if the question does not apply".to_string(),
            r#""\"yes\"" | "\"no\"" | "\"na\"""#.to_string(),
        ),
        QuestionType::Scale => (
            "a number from 1 (poor) to 5 (excellent), or \"na\" if the question does not apply"
                .to_string(),
            r#"[1-5] | "\"na\"""#.to_string(),
        ),
        QuestionType::Choice => {
            let (labels, alts) = choice_options(q);
            (
                format!("one of {labels}, or \"na\" if the question does not apply"),
                alts,
            )
        }
    };
    let guidance = if q.guidance.is_empty() {
        String::new()
    } else {
        format!("\n{}", q.guidance)
    };
    Question {
        text: format!(
            "Question: {}{guidance}\nReply with \"rationale\" (one short sentence), \
             \"answer\" ({hint}) and \"quotes\" (up to two quotes from the conversation \
             that show the answer; [] if none).",
            q.text
        ),
        grammar: grammar(&format!(
            "\"{{\\\"rationale\\\": \" reason \", \\\"answer\\\": \" answer \", \\\"quotes\\\": \" quotes \"}}\"\nanswer ::= {answer}"
        ), quote),
        max_tokens: 220,
        watch: Vec::new(),
    }
}

pub fn insight(i: &Insight, quote: &str) -> Question {
    let (hint, answer) = match i.kind {
        AnswerType::Boolean => ("true or false", r#""true" | "false""#.to_string()),
        AnswerType::Number => (
            "a number",
            r#""-"? [0-9]{1,9} ("." [0-9]{1,3})?"#.to_string(),
        ),
        AnswerType::Enum => (
            "one of the allowed values",
            i.options
                .iter()
                .map(|o| json_literal(o))
                .collect::<Vec<_>>()
                .join(" | "),
        ),
        AnswerType::Text => ("a few words", "short".to_string()),
    };
    let allowed = if i.kind == AnswerType::Enum {
        format!(
            " Allowed values: {}.",
            i.options
                .iter()
                .map(|o| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    Question {
        text: format!(
            "Question: {}{allowed}\nReply with \"answer\" ({hint}; null if the conversation \
             does not say) and \"quotes\" (up to two quotes from the conversation that show \
             the answer; [] if none).",
            i.question
        ),
        grammar: grammar(&format!(
            "\"{{\\\"answer\\\": \" answer \", \\\"quotes\\\": \" quotes \"}}\"\nanswer ::= {answer} | \"null\""
        ), quote),
        max_tokens: 160,
        watch: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_one_line_per_turn() {
        let t = layout(&[
            Turn {
                speaker: "agent",
                start: 65.2,
                text: "Hello\nthere",
            },
            Turn {
                speaker: "customer",
                start: 3600.0,
                text: "Hi",
            },
        ]);
        assert_eq!(
            t,
            "Conversation:\n[01:05] agent: Hello there\n[60:00] customer: Hi\n"
        );
    }
}
