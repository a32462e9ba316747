//! What the LLM produced for conversations, and people's reviews of it. Content
//! (summaries, rationales, quotes, comments) is sealed under the org's key; scores,
//! states and template versions stay in clear for dashboards. Every query takes the org.

use super::schema::{analyses, answer_reviews, scorecard_results};
use super::DbConn;
use crate::keys::{KeyError, OrgCipher};
use diesel::prelude::*;

/// One analysis run of a conversation (the newest is the one in force).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = analyses)]
pub struct AnalysisRow {
    pub id: String,
    pub org_id: String,
    pub conversation_id: String,
    /// `done`, `skipped` (not sent to the LLM; see reason) or `failed`.
    pub state: String,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    /// JSON: summary, sentiment, insights (sealed).
    pub result: Option<String>,
    pub model: Option<String>,
    pub model_sha256: Option<String>,
    pub prompt_version: Option<String>,
    /// JSON: tokens and milliseconds.
    pub timings: Option<String>,
    pub created_at: String,
}

/// A conversation scored with one template version.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = scorecard_results)]
pub struct ResultRow {
    pub id: String,
    pub org_id: String,
    pub conversation_id: String,
    pub template_id: String,
    pub template_version: i32,
    pub agent_user_id: Option<String>,
    pub conversation_at: String,
    /// 0..=100; `None` when no question applied.
    pub score: Option<f64>,
    /// JSON: the answers with rationale and evidence (sealed).
    pub answers: String,
    pub model: String,
    pub prompt_version: String,
    pub created_at: String,
}

/// An override of an answer, or an agent's dispute of one and its resolution.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = answer_reviews)]
pub struct ReviewRow {
    pub id: String,
    pub org_id: String,
    pub result_id: String,
    pub question_id: String,
    /// `override` or `dispute`.
    pub kind: String,
    /// override: `applied`; dispute: `open`, `upheld` (answer changed) or `rejected`.
    pub state: String,
    /// JSON answer value (an override's, or the one an upheld dispute set).
    pub answer: Option<String>,
    /// Sealed.
    pub comment: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    /// Sealed.
    pub resolution: Option<String>,
}

/// Stores a new analysis run; earlier runs of the conversation are replaced.
pub fn save_analysis(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    row: &AnalysisRow,
) -> Result<(), KeyError> {
    let mut r = row.clone();
    r.org_id = cipher.org_id.clone();
    r.result = row
        .result
        .as_deref()
        .map(|p| cipher.seal("analyses", "result", &r.id, p))
        .transpose()?;
    conn.transaction(|conn| {
        diesel::delete(
            analyses::table
                .filter(analyses::org_id.eq(&r.org_id))
                .filter(analyses::conversation_id.eq(&r.conversation_id)),
        )
        .execute(conn)?;
        diesel::insert_into(analyses::table)
            .values(&r)
            .execute(conn)
            .map(drop)
    })?;
    Ok(())
}

/// The analysis in force (result opened).
pub fn analysis_of(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    conversation_id: &str,
) -> Result<Option<AnalysisRow>, KeyError> {
    let row: Option<AnalysisRow> = analyses::table
        .filter(analyses::org_id.eq(&cipher.org_id))
        .filter(analyses::conversation_id.eq(conversation_id))
        .order(analyses::created_at.desc())
        .select(AnalysisRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|mut r| {
        r.result = cipher.open_opt("analyses", "result", &r.id, r.result.as_deref())?;
        Ok(r)
    })
    .transpose()
}

/// The org's finished analyses since `from` (results opened), oldest first, at most
/// 5000 (the dashboard's sentiment trend).
pub fn done_since(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    from: &str,
) -> Result<Vec<AnalysisRow>, KeyError> {
    let rows: Vec<AnalysisRow> = analyses::table
        .filter(analyses::org_id.eq(&cipher.org_id))
        .filter(analyses::state.eq("done"))
        .filter(analyses::created_at.ge(from))
        .order(analyses::created_at.asc())
        .limit(5000)
        .select(AnalysisRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|mut r| {
            r.result = cipher.open_opt("analyses", "result", &r.id, r.result.as_deref())?;
            Ok(r)
        })
        .collect()
}

