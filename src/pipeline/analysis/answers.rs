//! The model's answers, parsed, validated against what was asked, checked for verbatim
//! evidence, and merged when a long conversation was read in parts.

use crate::domain::evidence::{self, Evidence, Line};
use crate::domain::insight::{AnswerType, Insight};
use crate::domain::scorecard::{QuestionDef, QuestionType};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Overview {
    pub summary: String,
    pub reason: String,
    pub outcome: String,
    pub action_items: Vec<String>,
    pub topics: Vec<String>,
}

/// A sentiment score on -1..1 with its label.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scored {
    pub score: f64,
    pub label: String,
}

impl Scored {
    /// A score with the label it falls under (for merged parts).
    pub fn of(score: f64) -> Self {
        let score = (score.clamp(-1.0, 1.0) * 100.0).round() / 100.0;
        let label = if score >= 0.25 {
            "positive"
        } else if score <= -0.25 {
            "negative"
        } else {
            "neutral"
        };
        Self {
            score,
            label: label.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Sentiment {
    pub customer: Scored,
    pub agent: Scored,
    pub overall: Scored,
    /// The customer's label along the conversation (beginning, middle and end of
    /// each part read).
    pub course: Vec<String>,
}

const LABELS: [&str; 3] = ["positive", "neutral", "negative"];

/// An answer with the evidence that holds up and the quotes that did not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Answer {
    pub question_id: String,
    pub answer: Value,
    /// 0..=1 for a scorecard answer; `None` when not applicable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rationale: String,
    pub evidence: Vec<Evidence>,
    /// Quotes the model gave that are not in the transcript: never shown as evidence.
    pub rejected_quotes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnswer {
    quotes: Vec<String>,
    answer: Value,
    #[serde(default)]
    rationale: String,
}

/// Why an answer was refused.
#[derive(Debug, thiserror::Error)]
#[error("the model's answer to {what} is not valid: {why}")]
pub struct Invalid {
    what: String,
    why: String,
}

fn invalid(what: &str, why: impl ToString) -> Invalid {
    Invalid {
        what: what.into(),
        why: why.to_string(),
    }
}

pub fn overview(text: &str) -> Result<Overview, Invalid> {
    let o: Overview = serde_json::from_str(text).map_err(|e| invalid("the summary", e))?;
    if o.summary.trim().is_empty() {
        return Err(invalid("the summary", "empty summary"));
    }
    Ok(o)
}

/// One side's sentiment as the model gives it (the customer's with its course).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    /// The model's reason (read before it labels; not stored).
    #[serde(default)]
    pub why: String,
    pub label: String,
    pub score: f64,
    #[serde(default)]
    pub course: Vec<String>,
}

impl Side {
    pub fn scored(&self) -> Scored {
        Scored {
            score: self.score,
            label: self.label.clone(),
        }
    }
}

pub fn sentiment(text: &str) -> Result<Side, Invalid> {
    let s: Side = serde_json::from_str(text).map_err(|e| invalid("sentiment", e))?;
    if !(-1.0..=1.0).contains(&s.score) {
        return Err(invalid("sentiment", "a score outside -1..1"));
    }
    if let Some(l) = std::iter::once(&s.label)
        .chain(&s.course)
        .find(|l| !LABELS.contains(&l.as_str()))
    {
        return Err(invalid("sentiment", format!("unknown label {l}")));
    }
    Ok(s)
}

fn raw(what: &str, text: &str) -> Result<RawAnswer, Invalid> {
    serde_json::from_str(text).map_err(|e| invalid(what, e))
}

pub fn scorecard(q: &QuestionDef, text: &str, lines: &[Line]) -> Result<Answer, Invalid> {
    let what = format!("question '{}'", q.id);
    let r = raw(&what, text)?;
    if !q.accepts(&r.answer) {
        return Err(invalid(
            &what,
            format!("{} is not an allowed answer", r.answer),
        ));
    }
    let (evidence, rejected_quotes) = evidence::check(&r.quotes, lines);
    Ok(Answer {
        question_id: q.id.clone(),
        score: q.score(&r.answer),
        answer: r.answer,
        rationale: r.rationale,
        evidence,
        rejected_quotes,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TurnsAnswer {
    answer: Value,
    turns: Vec<usize>,
}

/// An `analysis.v2` answer: the cited turns become the evidence (whole turns, which
/// are verbatim by construction); "yes" without a turn is "no".
pub fn scorecard_by_turns(q: &QuestionDef, text: &str, lines: &[Line]) -> Result<Answer, Invalid> {
    let what = format!("question '{}'", q.id);
    let r: TurnsAnswer = serde_json::from_str(text).map_err(|e| invalid(&what, e))?;
    let mut answer = r.answer;
    if !q.accepts(&answer) {
        return Err(invalid(&what, format!("{answer} is not an allowed answer")));
    }
    let mut evidence = Vec::new();
    for t in r.turns {
        let l = lines
            .get(t)
            .ok_or_else(|| invalid(&what, format!("turn {t} does not exist")))?;
        let e = Evidence {
            quote: l.text.to_string(),
            segment: t,
            speaker: l.speaker.to_string(),
            start: l.start,
            end: l.end,
        };
        if !evidence.contains(&e) {
            evidence.push(e);
        }
    }
    if q.kind == QuestionType::YesNo && answer == "yes" && evidence.is_empty() {
        answer = Value::from("no");
    }
    Ok(Answer {
        question_id: q.id.clone(),
        score: q.score(&answer),
        answer,
        rationale: rationale(&evidence),
        evidence,
        rejected_quotes: Vec::new(),
    })
}

/// What the evidence shows, in the conversation's own words.
fn rationale(evidence: &[Evidence]) -> String {
    match evidence.first() {
        Some(e) => format!("The {} said: \"{}\"", e.speaker, e.quote),
        None => "No turn shows it.".to_string(),
    }
}

/// A narrow (turn by turn) yes/no answer: "yes" when some turn shows it, with the
/// first two such turns as evidence.
pub fn from_turns(q: &QuestionDef, turns: &[usize], lines: &[Line]) -> Answer {
    let evidence: Vec<Evidence> = turns
        .iter()
        .filter_map(|t| {
            lines.get(*t).map(|l| Evidence {
                quote: l.text.to_string(),
                segment: *t,
                speaker: l.speaker.to_string(),
                start: l.start,
                end: l.end,
            })
        })
        .take(2)
        .collect();
    let answer = Value::from(if evidence.is_empty() { "no" } else { "yes" });
    let rationale = rationale(&evidence);
    Answer {
        question_id: q.id.clone(),
        score: q.score(&answer),
        answer,
        rationale,
        evidence,
        rejected_quotes: Vec::new(),
    }
}

/// The answer to a template's `applies_when` check.
pub fn applies(text: &str) -> Result<bool, Invalid> {
    let v: Value = serde_json::from_str(text).map_err(|e| invalid("the applicability check", e))?;
    match v["answer"].as_str() {
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        _ => Err(invalid("the applicability check", "neither yes nor no")),
    }
}

/// "na" for every question of a template that does not apply.
pub fn not_applicable(q: &QuestionDef, why: &str) -> Answer {
    Answer {
        question_id: q.id.clone(),
        answer: Value::from("na"),
        score: None,
        rationale: format!("Not applicable: the conversation is not one where {why}."),
        evidence: Vec::new(),
        rejected_quotes: Vec::new(),
    }
}

/// A side's score kept inside its label's band (a "positive" label never carries a
/// negative score).
fn banded(s: &Side) -> f64 {
    let v = s.score.clamp(-1.0, 1.0);
    match s.label.as_str() {
        "positive" => v.max(0.25),
        "negative" => v.min(-0.25),
        _ => v.clamp(-0.24, 0.24),
    }
}

/// The whole conversation's sentiment from its sides, the customer's counting twice:
/// it can never contradict both of them.
pub fn overall(customer: &Side, agent: &Side) -> (Scored, Scored, Scored) {
    let c = Scored::of(banded(customer));
    let a = Scored::of(banded(agent));
    let o = Scored::of((2.0 * c.score + a.score) / 3.0);
    (c, a, o)
}

pub fn insight(i: &Insight, text: &str, lines: &[Line]) -> Result<Answer, Invalid> {
    let what = format!("insight '{}'", i.key);
    let r = raw(&what, text)?;
    if !i.accepts(&r.answer) {
        return Err(invalid(
            &what,
            format!("{} is not a {:?}", r.answer, i.kind),
        ));
    }
    let (evidence, rejected_quotes) = evidence::check(&r.quotes, lines);
    Ok(Answer {
        question_id: i.key.clone(),
        score: None,
        answer: r.answer,
        rationale: String::new(),
        evidence,
        rejected_quotes,
    })
}

fn merge_evidence(parts: &[Answer], chosen: &Answer) -> Answer {
    let mut out = chosen.clone();
    for p in parts {
        for e in &p.evidence {
            if !out.evidence.contains(e) {
                out.evidence.push(e.clone());
            }
        }
        for q in &p.rejected_quotes {
            if !out.rejected_quotes.contains(q) {
                out.rejected_quotes.push(q.clone());
            }
        }
    }
    out
}

/// One answer from the answers of each part of a long conversation: yes/no is yes
/// when any part shows it; a scale is the rounded mean; a choice is the last part's
/// that applies (how the conversation ended decides). Evidence is pooled.
pub fn merge_scorecard(q: &QuestionDef, parts: &[Answer]) -> Option<Answer> {
    let applicable: Vec<&Answer> = parts.iter().filter(|a| a.answer != "na").collect();
    let chosen = match q.kind {
        _ if applicable.is_empty() => parts.first()?.clone(),
        QuestionType::YesNo => (*applicable
            .iter()
            .find(|a| a.answer == "yes")
            .unwrap_or(&applicable[0]))
        .clone(),
        QuestionType::Scale => {
            let mean = applicable
                .iter()
                .filter_map(|a| a.answer.as_f64())
                .sum::<f64>()
                / applicable.len() as f64;
            let mut a = applicable[0].clone();
            a.answer = Value::from(mean.round() as u64);
            a.score = q.score(&a.answer);
            a
        }
        QuestionType::Choice => (*applicable[applicable.len() - 1]).clone(),
    };
    Some(merge_evidence(parts, &chosen))
}

/// Insights: a boolean is true when any part says so; otherwise the first answer given.
pub fn merge_insight(i: &Insight, parts: &[Answer]) -> Option<Answer> {
    let given: Vec<&Answer> = parts.iter().filter(|a| !a.answer.is_null()).collect();
    let chosen = match i.kind {
        _ if given.is_empty() => parts.first()?.clone(),
        AnswerType::Boolean => {
            (*given.iter().find(|a| a.answer == true).unwrap_or(&given[0])).clone()
        }
        _ => given[0].clone(),
    };
    Some(merge_evidence(parts, &chosen))
}

/// Summaries of the parts joined; reason from the first part, outcome from the last.
pub fn merge_overview(parts: Vec<Overview>) -> Option<Overview> {
    let mut it = parts.into_iter();
    let mut out = it.next()?;
    for p in it {
        out.summary = format!("{} {}", out.summary, p.summary);
        out.outcome = p.outcome;
        for a in p.action_items {
            if !out.action_items.contains(&a) && out.action_items.len() < 10 {
                out.action_items.push(a);
            }
        }
        for t in p.topics {
            if !out.topics.contains(&t) && out.topics.len() < 10 {
                out.topics.push(t);
            }
        }
    }
    Some(out)
}

/// Scores averaged by the parts' lengths; the course runs through all parts.
pub fn merge_sentiment(parts: Vec<(Sentiment, usize)>) -> Option<Sentiment> {
    let total: usize = parts.iter().map(|(_, n)| n).sum();
    if parts.len() <= 1 || total == 0 {
        return parts.into_iter().next().map(|(s, _)| s);
    }
    let mean = |f: &dyn Fn(&Sentiment) -> f64| {
        parts.iter().map(|(s, n)| f(s) * *n as f64).sum::<f64>() / total as f64
    };
    Some(Sentiment {
        overall: Scored::of(mean(&|s| s.overall.score)),
        agent: Scored::of(mean(&|s| s.agent.score)),
        customer: Scored::of(mean(&|s| s.customer.score)),
        course: parts.iter().flat_map(|(s, _)| s.course.clone()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lines() -> Vec<Line<'static>> {
        vec![Line {
            speaker: "agent",
            start: 1.0,
            end: 3.0,
            text: "Good morning Mrs Patel, thank you for calling.",
        }]
    }

    fn yes_no() -> QuestionDef {
        serde_json::from_value(json!({"id": "greet", "text": "Greeted by name?", "type": "yes_no"}))
            .unwrap()
    }

    #[test]
    fn answers_keep_verified_quotes_and_mark_the_rest() {
        let a = scorecard(
            &yes_no(),
            r#"{"quotes": ["Good morning Mrs Patel", "Hello Mr Smith"], "answer": "yes", "rationale": "Named her."}"#,
            &lines(),
        )
        .unwrap();
        assert_eq!(a.score, Some(1.0));
        assert_eq!(a.evidence.len(), 1);
        assert_eq!(a.evidence[0].start, 1.0);
        assert_eq!(a.rejected_quotes, vec!["Hello Mr Smith".to_string()]);
        assert!(scorecard(
            &yes_no(),
            r#"{"quotes": [], "answer": 4, "rationale": "x"}"#,
            &lines()
        )
        .is_err());
        assert!(scorecard(&yes_no(), "{", &lines()).is_err());
    }

    #[test]
    fn v2_answers_are_backed_by_turns_and_sentiment_is_consistent() {
        let q = yes_no();
        // "yes" with no turn is "no"; a cited turn becomes the evidence, whole.
        let a = scorecard_by_turns(&q, r#"{"answer": "yes", "turns": []}"#, &lines()).unwrap();
        assert_eq!(a.answer, "no");
        let a = scorecard_by_turns(&q, r#"{"answer": "yes", "turns": [0]}"#, &lines()).unwrap();
        assert_eq!(a.answer, "yes");
        assert_eq!(a.evidence[0].quote, lines()[0].text);
        assert!(a.rationale.contains("Mrs Patel"), "{}", a.rationale);
        assert!(scorecard_by_turns(&q, r#"{"answer": "yes", "turns": [7]}"#, &lines()).is_err());
        assert_eq!(from_turns(&q, &[], &lines()).answer, "no");
        // The overall is computed from the sides, each kept inside its label's band.
        let c = sentiment(r#"{"why": "Angry.", "label": "negative", "score": 0.2}"#).unwrap();
        let a = sentiment(r#"{"why": "Kind.", "label": "positive", "score": 0.1}"#).unwrap();
        let (c_scored, a_scored, overall) = overall(&c, &a);
        assert!(c_scored.score <= -0.25 && a_scored.score >= 0.25);
        assert_ne!(overall.label, "positive", "never against both sides");
    }

    #[test]
    fn parts_merge_as_documented() {
        let part = |ans: Value| Answer {
            question_id: "greet".into(),
            answer: ans,
            score: None,
            rationale: String::new(),
            evidence: vec![],
            rejected_quotes: vec![],
        };
        let q = yes_no();
        let m = merge_scorecard(
            &q,
            &[part(json!("no")), part(json!("yes")), part(json!("na"))],
        );
        assert_eq!(m.unwrap().answer, "yes");
        let m = merge_scorecard(&q, &[part(json!("na")), part(json!("na"))]);
        assert_eq!(m.unwrap().answer, "na");
        let s = |v: f64| {
            let side = sentiment(&format!(
                r#"{{"why": "x", "label": "neutral", "score": {v}}}"#
            ))
            .unwrap();
            Sentiment {
                customer: side.scored(),
                agent: side.scored(),
                overall: side.scored(),
                course: vec!["neutral".into(), "negative".into(), "neutral".into()],
            }
        };
        assert!(sentiment(r#"{"label": "angry", "score": 0}"#).is_err());
        let m = merge_sentiment(vec![(s(-1.0), 3), (s(1.0), 1)]).unwrap();
        assert_eq!(m.overall.score, -0.5);
        assert_eq!(m.overall.label, "negative");
        assert_eq!(m.course.len(), 6);
    }
}
