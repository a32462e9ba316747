//! A conversation's AI analysis and its human review: read it (with the answers in
//! force after overrides and upheld disputes), run it again, override an answer
//! (reviewers), dispute one (anyone who sees the conversation, e.g. its agent) and
//! resolve a dispute (reviewers). Every read and change is audited.

use super::audited::audited;
use super::auth::{Authed, Ingest, ReadConversations, ReviewScores};
use super::conversations::{cipher_of, visible};
use super::error::{AppError, AppResult};
use crate::domain::review::{in_force, Applied};
use crate::domain::scorecard::{self, Template};
use crate::domain::time::stamp;
use crate::identity::Principal;
use crate::keys::OrgCipher;
use crate::server::AppState;
use crate::store::analyses::{self, ResultRow, ReviewRow};
use crate::store::identity::new_id;
use crate::store::{conversations, jobs, templates, DbConn};
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/conversations/{id}/analysis", web::get().to(read))
        .route("/conversations/{id}/analyze", web::post().to(analyze_again))
        .route(
            "/scorecard-results/{id}/override",
            web::post().to(override_answer),
        )
        .route("/scorecard-results/{id}/dispute", web::post().to(dispute))
        .route("/reviews/{id}/resolve", web::post().to(resolve))
        .route("/batches/{id}", web::get().to(batch));
}

fn parsed(s: Option<&str>) -> Value {
    s.and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// The template version a result used.
fn template_of(conn: &mut DbConn, org: &str, r: &ResultRow) -> AppResult<Option<Template>> {
    Ok(templates::get(
        conn,
        org,
        "scorecard",
        &r.template_id,
        Some(r.template_version),
    )?
    .and_then(|t| serde_json::from_str(&t.definition).ok())
    .and_then(|v| scorecard::parse(&v).ok()))
}

fn review_view(r: &ReviewRow) -> Value {
    json!({
        "id": r.id, "question_id": r.question_id, "kind": r.kind, "state": r.state,
        "answer": parsed(r.answer.as_deref()), "comment": r.comment,
        "created_by": r.created_by, "created_at": r.created_at,
        "resolved_by": r.resolved_by, "resolved_at": r.resolved_at, "resolution": r.resolution,
    })
}

/// The reviews of result `result_id` as they bear on its answers.
pub(super) fn applied_to<'a>(reviews: &'a [ReviewRow], result_id: &str) -> Vec<Applied<'a>> {
    reviews
        .iter()
        .filter(|v| v.result_id == result_id)
        .map(|v| Applied {
            question_id: &v.question_id,
            kind: &v.kind,
            state: &v.state,
            answer: v
                .answer
                .as_deref()
                .and_then(|a| serde_json::from_str(a).ok()),
        })
        .collect()
}

/// A result with its answers in force, the model's answers and the reviews.
pub(super) fn result_view(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    r: &ResultRow,
    reviews: &[ReviewRow],
) -> AppResult<Value> {
    let template = template_of(conn, &cipher.org_id, r)?;
    let applied = applied_to(reviews, &r.id);
    let model_answers: Vec<Value> = serde_json::from_str(&r.answers).unwrap_or_default();
    let mut answers = Vec::new();
    for a in &model_answers {
        let qid = a["question_id"].as_str().unwrap_or_default();
        let now = in_force(qid, &a["answer"], &applied);
        let question = template.as_ref().and_then(|t| t.question(qid));
        let mut view = a.clone();
        view["model_answer"] = a["answer"].clone();
        view["score"] = json!(question.and_then(|q| q.score(&now)));
        view["answer"] = now;
        view["question"] = json!(question.map(|q| &q.text));
        view["reviews"] = json!(reviews
            .iter()
            .filter(|v| v.result_id == r.id && v.question_id == qid)
            .map(review_view)
            .collect::<Vec<_>>());
        answers.push(view);
    }
    let score = template.as_ref().and_then(|t| {
        scorecard::total(t, &|id| {
            answers
                .iter()
                .find(|a| a["question_id"] == id)
                .map(|a| a["answer"].clone())
        })
    });
    Ok(json!({
        "id": r.id, "template_id": r.template_id, "version": r.template_version,
        "name": template.as_ref().map(|t| &t.name),
        "score": score, "model_score": r.score, "model": r.model,
        "prompt_version": r.prompt_version, "created_at": r.created_at, "answers": answers,
    }))
}

