//! Scorecard templates: sections of weighted questions (yes/no/not applicable, a 1-5
//! scale, or a single choice), conditions for when a template applies, validation with
//! errors that name the field, and scoring of answers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A template as an admin writes it (one version of it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub applies_to: Conditions,
    /// When the conversation is one this template is for, in words the model checks
    /// first ("the agent is selling …"); when it is not, every answer is "na".
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub applies_when: String,
    pub sections: Vec<Section>,
}

/// When a template applies; an empty list places no condition.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Conditions {
    /// `call` or `ticket`.
    pub kind: Vec<String>,
    /// `inbound`, `outbound` or `internal`.
    pub direction: Vec<String>,
    pub source: Vec<String>,
    pub team: Vec<String>,
    /// Applies when the conversation has any of these tags.
    pub tag: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub title: String,
    pub questions: Vec<QuestionDef>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QuestionType {
    /// "yes", "no" or "na".
    YesNo,
    /// 1..=5 or "na".
    Scale,
    /// One of `options`' labels or "na".
    Choice,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    pub label: String,
    /// 0.0 (worst) ..= 1.0 (best).
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuestionDef {
    /// Stable within the template: `a-z`, `0-9`, `_`.
    pub id: String,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: QuestionType,
    #[serde(default = "one")]
    pub weight: f64,
    /// What the reviewer (and the model) should look for.
    #[serde(default)]
    pub guidance: String,
    #[serde(default)]
    pub options: Vec<ChoiceOption>,
    /// Which of the agent's turns can show the answer (yes/no questions about the
    /// agent): all of them, the opening or the closing.
    #[serde(default, skip_serializing_if = "Look::is_all")]
    pub look_at: Look,
    /// An exact check that answers instead of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
}

/// The agent turns a question looks at.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Look {
    #[default]
    All,
    /// The agent's first three turns.
    Opening,
    /// The agent's last two turns.
    Closing,
}

impl Look {
    pub fn is_all(&self) -> bool {
        *self == Look::All
    }

    /// The turns of `agent_turns` (indexes, in order) this looks at.
    pub fn pick(self, agent_turns: &[usize]) -> &[usize] {
        match self {
            Look::All => agent_turns,
            Look::Opening => &agent_turns[..agent_turns.len().min(3)],
            Look::Closing => &agent_turns[agent_turns.len().saturating_sub(2)..],
        }
    }
}

/// Exact checks a yes/no question can use.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// "yes" when an agent turn looked at holds the customer's name
    /// (`domain::names`).
    CustomerName,
}

fn one() -> f64 {
    1.0
}

/// A refused template: the field (JSON path) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn bad(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Parses a template from JSON; type errors name their field.
pub fn parse(json: &Value) -> Result<Template, Invalid> {
    let t: Template = serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        bad(
            if path == "." { "template".into() } else { path },
            e.into_inner().to_string(),
        )
    })?;
    validate(&t)?;
    Ok(t)
}

/// Text a person typed: 1..=max characters, no control characters, no `"` or `\`
/// (labels and ids go into answer grammars as literals).
pub(crate) fn check_text(field: &str, v: &str, max: usize, literal: bool) -> Result<(), Invalid> {
    let n = v.trim().chars().count();
    if n == 0 || n > max {
        return Err(bad(field, format!("must be 1..={max} characters")));
    }
    if v.chars().any(char::is_control) {
        return Err(bad(field, "must not contain control characters"));
    }
    if literal && v.contains(['"', '\\']) {
        return Err(bad(field, "must not contain '\"' or '\\'"));
    }
    Ok(())
}

/// An identifier: 1..=40 of `a-z`, `0-9`, `_`.
pub(crate) fn check_id(field: &str, v: &str) -> Result<(), Invalid> {
    let ok = (1..=40).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(bad(field, "must be 1..=40 characters of a-z, 0-9 or '_'"))
    }
}

/// Most questions a template may have.
pub const MAX_QUESTIONS: usize = 50;

pub fn validate(t: &Template) -> Result<(), Invalid> {
    check_text("name", &t.name, 100, false)?;
    if t.description.chars().count() > 1000 {
        return Err(bad("description", "must be at most 1000 characters"));
    }
    validate_conditions(&t.applies_to)?;
    if !t.applies_when.is_empty() {
        check_text("applies_when", &t.applies_when, 300, false)?;
    }
    if t.sections.is_empty() {
        return Err(bad("sections", "must not be empty"));
    }
    let mut ids = std::collections::BTreeSet::new();
    for (s, section) in t.sections.iter().enumerate() {
        let at = format!("sections[{s}]");
        check_text(&format!("{at}.title"), &section.title, 100, false)?;
        if section.questions.is_empty() {
            return Err(bad(format!("{at}.questions"), "must not be empty"));
        }
        for (q, question) in section.questions.iter().enumerate() {
            let at = format!("{at}.questions[{q}]");
            validate_question(&at, question)?;
            if !ids.insert(question.id.as_str()) {
                return Err(bad(
                    format!("{at}.id"),
                    format!("'{}' is used twice in this template", question.id),
                ));
            }
        }
    }
    if ids.len() > MAX_QUESTIONS {
        return Err(bad(
            "sections",
            format!("at most {MAX_QUESTIONS} questions in all"),
        ));
    }
    Ok(())
}

