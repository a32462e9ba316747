//! The route inventory: every route the server has, what it needs, and a harmless body.
//! Tests check the inventory against the source, every role against every route (the
//! permission matrix), and every route as org A against org B's objects (isolation).

use crate::identity::{bootstrap, code, login, post, text_analysis_off, Session, OWNER_PW};
use crate::support::{backends, client, Backend, TestEnv, TestServer};
use insite::domain::roles::{allows, Permission, Role};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Who may call a route.
#[derive(Clone, Copy, Debug)]
enum Access {
    /// No sign-in (probes, sign-in itself, invitation links).
    Public,
    /// Signed in with this permission.
    Needs(Permission),
    /// A console page (HTML) that needs this permission: 403 page otherwise.
    Page(Permission),
}

struct Route {
    method: &'static str,
    /// As registered; `{id}` is an object of the caller's org.
    path: &'static str,
    access: Access,
    /// A request body that changes nothing irreversible (unique per call via `n`).
    body: fn(usize) -> Value,
}

fn none(_: usize) -> Value {
    Value::Null
}

use Access::{Needs, Page, Public};
use Permission::{
    HandleSubjectRequests, Ingest, ManageSettings, ManageUsers, ReadAllConversations, ReadAudit,
    ReadOwnConversations, ReviewScores, UseOwnAccount,
};

