//! Agreement between the AI and people on scorecard answers. Every answer a person
//! decided is a label: an applied override or an upheld dispute sets the person's
//! answer, a rejected dispute confirms the model's. Per question: how many answers
//! were decided (n), how often the model's answer was the person's, and Cohen's kappa
//! (agreement beyond chance; a model that answers everything the same scores 0).

use super::review::Applied;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Below this share of agreement a question is flagged (default of the API's
/// `min_agreement`).
pub const DEFAULT_MIN_AGREEMENT: f64 = 0.8;

/// Fewer decided answers than this are too few to flag a question on (default).
pub const MIN_N: usize = 5;

/// The person's answer to `question_id`, when a person decided it: the latest applied
/// override or upheld dispute, or the model's answer when the latest decision was a
/// rejected dispute. `reviews` are oldest first.
pub fn human_label(question_id: &str, model: &Value, reviews: &[Applied]) -> Option<Value> {
    reviews
        .iter()
        .rev()
        .filter(|r| r.question_id == question_id)
        .find_map(|r| match (r.kind, r.state) {
            ("override", "applied") | ("dispute", "upheld") => r.answer.clone(),
            ("dispute", "rejected") => Some(model.clone()),
            _ => None,
        })
}

/// An answer as a label to compare ("yes", "3", "partially").
pub fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "na".into(),
        other => other.to_string(),
    }
}

/// Cohen's kappa over (model, person) label pairs; `None` when chance agreement is
/// total (one label only) or there are no pairs.
pub fn kappa<S: AsRef<str>>(pairs: &[(S, S)]) -> Option<f64> {
    let n = pairs.len() as f64;
    if n == 0.0 {
        return None;
    }
    let mut labels: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut agree = 0.0;
    for (a, b) in pairs {
        let (a, b) = (a.as_ref(), b.as_ref());
        labels.entry(a).or_default().0 += 1.0;
        labels.entry(b).or_default().1 += 1.0;
        if a == b {
            agree += 1.0;
        }
    }
    let p_o = agree / n;
    let p_e: f64 = labels.values().map(|(a, b)| a / n * (b / n)).sum();
    (p_e < 1.0).then(|| (p_o - p_e) / (1.0 - p_e))
}

/// Agreement on one question (or a whole scorecard version).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub n: usize,
    pub agreed: usize,
    /// agreed / n; `None` without labels.
    pub agreement: Option<f64>,
    pub kappa: Option<f64>,
    /// Enough labels (`min_n`) and agreement below the threshold.
    pub flagged: bool,
}

/// Stats over (model, person) label pairs, flagged below `min_agreement` when there
/// are at least `min_n`.
pub fn stats(pairs: &[(String, String)], min_agreement: f64, min_n: usize) -> Stats {
    let n = pairs.len();
    let agreed = pairs.iter().filter(|(a, b)| a == b).count();
    let agreement = (n > 0).then(|| agreed as f64 / n as f64);
    Stats {
        n,
        agreed,
        agreement,
        kappa: kappa(pairs),
        flagged: n >= min_n && agreement.is_some_and(|a| a < min_agreement),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r<'a>(kind: &'a str, state: &'a str, a: Option<Value>) -> Applied<'a> {
        Applied {
            question_id: "greet",
            kind,
            state,
            answer: a,
        }
    }

    #[test]
    fn a_person_decides_by_override_upheld_or_rejected_dispute_only() {
        let model = json!("yes");
        assert_eq!(human_label("greet", &model, &[]), None);
        // An open dispute is no decision.
        assert_eq!(
            human_label("greet", &model, &[r("dispute", "open", Some(json!("no")))]),
            None
        );
        // A rejected dispute confirms the model.
        let rejected = [r("dispute", "rejected", Some(json!("no")))];
        assert_eq!(human_label("greet", &model, &rejected), Some(json!("yes")));
        // The latest decision wins.
        let both = [
            r("override", "applied", Some(json!("no"))),
            r("dispute", "upheld", Some(json!("na"))),
        ];
        assert_eq!(human_label("greet", &model, &both), Some(json!("na")));
        assert_eq!(human_label("other", &model, &both), None);
    }

    #[test]
    fn agreement_kappa_and_the_flag() {
        let p = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        // The model says yes to everything; people say no twice in six.
        let constant = p(&[
            ("yes", "yes"),
            ("yes", "yes"),
            ("yes", "yes"),
            ("yes", "yes"),
            ("yes", "no"),
            ("yes", "no"),
        ]);
        let s = stats(&constant, 0.8, MIN_N);
        assert_eq!((s.n, s.agreed), (6, 4));
        assert!((s.agreement.unwrap() - 4.0 / 6.0).abs() < 1e-9);
        assert_eq!(s.kappa, Some(0.0));
        assert!(s.flagged);
        let perfect = p(&[("yes", "yes"), ("no", "no")]);
        let s = stats(&perfect, 0.8, MIN_N);
        assert_eq!(s.kappa, Some(1.0));
        assert!(!s.flagged);
        // Too few labels are not flagged, however bad.
        assert!(!stats(&p(&[("yes", "no")]), 0.8, MIN_N).flagged);
        assert!(stats(&p(&[("yes", "no")]), 0.8, 1).flagged);
        assert_eq!(stats(&[], 0.8, MIN_N).agreement, None);
        assert_eq!(label(&json!(3)), "3");
        assert_eq!(label(&Value::Null), "na");
    }
}
