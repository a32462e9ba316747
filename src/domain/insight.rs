//! Custom insights: an admin's question with a typed answer (boolean, number, one of
//! a list, or short text), e.g. "Which competitor was mentioned?".

use super::scorecard::{check_id, check_text, Invalid};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AnswerType {
    Boolean,
    Number,
    Enum,
    Text,
}

/// One version of a custom insight.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Insight {
    /// Stable key of the answer, `a-z`, `0-9`, `_`.
    pub key: String,
    pub question: String,
    #[serde(rename = "type")]
    pub kind: AnswerType,
    /// The allowed answers of an `enum` insight.
    #[serde(default)]
    pub options: Vec<String>,
}

/// Parses and checks an insight; errors name the field.
pub fn parse(json: &Value) -> Result<Insight, Invalid> {
    let i: Insight = serde_path_to_error::deserialize(json).map_err(|e| Invalid {
        field: match e.path().to_string() {
            p if p == "." => "insight".into(),
            p => p,
        },
        message: e.into_inner().to_string(),
    })?;
    check_id("key", &i.key)?;
    check_text("question", &i.question, 300, false)?;
    match i.kind {
        AnswerType::Enum => {
            if !(2..=20).contains(&i.options.len()) {
                return Err(Invalid {
                    field: "options".into(),
                    message: "an enum insight needs 2..=20 options".into(),
                });
            }
            for (n, o) in i.options.iter().enumerate() {
                check_text(&format!("options[{n}]"), o, 60, true)?;
            }
        }
        _ if !i.options.is_empty() => {
            return Err(Invalid {
                field: "options".into(),
                message: "only enum insights have options".into(),
            })
        }
        _ => {}
    }
    Ok(i)
}

impl Insight {
    /// Whether `answer` has this insight's type (`null`: not mentioned).
    pub fn accepts(&self, answer: &Value) -> bool {
        match (self.kind, answer) {
            (_, Value::Null) => true,
            (AnswerType::Boolean, Value::Bool(_)) => true,
            (AnswerType::Number, Value::Number(_)) => true,
            (AnswerType::Enum, Value::String(s)) => self.options.contains(s),
            (AnswerType::Text, Value::String(s)) => !s.trim().is_empty() && s.len() <= 400,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn insights_are_typed_and_checked() {
        let i = parse(
            &json!({"key": "competitor", "question": "Which competitor was mentioned?",
            "type": "enum", "options": ["BrightSpark", "Voltio"]}),
        )
        .unwrap();
        assert!(i.accepts(&json!("Voltio")));
        assert!(i.accepts(&Value::Null));
        assert!(!i.accepts(&json!("Other")));
        let e = parse(&json!({"key": "x", "question": "Q?", "type": "date"})).unwrap_err();
        assert_eq!(e.field, "type");
        let e = parse(&json!({"key": "x", "question": "Q?", "type": "enum"})).unwrap_err();
        assert_eq!(e.field, "options");
        let e = parse(&json!({"key": "Bad Key", "question": "Q?", "type": "text"})).unwrap_err();
        assert_eq!(e.field, "key");
    }
}