/// Every route, in the order the walks take them (sign-out last: it ends the session).
const ROUTES: &[Route] = &[
    Route {
        method: "GET",
        path: "/healthz",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/readyz",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/metrics",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/openapi.json",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/version",
        access: Public,
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/auth/login",
        access: Public,
        body: |_| json!({"email": "nobody@x.test", "password": "wrong-password-1"}),
    },
    Route {
        method: "GET",
        path: "/invite",
        access: Public,
        body: none,
    },
    Route {
        method: "POST",
        path: "/invite",
        access: Public,
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/invites/accept",
        access: Public,
        body: |_| json!({"token": "inv_unknown", "password": "x"}),
    },
    Route {
        method: "GET",
        path: "/api/v1/me",
        access: Needs(UseOwnAccount),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/me/sessions",
        access: Needs(UseOwnAccount),
        body: none,
    },
    Route {
        method: "DELETE",
        path: "/api/v1/me/sessions/{id}",
        access: Needs(UseOwnAccount),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/me/totp/setup",
        access: Needs(UseOwnAccount),
        body: |_| json!({"password": "not-the-password"}),
    },
    Route {
        method: "POST",
        path: "/api/v1/me/totp/enable",
        access: Needs(UseOwnAccount),
        body: |_| json!({"code": "000000"}),
    },
    Route {
        method: "POST",
        path: "/api/v1/me/password",
        access: Needs(UseOwnAccount),
        body: |_| json!({"current_password": "not-the-password", "new_password": "violet-canyon-river-2"}),
    },
    Route {
        method: "GET",
        path: "/api/v1/org",
        access: Needs(UseOwnAccount),
        body: none,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/org",
        access: Needs(ManageSettings),
        body: |_| json!({"require_totp": false}),
    },
    Route {
        method: "GET",
        path: "/api/v1/users",
        access: Needs(ManageUsers),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/users",
        access: Needs(ManageUsers),
        body: |n| json!({"email": format!("walk{n}@a.test"), "role": "agent", "password": "violet-canyon-river"}),
    },
    Route {
        method: "GET",
        path: "/api/v1/users/{id}",
        access: Needs(ManageUsers),
        body: none,
    },
    Route {
        method: "PATCH",
        path: "/api/v1/users/{id}",
        access: Needs(ManageUsers),
        body: |_| json!({"role": "agent"}),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/users/{id}",
        access: Needs(ManageUsers),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/tokens",
        access: Needs(ManageUsers),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/tokens",
        access: Needs(ManageUsers),
        body: |n| json!({"name": format!("walk{n}"), "role": "agent", "password": "not-the-password"}),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/tokens/{id}",
        access: Needs(ManageUsers),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/invites",
        access: Needs(ManageUsers),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/invites",
        access: Needs(ManageUsers),
        body: |n| json!({"email": format!("invitee{n}@a.test"), "role": "reviewer"}),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/invites/{id}",
        access: Needs(ManageUsers),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/audit",
        access: Needs(ReadAudit),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/audit/export",
        access: Needs(ReadAudit),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/conversations",
        access: Needs(Ingest),
        body: |_| json!({"not": "multipart"}),
    },
    Route {
        method: "GET",
        path: "/api/v1/conversations",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/conversations/{id}",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/conversations/{id}/audio",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/tickets",
        access: Needs(Ingest),
        body: |n| json!({"external_id": format!("walk-{n}"), "subject": "walk", "messages": [{"author": "a", "at": "2026-11-20T09:00:00Z", "text": format!("walk {n}")}]}),
    },
    Route {
        method: "GET",
        path: "/api/v1/jobs",
        access: Needs(Ingest),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/jobs/{id}",
        access: Needs(Ingest),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/jobs/{id}/cancel",
        access: Needs(Ingest),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/jobs/{id}/retry",
        access: Needs(Ingest),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/trackers",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/trackers",
        access: Needs(ManageSettings),
        body: |n| json!({"name": format!("walk {n}"), "phrases": ["refund"]}),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/trackers/{id}",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/scorecards",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/scorecards",
        access: Needs(ManageSettings),
        body: |n| json!({"definition": {"name": format!("walk {n}"), "sections": [{"title": "S", "questions": [{"id": "q", "text": "Q?", "type": "yes_no"}]}]}}),
    },
    Route {
        method: "GET",
        path: "/api/v1/scorecard-builtins",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/scorecards/{id}",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "PUT",
        path: "/api/v1/scorecards/{id}",
        access: Needs(ManageSettings),
        body: |n| json!({"definition": {"name": format!("walk {n}"), "sections": [{"title": "S", "questions": [{"id": "q", "text": "Q?", "type": "yes_no"}]}]}}),
    },
    Route {
        method: "POST",
        path: "/api/v1/scorecards/{id}/rescore",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "DELETE",
        path: "/api/v1/scorecards/{id}",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/insights",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/insights",
        access: Needs(ManageSettings),
        body: |n| json!({"definition": {"key": format!("walk_{n}"), "question": "Q?", "type": "boolean"}}),
    },
    Route {
        method: "PUT",
        path: "/api/v1/insights/{id}",
        access: Needs(ManageSettings),
        body: |n| json!({"definition": {"key": format!("walk_{n}"), "question": "Q?", "type": "boolean"}}),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/insights/{id}",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/conversations/{id}/analysis",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/conversations/{id}/analyze",
        access: Needs(Ingest),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/scorecard-results/{id}/override",
        access: Needs(ReviewScores),
        body: |_| json!({"question_id": "q", "answer": "yes"}),
    },
    Route {
        method: "POST",
        path: "/api/v1/scorecard-results/{id}/dispute",
        access: Needs(ReadOwnConversations),
        body: |_| json!({"question_id": "q", "comment": "I did greet her"}),
    },
    Route {
        method: "POST",
        path: "/api/v1/reviews/{id}/resolve",
        access: Needs(ReviewScores),
        body: |_| json!({"decision": "rejected"}),
    },
    Route {
        method: "GET",
        path: "/api/v1/batches/{id}",
        access: Needs(Ingest),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/dashboard",
        access: Needs(ReadAllConversations),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/retention",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "PUT",
        path: "/api/v1/retention",
        access: Needs(ManageSettings),
        body: |n| json!({"audit_days": 90 + n}),
    },
    Route {
        method: "POST",
        path: "/api/v1/retention/purge",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/legal-holds",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/legal-holds",
        access: Needs(HandleSubjectRequests),
        body: |n| json!({"scope": "org", "reason": format!("walk {n}")}),
    },
    Route {
        method: "POST",
        path: "/api/v1/legal-holds/{id}/release",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/subjects",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/subjects/{id}",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/subjects/{id}/requests",
        access: Needs(HandleSubjectRequests),
        body: |_| json!({"kind": "access", "requester": "walk"}),
    },
    Route {
        method: "GET",
        path: "/api/v1/subject-requests",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/subject-requests/{id}",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/subject-requests/{id}/archive",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/compliance/records-of-processing",
        access: Needs(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/console",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/login",
        access: Public,
        body: none,
    },
    Route {
        method: "POST",
        path: "/console/login",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/assets/app.js",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/assets/app.css",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/",
        access: Page(UseOwnAccount),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/conversations",
        access: Page(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/conversations/{id}",
        access: Page(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/retention",
        access: Page(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/subjects",
        access: Page(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/subjects/{id}",
        access: Page(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/records",
        access: Page(HandleSubjectRequests),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/scorecards",
        access: Page(ReviewScores),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/scorecards/{id}",
        access: Page(ReviewScores),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/users",
        access: Page(ManageUsers),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/settings",
        access: Page(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/audit",
        access: Page(ReadAudit),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/system",
        access: Page(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/account",
        access: Page(UseOwnAccount),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/scorecards/{id}/agreement",
        access: Needs(ReviewScores),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/coaching",
        access: Needs(ReadOwnConversations),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/integrations",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/integrations",
        access: Needs(ManageSettings),
        body: |n| {
            json!({"kind": "zendesk", "name": format!("walk {n}"),
                "settings": {"base_url": "https://127.0.0.1:9"}, "credentials": {"oauth_token": "walk-token"}})
        },
    },
    Route {
        method: "PUT",
        path: "/api/v1/integrations/{id}/credentials",
        access: Needs(ManageSettings),
        body: |_| json!({"credentials": {"oauth_token": "walk-token-2"}}),
    },
    Route {
        method: "DELETE",
        path: "/api/v1/integrations/{id}",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/integrations/{id}/test",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/integrations/{id}/sync",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/egress-log",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/alert-rules",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/alert-rules",
        access: Needs(ManageSettings),
        body: |n| {
            json!({"name": format!("walk {n}"), "condition": {"kind": "negative_sentiment"},
                "integration_id": "00000000-0000-4000-8000-000000000000"})
        },
    },
    Route {
        method: "DELETE",
        path: "/api/v1/alert-rules/{id}",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "GET",
        path: "/api/v1/alerts",
        access: Needs(ManageSettings),
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/hooks/{id}",
        access: Public,
        body: none,
    },
    Route {
        method: "GET",
        path: "/console/integrations",
        access: Page(ManageSettings),
        body: none,
    },
    Route {
        method: "POST",
        path: "/console/logout",
        access: Public,
        body: none,
    },
    Route {
        method: "POST",
        path: "/api/v1/auth/logout",
        access: Needs(UseOwnAccount),
        body: none,
    },
];

/// `(METHOD, path)` pairs registered in `src/api` (under /api/v1, probes at the root)
/// and `src/console` (under /console; its `mod.rs` and the invitation page at the
/// root), read from the `.route("…", web::method()` calls.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = BTreeSet::new();
    for (dir, prefix) in [
        ("api", "/api/v1"),
        ("console", "/console"),
        ("console/pages", "/console"),
    ] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().map_or(true, |e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let at_root = path.ends_with("health.rs")
                || (dir == "console" && (path.ends_with("mod.rs") || path.ends_with("invite.rs")));
            let prefix = if at_root { "" } else { prefix };
            // rustfmt may break a call over lines: join whitespace first.
            let flat: String = text.split_whitespace().collect::<Vec<_>>().join("");
            for call in flat.split(".route(\"").skip(1) {
                let (route, rest) = call.split_once('"').unwrap();
                let method = rest
                    .strip_prefix(",web::")
                    .and_then(|r| r.split_once('('))
                    .map(|(m, _)| m.to_uppercase())
                    .unwrap_or_else(|| panic!("unreadable route {route} in {path:?}"));
                found.insert((method, format!("{prefix}{route}")));
            }
        }
    }
    found
}

#[test]
fn the_inventory_lists_exactly_the_routes_in_the_source() {
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(listed.len(), ROUTES.len(), "a route is listed twice");
    let source = routes_in_source();
    assert!(
        source.len() >= 25,
        "the source scan found too little: {source:?}"
    );
    let missing: Vec<_> = source.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&source).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "add to ROUTES: {missing:?}; remove from ROUTES: {stale:?}"
    );
}

/// The served OpenAPI document lists the same routes, and marks exactly the public
/// ones as needing no sign-in.
#[test]
fn the_openapi_document_describes_every_route() {
    let env = TestEnv::new(Backend::Sqlite);
    let s = TestServer::start(env.config.clone());
    let doc: Value = client()
        .get(s.url("/api/v1/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let public = op["security"] == json!([]);
            documented.insert((method.to_uppercase(), path.clone(), public));
        }
    }
    let listed: BTreeSet<(String, String, bool)> = ROUTES
        .iter()
        // The console's pages are HTML for people, not part of the API description.
        .filter(|r| !r.path.starts_with("/console") && r.path != "/")
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                matches!(r.access, Public),
            )
        })
        .collect();
    let missing: Vec<_> = listed.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "document in src/api/openapi.json: {missing:?}; not routes: {stale:?}"
    );
}