fn validate_question(at: &str, q: &QuestionDef) -> Result<(), Invalid> {
    if q.check.is_some() && q.kind != QuestionType::YesNo {
        return Err(bad(
            format!("{at}.check"),
            "only yes_no questions take a check",
        ));
    }
    check_id(&format!("{at}.id"), &q.id)?;
    check_text(&format!("{at}.text"), &q.text, 300, false)?;
    if q.guidance.chars().count() > 500 || q.guidance.chars().any(char::is_control) {
        return Err(bad(
            format!("{at}.guidance"),
            "must be at most 500 characters without control characters",
        ));
    }
    if !q.weight.is_finite() || q.weight <= 0.0 || q.weight > 100.0 {
        return Err(bad(
            format!("{at}.weight"),
            "must be a number above 0 and at most 100",
        ));
    }
    match q.kind {
        QuestionType::Choice => {
            if !(2..=10).contains(&q.options.len()) {
                return Err(bad(
                    format!("{at}.options"),
                    "a choice question needs 2..=10 options",
                ));
            }
            let mut labels = std::collections::BTreeSet::new();
            for (o, opt) in q.options.iter().enumerate() {
                let field = format!("{at}.options[{o}]");
                check_text(&format!("{field}.label"), &opt.label, 60, true)?;
                if opt.label.eq_ignore_ascii_case("na") {
                    return Err(bad(
                        format!("{field}.label"),
                        "'na' is reserved for not applicable",
                    ));
                }
                if !labels.insert(opt.label.as_str()) {
                    return Err(bad(format!("{field}.label"), "is used twice"));
                }
                if !(0.0..=1.0).contains(&opt.score) {
                    return Err(bad(format!("{field}.score"), "must be 0.0..=1.0"));
                }
            }
        }
        _ if !q.options.is_empty() => {
            return Err(bad(
                format!("{at}.options"),
                "only choice questions have options",
            ))
        }
        _ => {}
    }
    Ok(())
}

fn validate_conditions(c: &Conditions) -> Result<(), Invalid> {
    let allowed: [(&str, &Vec<String>, &[&str]); 2] = [
        ("applies_to.kind", &c.kind, &["call", "ticket"]),
        (
            "applies_to.direction",
            &c.direction,
            &["inbound", "outbound", "internal"],
        ),
    ];
    for (field, values, known) in allowed {
        if let Some(v) = values.iter().find(|v| !known.contains(&v.as_str())) {
            return Err(bad(
                field,
                format!("unknown value '{v}'; expected one of {}", known.join(", ")),
            ));
        }
    }
    for (field, values) in [
        ("applies_to.source", &c.source),
        ("applies_to.team", &c.team),
        ("applies_to.tag", &c.tag),
    ] {
        if values.len() > 50 {
            return Err(bad(field, "at most 50 values"));
        }
        for v in values {
            check_text(field, v, 64, false)?;
        }
    }
    Ok(())
}

/// What a conversation is, for deciding which templates apply.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub kind: String,
    pub direction: Option<String>,
    pub source: String,
    pub team: Option<String>,
    pub tags: Vec<String>,
}

impl Conditions {
    pub fn matches(&self, f: &Facts) -> bool {
        let one = |list: &[String], v: Option<&str>| {
            list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
        };
        one(&self.kind, Some(&f.kind))
            && one(&self.direction, f.direction.as_deref())
            && one(&self.source, Some(&f.source))
            && one(&self.team, f.team.as_deref())
            && (self.tag.is_empty() || f.tags.iter().any(|t| self.tag.contains(t)))
    }
}

impl Template {
    pub fn questions(&self) -> impl Iterator<Item = &QuestionDef> {
        self.sections.iter().flat_map(|s| s.questions.iter())
    }

    pub fn question(&self, id: &str) -> Option<&QuestionDef> {
        self.questions().find(|q| q.id == id)
    }
}

impl QuestionDef {
    /// Whether `answer` is one this question accepts.
    pub fn accepts(&self, answer: &Value) -> bool {
        if answer == "na" {
            return true;
        }
        match self.kind {
            QuestionType::YesNo => answer == "yes" || answer == "no",
            QuestionType::Scale => answer.as_u64().is_some_and(|n| (1..=5).contains(&n)),
            QuestionType::Choice => answer
                .as_str()
                .is_some_and(|a| self.options.iter().any(|o| o.label == a)),
        }
    }

    /// 0.0..=1.0 for an answer; `None` for not applicable.
    pub fn score(&self, answer: &Value) -> Option<f64> {
        match self.kind {
            QuestionType::YesNo => match answer.as_str() {
                Some("yes") => Some(1.0),
                Some("no") => Some(0.0),
                _ => None,
            },
            QuestionType::Scale => answer
                .as_u64()
                .filter(|n| (1..=5).contains(n))
                .map(|n| (n - 1) as f64 / 4.0),
            QuestionType::Choice => answer
                .as_str()
                .and_then(|a| self.options.iter().find(|o| o.label == a))
                .map(|o| o.score),
        }
    }
}

