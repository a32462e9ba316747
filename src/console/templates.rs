//! The console's templates: compiled into the binary, every value HTML-escaped by
//! the engine (minijinja auto-escape), rendered into a page with the security headers.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use minijinja::{AutoEscape, Environment};
use serde_json::Value;
use std::sync::OnceLock;

/// Every template, by name; the sources are part of the binary.
const SOURCES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("error.html", include_str!("templates/error.html")),
    ("login.html", include_str!("templates/login.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    (
        "conversations.html",
        include_str!("templates/conversations.html"),
    ),
    (
        "conversation.html",
        include_str!("templates/conversation.html"),
    ),
    ("scorecards.html", include_str!("templates/scorecards.html")),
    ("scorecard.html", include_str!("templates/scorecard.html")),
    ("users.html", include_str!("templates/users.html")),
    ("settings.html", include_str!("templates/settings.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("system.html", include_str!("templates/system.html")),
    ("account.html", include_str!("templates/account.html")),
    ("retention.html", include_str!("templates/retention.html")),
    ("subjects.html", include_str!("templates/subjects.html")),
    ("subject.html", include_str!("templates/subject.html")),
    ("records.html", include_str!("templates/records.html")),
    (
        "integrations.html",
        include_str!("templates/integrations.html"),
    ),
];

/// Seconds as m:ss (or h:mm:ss); nothing for a missing value.
fn clock(seconds: minijinja::Value) -> String {
    let Ok(seconds) = f64::try_from(seconds) else {
        return String::new();
    };
    let s = seconds.max(0.0).round() as u64;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", (s % 3600) / 60, s % 60),
    }
}

/// A stored timestamp (RFC 3339) as `YYYY-MM-DD HH:MM` UTC; other values as they are.
fn when(value: minijinja::Value) -> String {
    let Some(stamp) = value.as_str().map(str::to_string) else {
        return if value.is_none() || value.is_undefined() {
            String::new()
        } else {
            value.to_string()
        };
    };
    match stamp.get(..16) {
        Some(s) if stamp.len() > 16 => format!("{} UTC", s.replacen('T', " ", 1)),
        _ => stamp,
    }
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        env.add_filter("clock", clock);
        env.add_filter("when", when);
        for (name, source) in SOURCES {
            // A template that does not parse is a build defect; the unit test catches it.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "console template does not parse");
            }
        }
        env
    })
}