fn send(
    c: &Client,
    s: &TestServer,
    who: &Session,
    method: &str,
    path: &str,
    body: Value,
) -> reqwest::blocking::Response {
    let mut req = c
        .request(method.parse().unwrap(), s.url(path))
        .header("cookie", &who.cookie)
        .header("x-csrf-token", &who.csrf);
    if !body.is_null() {
        req = req.json(&body);
    }
    req.send().unwrap()
}

/// Every role against every signed-in route: 403 exactly where the matrix says no.
#[test]
fn every_role_on_every_route_follows_the_permission_matrix() {
    let env = TestEnv::new(Backend::Sqlite);
    bootstrap(&env, "Acme", "owner@acme.test");
    let s = TestServer::start(env.config.clone());
    let c = client();
    let owner = login(&c, &s, "owner@acme.test", OWNER_PW).unwrap();
    text_analysis_off(&c, &s.base, &owner);
    let mut n = 0;
    for role in Role::ALL {
        let email = format!("{role}@acme.test");
        let who = if role == Role::Owner {
            login(&c, &s, "owner@acme.test", OWNER_PW)
        } else {
            let body =
                json!({"email": email, "role": role.as_str(), "password": "violet-canyon-river"});
            assert_eq!(post(&c, &s, &owner, "/api/v1/users", body).status(), 201);
            login(&c, &s, &email, "violet-canyon-river")
        }
        .unwrap();
        for route in ROUTES {
            if let Page(need) = route.access {
                // Pages answer with HTML: the page, a 404 page for an unknown id, or 403.
                let path = route
                    .path
                    .replace("{id}", "00000000-0000-4000-8000-000000000000");
                let status = send(&c, &s, &who, route.method, &path, Value::Null)
                    .status()
                    .as_u16();
                let expected: &[u16] = match (allows(role, need), route.path.contains("{id}")) {
                    (true, true) => &[404],
                    (true, false) => &[200],
                    (false, _) => &[403],
                };
                assert!(expected.contains(&status), "{role} page {path}: {status}");
                continue;
            }
            let Needs(need) = route.access else { continue };
            n += 1;
            // An id no org has: allowed callers get 404, refused ones 403 first.
            let path = route
                .path
                .replace("{id}", "00000000-0000-4000-8000-000000000000");
            let (status, code) = code(send(&c, &s, &who, route.method, &path, (route.body)(n)));
            if allows(role, need) {
                // A wrong current password is a 401 AUTH_INVALID; a lost session is not.
                assert!(
                    status != 403 && code != "AUTH_REQUIRED",
                    "{role} {} {path}: {status} {code}",
                    route.method
                );
            } else {
                assert_eq!(
                    (status, code.as_str()),
                    (403, "FORBIDDEN"),
                    "{role} {} {path}",
                    route.method
                );
            }
        }
    }
}

