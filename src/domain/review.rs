//! Human review of scorecard answers: the answer in force is the model's unless a
//! reviewer overrode it or upheld a dispute with a new answer (the latest wins).

use serde_json::Value;

/// A review as it bears on an answer.
pub struct Applied<'a> {
    pub question_id: &'a str,
    pub kind: &'a str,
    pub state: &'a str,
    pub answer: Option<Value>,
}

/// The answer in force for `question_id` given the model's and the reviews (oldest
/// first).
pub fn in_force(question_id: &str, model: &Value, reviews: &[Applied]) -> Value {
    reviews
        .iter()
        .rev()
        .filter(|r| r.question_id == question_id)
        .filter(|r| {
            (r.kind == "override" && r.state == "applied")
                || (r.kind == "dispute" && r.state == "upheld")
        })
        .find_map(|r| r.answer.clone())
        .unwrap_or_else(|| model.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_latest_override_or_upheld_dispute_wins() {
        let r = |kind, state, a: Option<Value>| Applied {
            question_id: "greet",
            kind,
            state,
            answer: a,
        };
        let model = json!("no");
        assert_eq!(in_force("greet", &model, &[]), "no");
        let rs = [
            r("override", "applied", Some(json!("yes"))),
            r("dispute", "rejected", Some(json!("na"))),
        ];
        assert_eq!(in_force("greet", &model, &rs), "yes");
        let rs = [
            r("override", "applied", Some(json!("yes"))),
            r("dispute", "upheld", Some(json!("na"))),
        ];
        assert_eq!(in_force("greet", &model, &rs), "na");
        assert_eq!(in_force("other", &model, &rs), "no");
    }
}