/// Renders `name` with `context` as an HTML page; a rendering failure is a 500 page
/// that names no internals.
pub fn render(status: StatusCode, name: &str, context: &Value) -> HttpResponse {
    let html = environment()
        .get_template(name)
        .and_then(|t| t.render(context));
    match html {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("cache-control", "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(template = name, error = %e, "console template failed");
            HttpResponse::InternalServerError()
                .content_type("text/html; charset=utf-8")
                .body(
                    "<!doctype html><title>Error · insite</title><h1>Internal Server Error</h1>\
                       <p>The page could not be rendered (code <code>INTERNAL_ERROR</code>); \
                       the server log has the details.</p>",
                )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut env = Environment::new();
        for (name, source) in SOURCES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn values_are_escaped() {
        let ctx = serde_json::json!({"title": "<script>alert(1)</script>", "status": 404,
            "code": "X", "message": "<b>m</b>"});
        let res = environment()
            .get_template("error.html")
            .unwrap()
            .render(&ctx)
            .unwrap();
        assert!(
            res.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"),
            "{res}"
        );
        assert!(!res.contains("<script>alert"));
        assert!(!res.contains("<b>m</b>"));
    }

    #[test]
    fn clocks_and_stamps() {
        assert_eq!(clock(65.4.into()), "1:05");
        assert_eq!(clock(3725.into()), "1:02:05");
        assert_eq!(clock(minijinja::Value::UNDEFINED), "");
        assert_eq!(when("never".into()), "never");
        assert_eq!(when(minijinja::Value::from(())), "");
        assert_eq!(
            when("2026-11-23T01:02:03.123456Z".into()),
            "2026-11-23 01:02 UTC"
        );
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;
    use serde_json::json;

    fn frame(page: Value) -> Value {
        json!({"me": {"role": "owner", "user_id": "u1"}, "csrf": "t", "nav": [],
            "can": {"ingest": true, "review": true, "manage_settings": true}, "page": page})
    }

    /// A transcript segment as the API serializes it, with the console's pieces.
    fn segment() -> Value {
        let row = crate::store::conversations::SegmentRow {
            id: "s".into(),
            conversation_id: "c1".into(),
            org_id: "o".into(),
            seq: 0,
            speaker: "agent".into(),
            start_seconds: 0.0,
            end_seconds: 2.5,
            text: "Thanks [EMAIL]".into(),
            confidence: 0.9,
        };
        let mut v = serde_json::to_value(row).unwrap();
        v["pieces"] = json!([{"text": "Thanks "}, {"redacted": "EMAIL"}]);
        v
    }

    fn renders(name: &str, page: Value) -> String {
        environment()
            .get_template(name)
            .unwrap()
            .render(frame(page))
            .unwrap_or_else(|e| panic!("{name}: {e:#}"))
    }

    #[test]
    fn a_scored_call_renders() {
        let evidence = json!([{"quote": "Thank you for calling", "segment": 0, "speaker": "agent", "start": 0.0, "end": 2.5}]);
        let html = renders(
            "conversation.html",
            json!({
                "c": {"id": "c1", "title": "Call", "kind": "call", "state": "ready", "source": "api",
                    "duration_seconds": 36.2, "created_at": "2026-11-23T00:35:00.123Z", "metadata": {"team": "x"},
                    "job": {"id": "j", "state": "done", "stage": "done", "progress": 100},
                    "transcript": [segment()],
                    "metric_rows": [{"name": "talk", "value": "1"}],
                    "tracker_hits": [{"tracker_id": "t", "phrase": "cancel", "speaker": "customer", "start": 3}]},
                "analysis": {"state": "done", "overview": {"summary": "S", "reason": "R", "outcome": "O",
                        "action_items": ["a"], "topics": ["t"]},
                    "sentiment": {"customer": {"label": "negative", "score": -0.5}, "agent": {"label": "neutral", "score": 0}},
                    "insights": [{"key": "k", "question": "Q", "answer": "A", "evidence": evidence}],
                    "model": "m", "prompt_version": "analysis.v1",
                    "scorecards": [{"id": "r1", "name": "Card", "version": 1, "score": 100.0,
                        "answers": [{"question_id": "thanks", "question": "Thanked?", "answer": "yes",
                            "model_answer": "yes", "rationale": "R", "evidence": evidence,
                            "reviews": [{"id": "v", "kind": "dispute", "state": "open", "comment": "no"}]}]}]}
            }),
        );
        assert!(html.contains("class=\"evidence\""), "{html}");
        assert!(
            html.contains("data-start=\"0.0\"") || html.contains("data-start=\"0\""),
            "{html}"
        );
    }

    #[test]
    fn the_privacy_pages_render_requests_deadlines_and_results() {
        let req = json!({"id": "r1", "kind": "erasure", "subject_id": "s1", "requester": "Jane <b>",
            "received_at": "2026-11-01T00:00:00Z", "due_at": "2026-12-01T00:00:00Z", "deadline": "overdue",
            "days_left": -2, "state": "done", "progress": 100, "has_archive": false,
            "result": {"conversations_deleted": ["c1", "c2"], "subject_key_destroyed": true}});
        let export = json!({"id": "r2", "kind": "export", "subject_id": "s1", "requester": "Jane",
            "received_at": "2026-11-01T00:00:00Z", "due_at": "2026-12-01T00:00:00Z", "deadline": "due_soon",
            "days_left": 3, "state": "running", "progress": 40, "has_archive": false, "result": null});
        let html = renders(
            "subject.html",
            json!({"subject": {"id": "s1", "kind": "customer", "name": "Jane",
            "email": "j@x.test", "phone": null, "ai_opt_out": true, "restricted": false, "erased_at": null},
            "legal_hold": false, "conversations": [{"id": "c1", "role": "customer", "held": true}],
            "requests": [req.clone(), export]}),
        );
        assert!(html.contains("conversations deleted: c1, c2"), "{html}");
        assert!(
            html.contains("data-poll=\"/api/v1/subject-requests/r2\""),
            "{html}"
        );
        assert!(
            html.contains("Jane &lt;b&gt;") && !html.contains("Jane <b>"),
            "escaped: {html}"
        );
        let html = renders(
            "subjects.html",
            json!({"asked": {"email": "j@x.test"}, "searched": true,
            "found": [], "requests": {"requests": [req], "overdue": 1, "due_soon": 0}}),
        );
        assert!(
            html.contains("1 request(s) past their legal deadline"),
            "{html}"
        );
        let html = renders(
            "retention.html",
            json!({"retention": {"policy": crate::domain::retention::Policy::default(),
            "audit_floor_days": 90, "runs": [{"started_at": "2026-11-01T00:00:00Z", "trigger": "schedule",
            "counts": {"transcripts": 3}}]}, "holds": [{"id": "h", "scope": "org", "target_id": "o",
            "reason": "inquiry", "set_at": "2026-11-01T00:00:00Z", "set_by": "user:u", "released_at": null}]}),
        );
        assert!(
            html.contains("transcripts 3")
                && html.contains("value=\"30\"")
                && html.contains("inquiry"),
            "{html}"
        );
    }
}
