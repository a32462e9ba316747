//! The same content sent twice at the same moment is a duplicate, never a 500.

use crate::identity::acme_owner;
use crate::support::{backends, client, TestEnv};
use serde_json::{json, Value};

#[test]
fn identical_tickets_sent_at_the_same_moment_are_one_conversation() {
    for backend in backends() {
        let env = TestEnv::new(backend);
        let (s, _, owner) = acme_owner(&env);
        for pair in 0..20 {
            let ticket = json!({"subject": format!("Parcel {pair}"), "messages": [
                {"author": "Ann", "role": "customer", "at": "2026-11-20T09:00:00Z",
                 "text": format!("Parcel number {pair} never arrived.")}]});
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let sends: Vec<_> = (0..2)
                .map(|_| {
                    let (url, cookie, csrf) = (
                        s.url("/api/v1/tickets"),
                        owner.cookie.clone(),
                        owner.csrf.clone(),
                    );
                    let (ticket, barrier) = (ticket.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let c = client();
                        barrier.wait();
                        let res = c
                            .post(url)
                            .header("cookie", cookie)
                            .header("x-csrf-token", csrf)
                            .json(&ticket)
                            .send()
                            .unwrap();
                        let status = res.status().as_u16();
                        (status, res.json::<Value>().unwrap())
                    })
                })
                .collect();
            let answers: Vec<(u16, Value)> = sends.into_iter().map(|t| t.join().unwrap()).collect();
            assert!(
                answers.iter().all(|(status, _)| *status == 202),
                "{backend:?} pair {pair}: {answers:?}"
            );
            assert_eq!(
                answers[0].1["conversation_id"], answers[1].1["conversation_id"],
                "{backend:?} pair {pair}"
            );
            let firsts = answers
                .iter()
                .filter(|(_, a)| a["duplicate"] == false)
                .count();
            assert_eq!(firsts, 1, "{backend:?} pair {pair}: {answers:?}");
        }
    }
}