/// Stores a scorecard result, replacing one of the same conversation and template
/// version that has no reviews (a reviewed result is never thrown away).
pub fn save_result(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    row: &ResultRow,
) -> Result<bool, KeyError> {
    let mut r = row.clone();
    r.org_id = cipher.org_id.clone();
    r.answers = cipher.seal("scorecard_results", "answers", &r.id, &row.answers)?;
    let saved = conn.transaction(|conn| {
        let old: Option<String> = scorecard_results::table
            .filter(scorecard_results::org_id.eq(&r.org_id))
            .filter(scorecard_results::conversation_id.eq(&r.conversation_id))
            .filter(scorecard_results::template_id.eq(&r.template_id))
            .filter(scorecard_results::template_version.eq(r.template_version))
            .select(scorecard_results::id)
            .first(conn)
            .optional()?;
        if let Some(old) = old {
            let reviewed: i64 = answer_reviews::table
                .filter(answer_reviews::result_id.eq(&old))
                .count()
                .get_result(conn)?;
            if reviewed > 0 {
                return Ok::<_, diesel::result::Error>(false);
            }
            diesel::delete(scorecard_results::table.filter(scorecard_results::id.eq(&old)))
                .execute(conn)?;
        }
        diesel::insert_into(scorecard_results::table)
            .values(&r)
            .execute(conn)?;
        Ok(true)
    })?;
    Ok(saved)
}

fn opened(cipher: &OrgCipher, mut r: ResultRow) -> Result<ResultRow, KeyError> {
    r.answers = cipher.open("scorecard_results", "answers", &r.id, &r.answers)?;
    Ok(r)
}

/// A conversation's scorecard results, newest first.
pub fn results_of(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    conversation_id: &str,
) -> Result<Vec<ResultRow>, KeyError> {
    let rows: Vec<ResultRow> = scorecard_results::table
        .filter(scorecard_results::org_id.eq(&cipher.org_id))
        .filter(scorecard_results::conversation_id.eq(conversation_id))
        .order(scorecard_results::created_at.desc())
        .select(ResultRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| opened(cipher, r)).collect()
}

pub fn result(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
) -> Result<Option<ResultRow>, KeyError> {
    let row: Option<ResultRow> = scorecard_results::table
        .filter(scorecard_results::org_id.eq(&cipher.org_id))
        .filter(scorecard_results::id.eq(id))
        .select(ResultRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| opened(cipher, r)).transpose()
}

