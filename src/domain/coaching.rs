//! Coaching over a period: per question, the average score and its course by day;
//! the strongest and weakest areas, each with an example moment; and a note.

use serde::Serialize;
use std::collections::BTreeMap;

/// One scored answer of an agent.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    pub template: String,
    pub question_id: String,
    pub question: String,
    /// `YYYY-MM-DD` of the conversation.
    pub day: String,
    /// 0..=1.
    pub score: f64,
    pub conversation_id: String,
    pub quote: Option<String>,
    pub start: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct QuestionTrend {
    pub template: String,
    pub question_id: String,
    pub question: String,
    /// 0..=100.
    pub average: f64,
    pub answers: usize,
    /// `(day, average 0..=100)` in day order.
    pub trend: Vec<(String, f64)>,
    /// The lowest-scored moment with evidence (the best one for a strength).
    pub example: Option<Moment>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub questions: Vec<QuestionTrend>,
    pub strongest: Vec<String>,
    pub weakest: Vec<String>,
    pub note: String,
}

fn pct(v: f64) -> f64 {
    (v * 1000.0).round() / 10.0
}

pub fn report(moments: &[Moment]) -> Report {
    let mut by_q: BTreeMap<(String, String), Vec<&Moment>> = BTreeMap::new();
    for m in moments {
        by_q.entry((m.template.clone(), m.question_id.clone()))
            .or_default()
            .push(m);
    }
    let mut questions: Vec<QuestionTrend> = by_q
        .into_values()
        .map(|ms| {
            let mut days: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
            for m in &ms {
                days.entry(&m.day).or_default().push(m.score);
            }
            let avg = ms.iter().map(|m| m.score).sum::<f64>() / ms.len() as f64;
            QuestionTrend {
                template: ms[0].template.clone(),
                question_id: ms[0].question_id.clone(),
                question: ms[0].question.clone(),
                average: pct(avg),
                answers: ms.len(),
                trend: days
                    .into_iter()
                    .map(|(d, v)| (d.to_string(), pct(v.iter().sum::<f64>() / v.len() as f64)))
                    .collect(),
                example: None,
            }
        })
        .collect();
    questions.sort_by(|a, b| b.average.total_cmp(&a.average));
    // The lower half (at most 3) are the weakest, worst first; the best (at most 3)
    // of the rest the strongest.
    let n = questions.len();
    let weak = (n / 2).min(3);
    let strong = (n - weak).min(3);
    let strongest: Vec<String> = questions[..strong]
        .iter()
        .map(|q| q.question_id.clone())
        .collect();
    let weakest: Vec<String> = questions[n - weak..]
        .iter()
        .rev()
        .map(|q| q.question_id.clone())
        .collect();
    for q in &mut questions {
        let strong = strongest.contains(&q.question_id);
        q.example = moments
            .iter()
            .filter(|m| {
                m.question_id == q.question_id && m.template == q.template && m.quote.is_some()
            })
            .min_by(|a, b| {
                if strong {
                    b.score.total_cmp(&a.score)
                } else {
                    a.score.total_cmp(&b.score)
                }
            })
            .cloned();
    }
    let note = note(&questions, &strongest, &weakest);
    Report {
        questions,
        strongest,
        weakest,
        note,
    }
}

fn note(questions: &[QuestionTrend], strongest: &[String], weakest: &[String]) -> String {
    let find = |id: &String| questions.iter().find(|q| &q.question_id == id);
    let Some(best) = strongest.first().and_then(find) else {
        return "No scored conversations in this period.".into();
    };
    let mut note = format!(
        "Strongest: \"{}\" ({}% over {} answers).",
        best.question, best.average, best.answers
    );
    if let Some(worst) = weakest.first().and_then(find) {
        note.push_str(&format!(
            " Work on: \"{}\" ({}%).",
            worst.question, worst.average
        ));
        if let Some(m) = &worst.example {
            let at = m.start.unwrap_or(0.0) as u64;
            note.push_str(&format!(
                " Listen again to conversation {} at {:02}:{:02}.",
                m.conversation_id,
                at / 60,
                at % 60
            ));
        }
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(q: &str, day: &str, score: f64) -> Moment {
        Moment {
            template: "QA".into(),
            question_id: q.into(),
            question: format!("{q}?"),
            day: day.into(),
            score,
            conversation_id: format!("c-{q}-{day}"),
            quote: Some("hello there".into()),
            start: Some(75.0),
        }
    }

    #[test]
    fn strengths_weaknesses_and_trends() {
        let r = report(&[
            m("greeting", "2026-11-01", 1.0),
            m("greeting", "2026-11-02", 1.0),
            m("empathy", "2026-11-01", 0.0),
            m("empathy", "2026-11-02", 1.0),
            m("closing", "2026-11-02", 0.0),
        ]);
        assert_eq!(
            r.strongest,
            vec!["greeting".to_string(), "empathy".to_string()]
        );
        assert_eq!(r.weakest, vec!["closing".to_string()]);
        let empathy = r
            .questions
            .iter()
            .find(|q| q.question_id == "empathy")
            .unwrap();
        assert_eq!(empathy.average, 50.0);
        assert_eq!(
            empathy.trend,
            vec![("2026-11-01".into(), 0.0), ("2026-11-02".into(), 100.0)]
        );
        assert!(r.note.contains("Work on: \"closing?\" (0%)"), "{}", r.note);
        assert!(
            r.note.contains("c-closing-2026-11-02 at 01:15"),
            "{}",
            r.note
        );
        assert_eq!(report(&[]).note, "No scored conversations in this period.");
    }
}