fn visible_conversation(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    who: &Principal,
    id: &str,
) -> AppResult<conversations::Conversation> {
    conversations::get(conn, cipher, id)?
        .filter(|c| visible(who, c))
        .ok_or(AppError::NotFound)
}

async fn read(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(analysis_view(&state, &who, path.into_inner()).await?))
}

/// A conversation's analysis: overview, sentiment, insights, scorecards with their
/// answers in force and reviews, and the job (audited).
pub(crate) async fn analysis_view(
    state: &AppState,
    who: &Authed<ReadConversations>,
    id: String,
) -> AppResult<Value> {
    let cipher = cipher_of(state, &who.principal.org_id).await?;
    let principal = who.principal.clone();
    audited(state, &who.principal, &who.ip, "analysis.read", ("conversation", id.clone()), move |conn| {
        visible_conversation(conn, &cipher, &principal, &id)?;
        let run = analyses::analysis_of(conn, &cipher, &id)?;
        let results = analyses::results_of(conn, &cipher, &id)?;
        let ids: Vec<String> = results.iter().map(|r| r.id.clone()).collect();
        let reviews = analyses::reviews_of(conn, &cipher, &ids)?;
        let mut cards = Vec::new();
        for r in &results {
            cards.push(result_view(conn, &cipher, r, &reviews)?);
        }
        let job = jobs::of_conversation(conn, &cipher.org_id, &id)?;
        let content = parsed(run.as_ref().and_then(|r| r.result.as_deref()));
        Ok(json!({
            "conversation_id": id,
            "state": run.as_ref().map_or("pending", |r| r.state.as_str()),
            "reason_code": run.as_ref().and_then(|r| r.reason_code.clone()),
            "reason": run.as_ref().and_then(|r| r.reason.clone()),
            "model": run.as_ref().and_then(|r| r.model.clone()),
            "model_sha256": run.as_ref().and_then(|r| r.model_sha256.clone()),
            "prompt_version": run.as_ref().and_then(|r| r.prompt_version.clone()),
            "timings": parsed(run.as_ref().and_then(|r| r.timings.as_deref())),
            "created_at": run.as_ref().map(|r| r.created_at.clone()),
            "overview": content["overview"], "sentiment": content["sentiment"],
            "insights": content["insights"], "scorecards": cards,
            "job": job.map(|j| json!({"id": j.id, "kind": j.kind, "state": j.state, "stage": j.stage, "progress": j.progress})),
        }))
    })
    .await
}

/// Queues the conversation's analysis again (e.g. after settings or templates changed).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AnalyzeBody {
    /// Only this scorecard's newest version (e.g. to try a new version on one call).
    scorecard_id: Option<String>,
}