/// Whether the conversation already has a result of this template version.
pub fn has_result(
    conn: &mut DbConn,
    org_id: &str,
    conversation_id: &str,
    template_id: &str,
    version: i32,
) -> QueryResult<bool> {
    let n: i64 = scorecard_results::table
        .filter(scorecard_results::org_id.eq(org_id))
        .filter(scorecard_results::conversation_id.eq(conversation_id))
        .filter(scorecard_results::template_id.eq(template_id))
        .filter(scorecard_results::template_version.eq(version))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Results of an agent (or all agents) in a period `[from, to)`, oldest first.
pub fn results_in(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    agent: Option<&str>,
    from: &str,
    to: &str,
) -> Result<Vec<ResultRow>, KeyError> {
    let mut q = scorecard_results::table
        .filter(scorecard_results::org_id.eq(&cipher.org_id))
        .filter(scorecard_results::conversation_at.ge(from))
        .filter(scorecard_results::conversation_at.lt(to))
        .into_boxed();
    if let Some(a) = agent {
        q = q.filter(scorecard_results::agent_user_id.eq(a.to_string()));
    }
    let rows: Vec<ResultRow> = q
        .order(scorecard_results::conversation_at.asc())
        .limit(5000)
        .select(ResultRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| opened(cipher, r)).collect()
}

/// Results of one scorecard (all its versions) in a period `[from, to)` that a person
/// reviewed, oldest first.
pub fn reviewed_results(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    template_id: &str,
    from: &str,
    to: &str,
) -> Result<Vec<ResultRow>, KeyError> {
    let reviewed = answer_reviews::table
        .filter(answer_reviews::org_id.eq(&cipher.org_id))
        .select(answer_reviews::result_id);
    let rows: Vec<ResultRow> = scorecard_results::table
        .filter(scorecard_results::org_id.eq(&cipher.org_id))
        .filter(scorecard_results::template_id.eq(template_id))
        .filter(scorecard_results::conversation_at.ge(from))
        .filter(scorecard_results::conversation_at.lt(to))
        .filter(scorecard_results::id.eq_any(reviewed))
        .order(scorecard_results::conversation_at.asc())
        .limit(10_000)
        .select(ResultRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| opened(cipher, r)).collect()
}

pub fn insert_review(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    row: &ReviewRow,
) -> Result<(), KeyError> {
    let mut r = row.clone();
    r.org_id = cipher.org_id.clone();
    r.comment = seal_opt(cipher, "comment", &r.id, row.comment.as_deref())?;
    r.resolution = seal_opt(cipher, "resolution", &r.id, row.resolution.as_deref())?;
    diesel::insert_into(answer_reviews::table)
        .values(&r)
        .execute(conn)?;
    Ok(())
}

fn seal_opt(
    cipher: &OrgCipher,
    column: &str,
    id: &str,
    plain: Option<&str>,
) -> Result<Option<String>, KeyError> {
    plain
        .map(|p| cipher.seal("answer_reviews", column, id, p))
        .transpose()
}

/// The reviews of results (opened), oldest first.
pub fn reviews_of(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    result_ids: &[String],
) -> Result<Vec<ReviewRow>, KeyError> {
    let rows: Vec<ReviewRow> = answer_reviews::table
        .filter(answer_reviews::org_id.eq(&cipher.org_id))
        .filter(answer_reviews::result_id.eq_any(result_ids))
        .order(answer_reviews::created_at.asc())
        .select(ReviewRow::as_select())
        .load(conn)?;
    rows.into_iter().map(|r| open_review(cipher, r)).collect()
}

fn open_review(cipher: &OrgCipher, mut r: ReviewRow) -> Result<ReviewRow, KeyError> {
    let open = |column, v: Option<&str>| cipher.open_opt("answer_reviews", column, &r.id, v);
    let comment = open("comment", r.comment.as_deref())?;
    let resolution = open("resolution", r.resolution.as_deref())?;
    r.comment = comment;
    r.resolution = resolution;
    Ok(r)
}

/// One review of the org (opened).
pub fn review(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    id: &str,
) -> Result<Option<ReviewRow>, KeyError> {
    let row: Option<ReviewRow> = answer_reviews::table
        .filter(answer_reviews::org_id.eq(&cipher.org_id))
        .filter(answer_reviews::id.eq(id))
        .select(ReviewRow::as_select())
        .first(conn)
        .optional()?;
    row.map(|r| open_review(cipher, r)).transpose()
}

/// How a dispute ended.
pub struct Resolution<'a> {
    /// `upheld` or `rejected`.
    pub state: &'a str,
    pub by: &'a str,
    pub at: &'a str,
    pub comment: Option<&'a str>,
    /// JSON answer an upheld dispute sets.
    pub answer: Option<&'a str>,
}

/// Resolves an open dispute; 0 when it is not open (or not the org's).
pub fn resolve(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    review_id: &str,
    r: &Resolution,
) -> Result<usize, KeyError> {
    let sealed = seal_opt(cipher, "resolution", review_id, r.comment)?;
    Ok(diesel::update(
        answer_reviews::table
            .filter(answer_reviews::org_id.eq(&cipher.org_id))
            .filter(answer_reviews::id.eq(review_id))
            .filter(answer_reviews::state.eq("open")),
    )
    .set((
        answer_reviews::state.eq(r.state),
        answer_reviews::resolved_by.eq(r.by),
        answer_reviews::resolved_at.eq(r.at),
        answer_reviews::resolution.eq(sealed),
        answer_reviews::answer.eq(r.answer),
    ))
    .execute(conn)?)
}