/// Org B: an admin with a session, an API token and an open invitation, made through
/// the store (one bootstrap per installation).
struct OrgB {
    org_id: String,
    integration_id: String,
    tracker_id: String,
    conversation_id: String,
    job_id: String,
    user_id: String,
    token_id: String,
    token: String,
    invite_id: String,
    analysis: AnalysisOfB,
    subject_id: String,
    request_id: String,
    hold_id: String,
    alert_rule_id: String,
}

/// Org B's scorecard, insight, scorecard result, dispute and batch.
struct AnalysisOfB {
    template_id: String,
    insight_id: String,
    result_id: String,
    review_id: String,
    batch_id: String,
}

fn seed_analysis_of_b(
    conn: &mut insite::store::DbConn,
    cipher: &insite::keys::OrgCipher,
    conversation_id: &str,
    at: &str,
) -> AnalysisOfB {
    use insite::store::{analyses, identity::new_id, jobs, templates};
    let template = |kind: &str, name: &str, definition: Value| templates::TemplateRow {
        id: new_id(),
        org_id: cipher.org_id.clone(),
        template_id: new_id(),
        kind: kind.into(),
        version: 1,
        name: name.into(),
        definition: definition.to_string(),
        created_by: None,
        created_at: at.into(),
        retired_at: None,
    };
    let card = template(
        "scorecard",
        "b-template-name",
        json!({"name": "b-template-name",
        "sections": [{"title": "S", "questions": [{"id": "q", "text": "Q?", "type": "yes_no"}]}]}),
    );
    let insight = template(
        "insight",
        "b_insight",
        json!({"key": "b_insight", "question": "Q?", "type": "boolean"}),
    );
    templates::insert(conn, &card).unwrap();
    templates::insert(conn, &insight).unwrap();
    let result = analyses::ResultRow {
        id: new_id(),
        org_id: cipher.org_id.clone(),
        conversation_id: conversation_id.into(),
        template_id: card.template_id.clone(),
        template_version: 1,
        agent_user_id: None,
        conversation_at: at.into(),
        score: Some(100.0),
        answers:
            json!([{"question_id": "q", "answer": "yes", "evidence": [], "rejected_quotes": []}])
                .to_string(),
        model: "m".into(),
        prompt_version: "p".into(),
        created_at: at.into(),
    };
    analyses::save_result(conn, cipher, &result).unwrap();
    let review = analyses::ReviewRow {
        id: new_id(),
        org_id: cipher.org_id.clone(),
        result_id: result.id.clone(),
        question_id: "q".into(),
        kind: "dispute".into(),
        state: "open".into(),
        answer: None,
        comment: Some("b-secret-comment".into()),
        created_by: "b".into(),
        created_at: at.into(),
        resolved_by: None,
        resolved_at: None,
        resolution: None,
    };
    analyses::insert_review(conn, cipher, &review).unwrap();
    let mut job = insite::pipeline::ingest::new_job(&cipher.org_id, conversation_id, at);
    job.kind = "analyze".into();
    job.state = "done".into();
    job.batch_id = Some(new_id());
    jobs::insert(conn, &job).unwrap();
    AnalysisOfB {
        template_id: card.template_id,
        insight_id: insight.template_id,
        result_id: result.id,
        review_id: review.id,
        batch_id: job.batch_id.unwrap(),
    }
}

