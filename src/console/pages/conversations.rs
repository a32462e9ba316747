//! Conversations: the list (filters, search, paging, upload) and one conversation
//! (player synced to the transcript, redactions, metrics, tracker hits, scorecards
//! with evidence, reviews, live progress). The data is the API's, read the same way.

use crate::api::analysis::analysis_view;
use crate::api::auth::ReadConversations;
use crate::api::conversations::{conversation_view, list_view, ListQuery};
use crate::console::guard::{query, show, Seen};
use crate::server::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/conversations", web::get().to(list))
        .route("/conversations/{id}", web::get().to(detail));
}

/// The filter form: dates as the browser sends them (YYYY-MM-DD).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Filters {
    q: Option<String>,
    participant: Option<String>,
    state: Option<String>,
    source: Option<String>,
    agent_user_id: Option<String>,
    tracker_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
}

/// A date as the start of that day in UTC; the `to` day is included whole.
fn day(date: &Option<String>, next: bool) -> Result<Option<String>, crate::api::error::AppError> {
    let Some(d) = date else { return Ok(None) };
    let parsed = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
        crate::api::error::AppError::BadRequest {
            code: "VALIDATION",
            message: format!("'{d}' is not a date (YYYY-MM-DD)"),
        }
    })?;
    let day = if next {
        parsed.succ_opt().unwrap_or(parsed)
    } else {
        parsed
    };
    Ok(Some(format!("{}T00:00:00Z", day.format("%Y-%m-%d"))))
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ReadConversations>,
) -> HttpResponse {
    let r = req.clone();
    show(&req, who, "conversations.html", "/console/conversations", |who| async move {
        let f: Filters = query(&r)?;
        let q = ListQuery {
            agent_user_id: f.agent_user_id.clone(),
            source: f.source.clone(),
            state: f.state.clone(),
            language: None,
            from: day(&f.from, false)?,
            to: day(&f.to, true)?,
            tracker_id: f.tracker_id.clone(),
            q: f.q.clone(),
            participant: f.participant.clone(),
            limit: Some(25),
            before: f.before.clone(),
        };
        let mut page = list_view(&state, &who, q).await?;
        // The next page keeps the filters and moves the cursor.
        if let Some(next) = page["next_before"].as_str() {
            let kept = url::form_urlencoded::parse(r.query_string().as_bytes())
                .filter(|(k, _)| k != "before")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .chain([("before".to_string(), next.to_string())]);
            let qs = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
            page["next_href"] = json!(format!("/console/conversations?{qs}"));
        }
        page["filters"] = json!({
            "q": f.q, "participant": f.participant, "state": f.state, "source": f.source,
            "agent_user_id": f.agent_user_id, "tracker_id": f.tracker_id, "from": f.from, "to": f.to,
            "paged": f.before.is_some(),
        });
        for c in page["conversations"].as_array_mut().into_iter().flatten() {
            c["title"] = json!(title(c));
        }
        Ok(page)
    })
    .await
}

/// What a person calls a conversation: the ticket's subject, or the call's time.
fn title(c: &Value) -> String {
    if let Some(s) = c["subject"].as_str() {
        return s.to_string();
    }
    let when = c["started_at"]
        .as_str()
        .or(c["created_at"].as_str())
        .unwrap_or("");
    format!(
        "{} {}",
        if c["kind"] == "ticket" {
            "Ticket"
        } else {
            "Call"
        },
        when.get(..16).unwrap_or(when).replace('T', " ")
    )
}

async fn detail(
    state: web::Data<AppState>,
    req: HttpRequest,
    who: Seen<ReadConversations>,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    show(
        &req,
        who,
        "conversation.html",
        "/console/conversations",
        |who| async move {
            let mut c = conversation_view(&state, &who, id.clone()).await?;
            let analysis = analysis_view(&state, &who, id).await?;
            c["title"] = json!(title(&c));
            let segments = c["segments"].take();
            c["transcript"] = json!(segments
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let mut s = s.clone();
                    s["pieces"] = json!(pieces(s["text"].as_str().unwrap_or_default()));
                    s
                })
                .collect::<Vec<_>>());
            c["metric_rows"] = json!(flatten_metrics(&c["metrics"]));
            Ok(json!({ "c": c, "analysis": analysis }))
        },
    )
    .await
}

/// Text split into plain words and redaction placeholders such as `[EMAIL]`, so the
/// page can show placeholders as such (and still escape everything).
fn pieces(text: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(len) = rest[open..].find(']') else {
            break;
        };
        let inner = &rest[open + 1..open + len];
        if inner.is_empty() || !inner.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
            out.push(json!({"text": &rest[..open + 1]}));
            rest = &rest[open + 1..];
            continue;
        }
        if open > 0 {
            out.push(json!({"text": &rest[..open]}));
        }
        out.push(json!({"redacted": inner}));
        rest = &rest[open + len + 1..];
    }
    if !rest.is_empty() {
        out.push(json!({"text": rest}));
    }
    out
}

/// Metrics as label/value rows (nested objects become `outer.inner`).
fn flatten_metrics(m: &Value) -> Vec<Value> {
    let mut rows = Vec::new();
    fn walk(prefix: &str, v: &Value, rows: &mut Vec<Value>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, v, rows);
                }
            }
            Value::Number(n) => {
                let shown = n.as_f64().map_or(n.to_string(), |f| {
                    if f.fract() == 0.0 {
                        format!("{f:.0}")
                    } else {
                        format!("{f:.2}")
                    }
                });
                rows.push(json!({"name": prefix.replace('_', " "), "value": shown}));
            }
            Value::String(s) => rows.push(json!({"name": prefix.replace('_', " "), "value": s})),
            Value::Bool(b) => {
                rows.push(json!({"name": prefix.replace('_', " "), "value": b.to_string()}))
            }
            _ => {}
        }
    }
    walk("", m, &mut rows);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_pieces_of_their_own() {
        let p = pieces("mail me at [EMAIL] or [a] [PHONE]");
        assert_eq!(
            p,
            vec![
                json!({"text": "mail me at "}),
                json!({"redacted": "EMAIL"}),
                json!({"text": " or ["}),
                json!({"text": "a] "}),
                json!({"redacted": "PHONE"}),
            ]
        );
        assert_eq!(pieces("<b>"), vec![json!({"text": "<b>"})]);
    }

    #[test]
    fn metrics_flatten() {
        let rows = flatten_metrics(&json!({"talk_ratio": {"agent": 0.5}, "silence_seconds": 3.0}));
        assert_eq!(rows[0], json!({"name": "silence seconds", "value": "3"}));
        assert_eq!(
            rows[1],
            json!({"name": "talk ratio.agent", "value": "0.50"})
        );
    }
}