/// Re-seals a conversation's analysis content under the active key (key rotation).
pub fn reseal(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    conversation_id: &str,
) -> Result<usize, KeyError> {
    let org = cipher.org_id.clone();
    let mut changed = 0;
    let runs: Vec<(String, Option<String>)> = analyses::table
        .filter(analyses::org_id.eq(&org))
        .filter(analyses::conversation_id.eq(conversation_id))
        .select((analyses::id, analyses::result))
        .load(conn)?;
    for (id, stored) in runs {
        if let Some(s) = stored {
            if let Some(new) = cipher.reseal("analyses", "result", &id, &s)? {
                diesel::update(analyses::table.find(&id))
                    .set(analyses::result.eq(new))
                    .execute(conn)?;
                changed += 1;
            }
        }
    }
    let results: Vec<(String, String)> = scorecard_results::table
        .filter(scorecard_results::org_id.eq(&org))
        .filter(scorecard_results::conversation_id.eq(conversation_id))
        .select((scorecard_results::id, scorecard_results::answers))
        .load(conn)?;
    for (id, stored) in &results {
        if let Some(new) = cipher.reseal("scorecard_results", "answers", id, stored)? {
            diesel::update(scorecard_results::table.find(id))
                .set(scorecard_results::answers.eq(new))
                .execute(conn)?;
            changed += 1;
        }
        let reviews: Vec<(String, Option<String>, Option<String>)> = answer_reviews::table
            .filter(answer_reviews::result_id.eq(id))
            .select((
                answer_reviews::id,
                answer_reviews::comment,
                answer_reviews::resolution,
            ))
            .load(conn)?;
        for (rid, comment, resolution) in reviews {
            if let Some(c) = comment {
                if let Some(new) = cipher.reseal("answer_reviews", "comment", &rid, &c)? {
                    diesel::update(answer_reviews::table.find(&rid))
                        .set(answer_reviews::comment.eq(new))
                        .execute(conn)?;
                    changed += 1;
                }
            }
            if let Some(c) = resolution {
                if let Some(new) = cipher.reseal("answer_reviews", "resolution", &rid, &c)? {
                    diesel::update(answer_reviews::table.find(&rid))
                        .set(answer_reviews::resolution.eq(new))
                        .execute(conn)?;
                    changed += 1;
                }
            }
        }
    }
    Ok(changed)
}

/// Retention of processed data: each analysis keeps only the figures dashboards
/// average (sentiment scores), each scorecard result only its score (answers and
/// evidence go). Answers how many analyses and results were scrubbed.
pub fn scrub(
    conn: &mut DbConn,
    cipher: &OrgCipher,
    conversation_id: &str,
) -> Result<(usize, usize), KeyError> {
    let org = cipher.org_id.clone();
    let runs: Vec<(String, Option<String>)> = analyses::table
        .filter(analyses::org_id.eq(&org))
        .filter(analyses::conversation_id.eq(conversation_id))
        .select((analyses::id, analyses::result))
        .load(conn)?;
    for (id, stored) in &runs {
        let kept = match stored {
            Some(s) => {
                let full: serde_json::Value =
                    serde_json::from_str(&cipher.open("analyses", "result", id, s)?)
                        .unwrap_or_default();
                let mut sentiment = serde_json::Map::new();
                for who in ["customer", "agent"] {
                    if let Some(score) = full["sentiment"][who]["score"].as_f64() {
                        sentiment.insert(who.into(), serde_json::json!({ "score": score }));
                    }
                }
                let kept = serde_json::json!({"purged": true, "sentiment": sentiment});
                Some(cipher.seal("analyses", "result", id, &kept.to_string())?)
            }
            None => None,
        };
        diesel::update(analyses::table.find(id))
            .set((
                analyses::result.eq(kept),
                analyses::reason.eq(None::<String>),
            ))
            .execute(conn)?;
    }
    let results: Vec<String> = scorecard_results::table
        .filter(scorecard_results::org_id.eq(&org))
        .filter(scorecard_results::conversation_id.eq(conversation_id))
        .select(scorecard_results::id)
        .load(conn)?;
    for id in &results {
        let empty = cipher.seal("scorecard_results", "answers", id, "[]")?;
        diesel::update(scorecard_results::table.find(id))
            .set(scorecard_results::answers.eq(empty))
            .execute(conn)?;
    }
    Ok((runs.len(), results.len()))
}

/// Deletes every AI result about a conversation (analyses, scorecard results and
/// their reviews); answers how many analyses and results went.
pub fn delete_ai(
    conn: &mut DbConn,
    org_id: &str,
    conversation_id: &str,
) -> QueryResult<(usize, usize)> {
    let a = diesel::delete(
        analyses::table
            .filter(analyses::org_id.eq(org_id))
            .filter(analyses::conversation_id.eq(conversation_id)),
    )
    .execute(conn)?;
    let r = diesel::delete(
        scorecard_results::table
            .filter(scorecard_results::org_id.eq(org_id))
            .filter(scorecard_results::conversation_id.eq(conversation_id)),
    )
    .execute(conn)?;
    Ok((a, r))
}