fn seed_org_b(env: &TestEnv) -> OrgB {
    use insite::store::identity as ids;
    let pool = insite::store::open(&env.config).unwrap();
    let mut conn = pool.get().unwrap();
    let now = insite::clock::system().now();
    let at = insite::domain::time::stamp(now);
    let org = ids::Org {
        id: ids::new_id(),
        name: "Org B".into(),
        require_totp: false,
        redact_audio: "off".into(),
        // Text analysis off, as `PATCH /org {"analysis": {"text": false}}` stores it:
        // B's ticket is queued before the server starts, and this walk is about access.
        analysis: r#"{"text": false}"#.into(),
        retention: "{}".into(),
        created_at: at.clone(),
    };
    ids::insert_org(&mut conn, &org).unwrap();
    let hash = insite::crypto::password::hash("violet-canyon-river", &Default::default()).unwrap();
    let user = ids::User::new("b@b.test", hash, &at);
    ids::insert_user(&mut conn, &user).unwrap();
    ids::add_member(&mut conn, &org.id, &user.id, "admin", &at).unwrap();
    let (token, row) =
        insite::identity::create_token(&mut conn, &org.id, Role::Admin, "b", 30, now).unwrap();
    let (_, invite) = insite::identity::create_invite(
        &mut conn,
        &Default::default(),
        &org.id,
        "b-invitee@b.test",
        Role::Agent,
        &format!("user:{}", user.id),
        now,
    )
    .unwrap();
    let ticket: insite::pipeline::ingest::Ticket = serde_json::from_value(json!({
        "subject": "B's ticket",
        "messages": [{"author": "b", "at": "2026-11-20T09:00:00Z", "text": "b-secret-text"}]
    }))
    .unwrap();
    let blobs = insite::blob::BlobStore::new(&env.config.data_dir);
    let keyring =
        insite::server::open_keyring(&env.config, &pool, insite::clock::system()).unwrap();
    let cipher = keyring.for_org(&mut conn, &org.id).unwrap();
    let accepted =
        insite::pipeline::ingest::accept_ticket(&mut conn, &blobs, &cipher, ticket, now).unwrap();
    let tracker = insite::store::trackers::Tracker {
        id: ids::new_id(),
        org_id: org.id.clone(),
        name: "b-tracker-name".into(),
        phrases: "[\"b-secret-phrase\"]".into(),
        created_at: at.clone(),
    };
    insite::store::trackers::insert(&mut conn, &tracker).unwrap();
    let integration = insite::store::integrations::Integration {
        id: ids::new_id(),
        org_id: org.id.clone(),
        kind: "zendesk".into(),
        name: "b-integration-name".into(),
        settings: "{\"base_url\":\"https://127.0.0.1:9\",\"label\":\"b-subdomain\"}".into(),
        credential_names: "[\"oauth_token\"]".into(),
        credentials: "{\"oauth_token\":\"b-oauth-token\"}".into(),
        created_at: at.clone(),
        updated_at: at.clone(),
    };
    insite::store::integrations::insert(&mut conn, &cipher, &integration).unwrap();
    let analysis = seed_analysis_of_b(&mut conn, &cipher, &accepted.conversation_id, &at);
    let person: insite::pipeline::ingest::Participant =
        serde_json::from_value(json!({"name": "b-subject-name", "email": "b-subject@b.test"}))
            .unwrap();
    let subject_id = insite::privacy::subjects::link_participants(
        &mut conn,
        &keyring,
        &cipher,
        &accepted.conversation_id,
        &[person],
        now,
    )
    .unwrap()
    .remove(0);
    let request_id = ids::new_id();
    let request = insite::store::subjects::RequestRow {
        id: request_id.clone(),
        org_id: org.id.clone(),
        subject_id: subject_id.clone(),
        kind: "rectification".into(),
        state: "done".into(),
        requester: cipher
            .seal("subject_requests", "requester", &request_id, "b-requester")
            .unwrap(),
        received_at: at.clone(),
        due_at: at.clone(),
        options: "{}".into(),
        result: None,
        progress: 100,
        lease_until: None,
        created_by: "b".into(),
        created_at: at.clone(),
        completed_at: Some(at.clone()),
    };
    insite::store::subjects::insert_request(&mut conn, &request).unwrap();
    let hold = insite::store::retention::Hold {
        id: ids::new_id(),
        org_id: org.id.clone(),
        scope: "subject".into(),
        target_id: subject_id.clone(),
        reason: "b-hold-reason".into(),
        set_by: "b".into(),
        set_at: at.clone(),
        released_by: None,
        released_at: None,
    };
    insite::store::retention::insert_hold(&mut conn, &cipher, &hold).unwrap();
    let rule = insite::store::alerts::Rule {
        id: ids::new_id(),
        org_id: org.id.clone(),
        name: "b-rule-name".into(),
        condition: "{\"kind\":\"negative_sentiment\"}".into(),
        integration_id: integration.id.clone(),
        created_by: "b".into(),
        created_at: at.clone(),
    };
    insite::store::alerts::insert_rule(&mut conn, &rule).unwrap();
    OrgB {
        alert_rule_id: rule.id,
        subject_id,
        request_id: request.id,
        hold_id: hold.id,
        analysis,
        integration_id: integration.id,
        tracker_id: tracker.id,
        org_id: org.id,
        conversation_id: accepted.conversation_id,
        job_id: accepted.job_id,
        user_id: user.id,
        token_id: row.id,
        token,
        invite_id: invite.id,
    }
}

