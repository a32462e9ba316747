//! The analysis prompt, version `analysis.v2`. Turns are numbered. Yes/no questions
//! about the agent are asked of each agent turn on its own (`narrow`), so their
//! evidence is the turn that shows them. The other scorecard questions are asked of
//! the whole conversation: the answer, then the turn(s) that show it; "yes" without
//! a turn counts as "no". A template
//! with `applies_when` is checked against the conversation first, and answers "na"
//! throughout when it does not apply. Summary, reason, outcome and action items are
//! whole sentences by grammar. The customer's and the agent's sentiment are asked as
//! in `analysis.v1` (the reason first, then the label); the overall is computed from
//! them (see `answers::overall`), so it never contradicts both.

use super::prompts::{Turn, RULES};
use crate::domain::scorecard::{QuestionDef, QuestionType, Template};
use crate::engines::llm::Question;

pub const SYSTEM: &str = include_str!("../../engines/prompts/analysis.v2.txt");

/// The conversation as the model reads it: `#n speaker: text`, n counting from 0 over
/// the whole conversation (`first` is the number of the first turn shown).
pub fn layout(turns: &[Turn], first: usize) -> String {
    let mut out = String::from("Conversation:\n");
    for (n, t) in turns.iter().enumerate() {
        out.push_str(&format!(
            "#{} {}: {}\n",
            first + n,
            t.speaker,
            t.text.replace('\n', " ")
        ));
    }
    out
}

/// Whether a question is about what the agent (or seller) did.
pub fn about_agent(q: &QuestionDef) -> bool {
    let t = q.text.to_lowercase();
    t.contains("the agent") || t.contains("the seller")
}

/// Whether a turn is the agent's (by its speaker's name or role).
pub fn is_agent(speaker: &str) -> bool {
    let s = speaker.to_lowercase();
    s.starts_with("agent") || s.starts_with("seller") || s.starts_with("rep")
}

/// A question's guidance for the model, in parentheses after it ("" when none).
pub fn guidance(q: &QuestionDef) -> String {
    if q.guidance.is_empty() {
        String::new()
    } else {
        format!(" ({})", q.guidance)
    }
}

/// The `turn` rule: one of `numbers`.
pub fn turn_rule(numbers: &[usize]) -> String {
    if numbers.is_empty() {
        return "turn ::= [0-9]{1,4}".into();
    }
    let alts: Vec<String> = numbers.iter().map(|n| format!("\"{n}\"")).collect();
    format!("turn ::= {}", alts.join(" | "))
}

fn grammar(root: &str, extra: &str) -> String {
    format!("root ::= {root}\n{RULES}quote ::= text\n{extra}\n")
}

/// Is the template for this conversation at all?
pub fn gate(t: &Template) -> Question {
    Question {
        text: format!(
            "Question: Is this true of the conversation: {}? Reply with \"answer\": \"yes\" or \"no\".",
            t.applies_when
        ),
        grammar: grammar(r#""{\"answer\": " ("\"yes\"" | "\"no\"") "}""#, ""),
        max_tokens: 12,
        watch: Vec::new(),
    }
}

/// A scorecard question; `turns` is the `turn` rule of the turns it may cite.
pub fn scorecard(q: &QuestionDef, turns: &str) -> Question {
    let (hint, answer) = match q.kind {
        QuestionType::YesNo => (
            "\"yes\" or \"no\" (\"na\" only if the question cannot apply to this conversation)"
                .to_string(),
            r#""\"yes\"" | "\"no\"" | "\"na\"""#.to_string(),
        ),
        QuestionType::Scale => (
            "a number from 1 (poor) to 5 (excellent)".to_string(),
            "[1-5]".to_string(),
        ),
        QuestionType::Choice => {
            let (labels, alts) = super::prompts::choice_options(q);
            (
                format!("one of {labels}, or \"na\" if it cannot apply"),
                alts,
            )
        }
    };
    let whose = if about_agent(q) {
        "the agent's turns"
    } else {
        "the turns"
    };
    let guidance = guidance(q);
    Question {
        text: format!(
            "Question: {}{guidance}\nReply with \"answer\": {hint}. Then \"turns\": the \
             numbers of {whose} (at most two) that show it; [] if no turn does.",
            q.text
        ),
        grammar: grammar(
            r#""{\"answer\": " answer ", \"turns\": " turns "}""#,
            &format!(
                "turns ::= \"[]\" | \"[\" turn (\", \" turn)? \"]\"\n{turns}\nanswer ::= {answer}"
            ),
        ),
        max_tokens: 30,
        watch: Vec::new(),
    }
}

/// Summary, reason, outcome, action items and topics, as whole sentences.
pub fn overview() -> Question {
    Question {
        text: "Question: Summarise the conversation from what was actually said. Give \
               \"summary\" (two or three sentences: what the customer wanted, what the agent \
               did, how it ended), \"reason\" (one sentence: why the customer got in touch), \
               \"outcome\" (one sentence: how it ended, including what was not done), \
               \"action_items\" (one sentence per follow-up someone promised; [] if none) and \
               \"topics\" (one to five short topics). Do not add facts that were not said."
            .into(),
        grammar: grammar(
            r#""{\"summary\": \"" sentence (" " sentence){1,2} "\", \"reason\": \"" sentence "\", \"outcome\": \"" sentence "\", \"action_items\": " items ", \"topics\": [" short (", " short){0,4} "]}"
items ::= "[]" | "[\"" sentence "\"" (", \"" sentence "\""){0,2} "]"
sentence ::= sc{8,200} [.!?]
sc ::= [^"\\\x00-\x1F.!?] | "." [^ "\\\x00-\x1F]"#,
            "",
        ),
        max_tokens: 700,
        watch: Vec::new(),
    }
}
