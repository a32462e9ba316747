//! Conversation metrics from timed, speaker-labelled segments: pure arithmetic.

use serde::Serialize;
use std::collections::BTreeMap;

/// A stretch of speech as the metrics see it.
#[derive(Debug, Clone)]
pub struct Turn<'a> {
    pub speaker: &'a str,
    pub start: f64,
    pub end: f64,
    pub text: &'a str,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpeakerMetrics {
    /// Share of all speaking time, 0..1.
    pub talk_ratio: f64,
    pub talk_seconds: f64,
    pub words: usize,
    pub words_per_minute: f64,
    /// Longest uninterrupted run of this speaker's turns, in seconds.
    pub longest_monologue_seconds: f64,
    pub questions: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Metrics {
    pub duration_seconds: f64,
    pub speakers: BTreeMap<String, SpeakerMetrics>,
    /// Share of the recording in which nobody speaks, 0..1.
    pub silence_share: f64,
    /// Turns that start while another speaker is still talking.
    pub interruptions: usize,
    pub questions: usize,
    /// Mean pause before the agent answers the customer, in seconds (None: no such turn).
    pub patience_seconds: Option<f64>,
}

fn words(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .count()
}

fn questions(text: &str) -> usize {
    text.matches('?').count()
}

/// Metrics of a conversation lasting `duration` seconds.
pub fn compute(turns: &[Turn], duration: f64, agent: &str) -> Metrics {
    let mut sorted: Vec<&Turn> = turns.iter().collect();
    sorted.sort_by(|a, b| a.start.total_cmp(&b.start));
    let total_talk: f64 = sorted.iter().map(|t| (t.end - t.start).max(0.0)).sum();
    let mut speakers: BTreeMap<String, SpeakerMetrics> = BTreeMap::new();
    for t in &sorted {
        let m = speakers
            .entry(t.speaker.to_string())
            .or_insert(SpeakerMetrics {
                talk_ratio: 0.0,
                talk_seconds: 0.0,
                words: 0,
                words_per_minute: 0.0,
                longest_monologue_seconds: 0.0,
                questions: 0,
            });
        m.talk_seconds += (t.end - t.start).max(0.0);
        m.words += words(t.text);
        m.questions += questions(t.text);
    }
    // Monologues: consecutive turns of one speaker, measured from first start to last end.
    let mut run: Option<(&str, f64, f64)> = None;
    let close = |run: Option<(&str, f64, f64)>, speakers: &mut BTreeMap<String, SpeakerMetrics>| {
        if let Some((who, start, end)) = run {
            if let Some(m) = speakers.get_mut(who) {
                m.longest_monologue_seconds = m.longest_monologue_seconds.max(end - start);
            }
        }
    };
    let mut interruptions = 0;
    let mut pauses = Vec::new();
    for (i, t) in sorted.iter().enumerate() {
        if sorted[..i]
            .iter()
            .any(|p| p.speaker != t.speaker && p.start < t.start && p.end > t.start + 0.2)
        {
            interruptions += 1;
        }
        if let Some(prev) = i.checked_sub(1).map(|j| sorted[j]) {
            if t.speaker == agent && prev.speaker != agent {
                pauses.push((t.start - prev.end).max(0.0));
            }
        }
        run = match run {
            Some((who, start, end)) if who == t.speaker => Some((who, start, end.max(t.end))),
            other => {
                close(other, &mut speakers);
                Some((t.speaker, t.start, t.end))
            }
        };
    }
    close(run, &mut speakers);
    for m in speakers.values_mut() {
        m.talk_ratio = if total_talk > 0.0 {
            m.talk_seconds / total_talk
        } else {
            0.0
        };
        m.words_per_minute = if m.talk_seconds > 0.0 {
            m.words as f64 * 60.0 / m.talk_seconds
        } else {
            0.0
        };
    }
    // Silence: the part of the recording no turn covers (overlaps counted once).
    let mut covered = 0.0;
    let mut reach = 0.0f64;
    for t in &sorted {
        let (s, e) = (t.start.max(reach), t.end.min(duration));
        if e > s {
            covered += e - s;
        }
        reach = reach.max(t.end);
    }
    let silence_share = if duration > 0.0 {
        ((duration - covered) / duration).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Metrics {
        duration_seconds: duration,
        questions: speakers.values().map(|m| m.questions).sum(),
        speakers,
        silence_share,
        interruptions,
        patience_seconds: (!pauses.is_empty())
            .then(|| pauses.iter().sum::<f64>() / pauses.len() as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn<'a>(speaker: &'a str, start: f64, end: f64, text: &'a str) -> Turn<'a> {
        Turn {
            speaker,
            start,
            end,
            text,
        }
    }

    #[test]
    fn a_small_call_adds_up() {
        let turns = [
            turn("agent", 0.0, 4.0, "Hello, how can I help?"),
            turn("customer", 5.0, 9.0, "My invoice is wrong."),
            turn("customer", 9.0, 11.0, "Can you check it?"),
            turn("agent", 10.5, 14.0, "Yes I can check that now"),
        ];
        let m = compute(&turns, 20.0, "agent");
        let agent = &m.speakers["agent"];
        let customer = &m.speakers["customer"];
        assert!((agent.talk_seconds - 7.5).abs() < 1e-9);
        assert!((customer.talk_ratio - 6.0 / 13.5).abs() < 1e-9);
        assert_eq!(customer.longest_monologue_seconds, 6.0);
        assert_eq!(m.questions, 2);
        assert_eq!(
            m.interruptions, 1,
            "the agent starts at 10.5 while the customer talks to 11"
        );
        // Pause before the agent answers: 10.5 - 11.0 clamps to 0.
        assert_eq!(m.patience_seconds, Some(0.0));
        assert!(
            (m.silence_share - 7.0 / 20.0).abs() < 1e-9,
            "{}",
            m.silence_share
        );
        assert_eq!(agent.words, 11);
    }

    #[test]
    fn an_empty_conversation_has_no_speakers_and_is_all_silence() {
        let m = compute(&[], 10.0, "agent");
        assert!(m.speakers.is_empty());
        assert_eq!(m.silence_share, 1.0);
        assert_eq!(m.patience_seconds, None);
    }
}