/// As org A's owner, every route with an id gets org B's object of that kind: 404,
/// and no response anywhere names B. B's objects are untouched afterwards.
#[test]
fn every_route_as_org_a_against_org_b_objects_is_not_found() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        bootstrap(&env, "Org A", "a@a.test");
        let b = seed_org_b(&env);
        let s = TestServer::start(env.config.clone());
        let c = client();
        let b_session = login(&c, &s, "b@b.test", "violet-canyon-river").unwrap();
        let b_sessions: Value = crate::identity::get(&c, &s, &b_session, "/api/v1/me/sessions")
            .json()
            .unwrap();
        let b_session_id = b_sessions["sessions"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let a = login(&c, &s, "a@a.test", OWNER_PW).unwrap();
        text_analysis_off(&c, &s.base, &a);
        let secrets = [
            b.org_id.as_str(),
            &b.user_id,
            &b.token_id,
            &b.invite_id,
            &b_session_id,
            &b.conversation_id,
            &b.job_id,
            "b-secret-text",
            &b.tracker_id,
            "b-tracker-name",
            &b.integration_id,
            "b-integration-name",
            "b-subdomain",
            "b-oauth-token",
            "b-template-name",
            "b-secret-comment",
            &b.subject_id,
            "b-subject-name",
            "b-subject@b.test",
            "b-requester",
            "b-hold-reason",
            "b-rule-name",
        ];
        let mut walked = 0;
        for (n, route) in ROUTES.iter().enumerate() {
            if matches!(route.access, Public) || route.path.ends_with("/logout") {
                continue;
            }
            let path = if route.path.contains("{id}") {
                let object = if route.path.starts_with("/api/v1/users/") {
                    &b.user_id
                } else if route.path.starts_with("/api/v1/tokens/") {
                    &b.token_id
                } else if route.path.starts_with("/api/v1/invites/") {
                    &b.invite_id
                } else if route.path.starts_with("/api/v1/me/sessions/") {
                    &b_session_id
                } else if route.path.starts_with("/api/v1/conversations/")
                    || route.path.starts_with("/console/conversations/")
                {
                    &b.conversation_id
                } else if route.path.starts_with("/api/v1/jobs/") {
                    &b.job_id
                } else if route.path.starts_with("/api/v1/trackers/") {
                    &b.tracker_id
                } else if route.path.starts_with("/api/v1/integrations/") {
                    &b.integration_id
                } else if route.path.starts_with("/api/v1/scorecards/")
                    || route.path.starts_with("/console/scorecards/")
                {
                    &b.analysis.template_id
                } else if route.path.starts_with("/api/v1/insights/") {
                    &b.analysis.insight_id
                } else if route.path.starts_with("/api/v1/scorecard-results/") {
                    &b.analysis.result_id
                } else if route.path.starts_with("/api/v1/reviews/") {
                    &b.analysis.review_id
                } else if route.path.starts_with("/api/v1/batches/") {
                    &b.analysis.batch_id
                } else if route.path.starts_with("/api/v1/subjects/")
                    || route.path.starts_with("/console/subjects/")
                {
                    &b.subject_id
                } else if route.path.starts_with("/api/v1/subject-requests/") {
                    &b.request_id
                } else if route.path.starts_with("/api/v1/legal-holds/") {
                    &b.hold_id
                } else if route.path.starts_with("/api/v1/alert-rules/") {
                    &b.alert_rule_id
                } else {
                    panic!("no org-B object for {}: extend this walk", route.path)
                };
                route.path.replace("{id}", object)
            } else {
                route.path.to_string()
            };
            let res = send(&c, &s, &a, route.method, &path, (route.body)(n));
            let status = res.status().as_u16();
            let text = res.text().unwrap();
            // The id echoed in our own request path aside, B never shows. A's own audit
            // trail records the ids A tried, so there only B's org and e-mail must not show.
            let shown = text.replace(&path, "");
            let checked = if route.path.starts_with("/api/v1/audit")
                || route.path.starts_with("/console/audit")
            {
                &secrets[..1]
            } else {
                &secrets[..]
            };
            for secret in checked.iter().chain(["b@b.test"].iter()) {
                assert!(
                    !shown.contains(secret),
                    "{backend:?} {} {path} leaks {secret}: {text}",
                    route.method
                );
            }
            if route.path.contains("{id}") && matches!(route.access, Page(_)) {
                assert!(
                    status == 404 && text.contains("NOT_FOUND"),
                    "{backend:?} page {path}: {status}"
                );
                walked += 1;
            } else if route.path.contains("{id}") {
                let body: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(
                    (status, body["error"]["code"].as_str().unwrap_or("")),
                    (404, "NOT_FOUND"),
                    "{backend:?} {} {path}",
                    route.method
                );
                walked += 1;
            }
        }
        // The webhook receiver is public (its signature is the proof, tested in
        // integrations.rs); B's Zendesk connector is no receiver at all.
        let hook = send(
            &c,
            &s,
            &a,
            "POST",
            &format!("/api/v1/hooks/{}", b.integration_id),
            json!({}),
        );
        assert_eq!(hook.status(), 404, "{backend:?}");
        let with_id = ROUTES
            .iter()
            .filter(|r| r.path.contains("{id}") && !matches!(r.access, Public))
            .count();
        assert!(
            walked == with_id && walked >= 6,
            "walked {walked} of {with_id}"
        );
        // B is as it was: its admin, session, token and invitation all still work.
        let me: Value = crate::identity::get(&c, &s, &b_session, "/api/v1/me")
            .json()
            .unwrap();
        assert_eq!(me["role"], "admin", "{backend:?}");
        let invites: Value = c
            .get(s.url("/api/v1/invites"))
            .bearer_auth(&b.token)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(
            invites["invites"][0]["id"],
            b.invite_id.as_str(),
            "{backend:?}"
        );
        assert_eq!(code(crate::identity::get(&c, &s, &a, "/api/v1/me")).0, 200);
        // B's integration and its sealed token are unchanged.
        let pool = insite::store::open(&env.config).unwrap();
        let mut conn = pool.get().unwrap();
        let keyring =
            insite::server::open_keyring(&env.config, &pool, insite::clock::system()).unwrap();
        let cipher = keyring.for_org(&mut conn, &b.org_id).unwrap();
        let creds = insite::store::integrations::credentials(&mut conn, &cipher, &b.integration_id)
            .unwrap();
        assert_eq!(
            creds.as_deref(),
            Some("{\"oauth_token\":\"b-oauth-token\"}"),
            "{backend:?}"
        );
        let rule = insite::store::alerts::rule(&mut conn, &b.org_id, &b.alert_rule_id).unwrap();
        assert!(
            rule.is_some(),
            "{backend:?}: B's alert rule was deleted by A"
        );
    }
}