/// The weighted score, 0..=100, of `answers` (question id -> answer); `None` when no
/// question was applicable.
pub fn total(template: &Template, answers: &dyn Fn(&str) -> Option<Value>) -> Option<f64> {
    let (mut sum, mut weights) = (0.0, 0.0);
    for q in template.questions() {
        if let Some(s) = answers(&q.id).and_then(|a| q.score(&a)) {
            sum += s * q.weight;
            weights += q.weight;
        }
    }
    (weights > 0.0).then(|| (sum / weights * 1000.0).round() / 10.0)
}

/// A built-in template to start from.
pub struct Builtin {
    pub key: &'static str,
    pub json: &'static str,
}

pub const BUILTINS: [Builtin; 4] = [
    Builtin {
        key: "meddic",
        json: include_str!("builtin/meddic.json"),
    },
    Builtin {
        key: "bant",
        json: include_str!("builtin/bant.json"),
    },
    Builtin {
        key: "spin",
        json: include_str!("builtin/spin.json"),
    },
    Builtin {
        key: "service_qa",
        json: include_str!("builtin/service_qa.json"),
    },
];

/// The built-in template `key`, parsed.
pub fn builtin(key: &str) -> Option<Template> {
    let b = BUILTINS.iter().find(|b| b.key == key)?;
    serde_json::from_str::<Value>(b.json)
        .ok()
        .and_then(|v| parse(&v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(v: Value) -> String {
        parse(&v).unwrap_err().field
    }

    #[test]
    fn builtins_are_valid() {
        for b in BUILTINS {
            let t = builtin(b.key).unwrap_or_else(|| panic!("{} invalid", b.key));
            assert!(t.questions().count() >= 4, "{}", b.key);
        }
    }

    #[test]
    fn malformed_templates_name_the_field() {
        let q = |extra: Value| {
            let mut q = json!({"id": "greet", "text": "Did the agent greet?", "type": "yes_no"});
            q.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"name": "QA", "sections": [{"title": "Open", "questions": [q]}]})
        };
        assert!(parse(&q(json!({}))).is_ok());
        let e = parse(&q(json!({"type": "maybe"}))).unwrap_err();
        assert_eq!(e.field, "sections[0].questions[0].type");
        assert!(e.message.contains("unknown variant"), "{e}");
        let e = parse(&q(json!({"weight": "high"}))).unwrap_err();
        assert_eq!(e.field, "sections[0].questions[0].weight");
        assert!(e.message.contains("expected f64"), "{e}");
        assert_eq!(
            field_of(q(json!({"weight": -1}))),
            "sections[0].questions[0].weight"
        );
        assert_eq!(
            field_of(json!({"name": "QA", "sections": [{"title": "Open", "questions": []}]})),
            "sections[0].questions"
        );
        assert_eq!(field_of(json!({"name": "QA", "sections": []})), "sections");
        assert_eq!(
            field_of(q(
                json!({"type": "choice", "options": [{"label": "a", "score": 1}]})
            )),
            "sections[0].questions[0].options"
        );
        assert_eq!(
            field_of(q(json!({"colour": "red"}))),
            "sections[0].questions[0].colour"
        );
        assert_eq!(
            field_of(json!({"name": "", "sections": []})),
            "name",
            "checked in order"
        );
    }

    #[test]
    fn scores_are_weighted_and_skip_not_applicable() {
        let t = parse(
            &json!({"name": "QA", "sections": [{"title": "S", "questions": [
                {"id": "a", "text": "A?", "type": "yes_no", "weight": 3},
                {"id": "b", "text": "B?", "type": "scale"},
                {"id": "c", "text": "C?", "type": "choice", "options": [
                    {"label": "good", "score": 1}, {"label": "poor", "score": 0.25}]}
            ]}]}),
        )
        .unwrap();
        let answers = |id: &str| match id {
            "a" => Some(json!("yes")),
            "b" => Some(json!(3)),
            "c" => Some(json!("na")),
            _ => None,
        };
        // (3*1 + 1*0.5) / 4 = 87.5
        assert_eq!(total(&t, &answers), Some(87.5));
        assert!(t.question("c").unwrap().accepts(&json!("poor")));
        assert!(!t.question("c").unwrap().accepts(&json!("bad")));
        assert!(!t.question("b").unwrap().accepts(&json!(6)));
        assert_eq!(total(&t, &|_| Some(json!("na"))), None);
    }

    #[test]
    fn conditions_select_conversations() {
        let c = Conditions {
            kind: vec!["call".into()],
            tag: vec!["sales".into()],
            ..Default::default()
        };
        let mut f = Facts {
            kind: "call".into(),
            tags: vec!["sales".into()],
            ..Default::default()
        };
        assert!(c.matches(&f));
        f.kind = "ticket".into();
        assert!(!c.matches(&f));
        assert!(Conditions::default().matches(&f));
    }
}