async fn analyze_again(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    path: web::Path<String>,
    body: Option<web::Json<AnalyzeBody>>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let only = body
        .map(|b| b.into_inner())
        .unwrap_or_default()
        .scorecard_id;
    let org = who.principal.org_id.clone();
    let now = stamp(state.clock.now());
    let job = audited(
        &state,
        &who.principal,
        &who.ip,
        "analysis.queue",
        ("conversation", id.clone()),
        move |conn| {
            let c = conversations::get_sealed(conn, &org, &id)?.ok_or(AppError::NotFound)?;
            if c.state != "ready" {
                return Err(AppError::Conflict {
                    code: "NOT_READY",
                    message: format!(
                        "the conversation is {}; it can be analysed once it is ready",
                        c.state
                    ),
                });
            }
            let mut job = crate::pipeline::ingest::new_job(&org, &id, &now);
            job.kind = "analyze".into();
            if let Some(card) = &only {
                let t = templates::get(conn, &org, "scorecard", card, None)?
                    .filter(|t| t.retired_at.is_none())
                    .ok_or_else(|| AppError::Unprocessable {
                        code: "VALIDATION",
                        message: format!(
                            "scorecard_id '{card}' is not a current scorecard of this organization"
                        ),
                    })?;
                job.params =
                    Some(json!({"template_id": t.template_id, "version": t.version}).to_string());
            }
            jobs::insert(conn, &job)?;
            Ok(job)
        },
    )
    .await?;
    Ok(HttpResponse::Accepted().json(json!({"job_id": job.id})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideBody {
    question_id: String,
    answer: Value,
    comment: Option<String>,
}

fn check_comment(c: &Option<String>, required: bool) -> AppResult<()> {
    let bad = match c {
        None => required,
        Some(t) => t.trim().is_empty() || t.chars().count() > 2000,
    };
    if bad {
        return Err(AppError::Unprocessable {
            code: "VALIDATION",
            message: format!(
                "comment must be 1..=2000 characters{}",
                if required { " and is required" } else { "" }
            ),
        });
    }
    Ok(())
}

/// The result (visible to the caller) and its template question `qid`; checks `answer`.
fn question_of(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    who: &Principal,
    result_id: &str,
    qid: &str,
    answer: Option<&Value>,
) -> AppResult<ResultRow> {
    let r = analyses::result(conn, cipher, result_id)?.ok_or(AppError::NotFound)?;
    visible_conversation(conn, cipher, who, &r.conversation_id)?;
    let t = template_of(conn, &cipher.org_id, &r)?.ok_or(AppError::NotFound)?;
    let q = t.question(qid).ok_or_else(|| AppError::Unprocessable {
        code: "VALIDATION",
        message: format!("question_id '{qid}' is not a question of this scorecard"),
    })?;
    if let Some(a) = answer {
        if !q.accepts(a) {
            return Err(AppError::Unprocessable {
                code: "VALIDATION",
                message: format!("answer {a} is not allowed for question '{qid}'"),
            });
        }
    }
    Ok(r)
}

fn review(
    p: &Principal,
    result: &str,
    qid: String,
    kind: &str,
    state: &str,
    now: String,
) -> ReviewRow {
    ReviewRow {
        id: new_id(),
        org_id: p.org_id.clone(),
        result_id: result.to_string(),
        question_id: qid,
        kind: kind.into(),
        state: state.into(),
        answer: None,
        comment: None,
        created_by: p.user_id.clone().unwrap_or_else(|| p.actor.clone()),
        created_at: now,
        resolved_by: None,
        resolved_at: None,
        resolution: None,
    }
}

/// A review to add to one answer of a result.
struct NewReview {
    question_id: String,
    answer: Option<Value>,
    comment: Option<String>,
    /// `override` (state `applied`) or `dispute` (state `open`).
    kind: &'static str,
}

/// Checks the result is visible and the question and answer fit, then stores `new`.
async fn add_review(
    state: web::Data<AppState>,
    who: &Principal,
    ip: &str,
    result_id: String,
    new: NewReview,
) -> AppResult<HttpResponse> {
    let cipher = cipher_of(&state, &who.org_id).await?;
    let p = who.clone();
    let now = stamp(state.clock.now());
    let (action, initial) = if new.kind == "override" {
        ("score.override", "applied")
    } else {
        ("score.dispute", "open")
    };
    let object = ("scorecard_result", result_id.clone());
    let row = audited(&state, who, ip, action, object, move |conn| {
        let answer = new.answer.as_ref();
        question_of(conn, &cipher, &p, &result_id, &new.question_id, answer)?;
        let mut r = review(&p, &result_id, new.question_id, new.kind, initial, now);
        r.answer = new.answer.map(|a| a.to_string());
        r.comment = new.comment;
        analyses::insert_review(conn, &cipher, &r)?;
        Ok(r)
    })
    .await?;
    Ok(HttpResponse::Created().json(review_view(&row)))
}

async fn override_answer(
    state: web::Data<AppState>,
    who: Authed<ReviewScores>,
    path: web::Path<String>,
    body: web::Json<OverrideBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    check_comment(&body.comment, false)?;
    let new = NewReview {
        question_id: body.question_id,
        answer: Some(body.answer),
        comment: body.comment,
        kind: "override",
    };
    add_review(state, &who.principal, &who.ip, path.into_inner(), new).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DisputeBody {
    question_id: String,
    comment: Option<String>,
}

async fn dispute(
    state: web::Data<AppState>,
    who: Authed<ReadConversations>,
    path: web::Path<String>,
    body: web::Json<DisputeBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    check_comment(&body.comment, true)?;
    let new = NewReview {
        question_id: body.question_id,
        answer: None,
        comment: body.comment,
        kind: "dispute",
    };
    add_review(state, &who.principal, &who.ip, path.into_inner(), new).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    /// `upheld` (the agent is right; give the new `answer`) or `rejected`.
    decision: String,
    answer: Option<Value>,
    comment: Option<String>,
}

async fn resolve(
    state: web::Data<AppState>,
    who: Authed<ReviewScores>,
    path: web::Path<String>,
    body: web::Json<ResolveBody>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner();
    check_comment(&body.comment, false)?;
    let bad = |m: &str| AppError::Unprocessable {
        code: "VALIDATION",
        message: m.into(),
    };
    match (body.decision.as_str(), &body.answer) {
        ("upheld", Some(_)) | ("rejected", None) => {}
        ("upheld", None) => return Err(bad("an upheld dispute needs the corrected answer")),
        ("rejected", Some(_)) => {
            return Err(bad("a rejected dispute keeps the answer; leave answer out"))
        }
        _ => return Err(bad("decision must be upheld or rejected")),
    }
    let id = path.into_inner();
    let cipher = cipher_of(&state, &who.principal.org_id).await?;
    let p = who.principal.clone();
    let now = stamp(state.clock.now());
    audited(
        &state,
        &who.principal,
        &who.ip,
        "score.dispute_resolve",
        ("review", id.clone()),
        move |conn| {
            let open: Vec<ReviewRow> = analyses::review(conn, &cipher, &id)?.into_iter().collect();
            let r = open.first().ok_or(AppError::NotFound)?;
            if r.kind != "dispute" || r.state != "open" {
                return Err(AppError::Conflict {
                    code: "NOT_OPEN",
                    message: "only an open dispute can be resolved".into(),
                });
            }
            question_of(
                conn,
                &cipher,
                &p,
                &r.result_id,
                &r.question_id,
                body.answer.as_ref(),
            )?;
            let by = p.user_id.clone().unwrap_or_else(|| p.actor.clone());
            let answer = body.answer.as_ref().map(Value::to_string);
            let resolution = analyses::Resolution {
                state: &body.decision,
                by: &by,
                at: &now,
                comment: body.comment.as_deref(),
                answer: answer.as_deref(),
            };
            analyses::resolve(conn, &cipher, &id, &resolution)?;
            Ok(())
        },
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Progress of jobs queued together (a re-score).
async fn batch(
    state: web::Data<AppState>,
    who: Authed<Ingest>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let org = who.principal.org_id.clone();
    let batch_id = id.clone();
    let counts = audited(
        &state,
        &who.principal,
        &who.ip,
        "batch.read",
        ("batch", id.clone()),
        move |conn| {
            let counts = jobs::batch_counts(conn, &org, &batch_id)?;
            if counts.is_empty() {
                return Err(AppError::NotFound);
            }
            Ok(counts)
        },
    )
    .await?;
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let ended: i64 = counts
        .iter()
        .filter(|(s, _)| matches!(s.as_str(), "done" | "failed" | "cancelled"))
        .map(|(_, n)| n)
        .sum();
    let by_state: serde_json::Map<String, Value> =
        counts.into_iter().map(|(s, n)| (s, json!(n))).collect();
    Ok(HttpResponse::Ok().json(json!({
        "id": id, "total": total, "states": by_state,
        "progress": if total == 0 { 100 } else { ended * 100 / total },
        "finished": ended == total,
    })))
}
