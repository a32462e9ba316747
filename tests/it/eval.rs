//! `insite eval`: the analysis measured on labelled conversations of `bench/eval` with
//! the test model. The report has every row a reader looks for, a broken label is
//! refused naming its file and question, and the measurement tells the real prompt
//! from one that never sees the conversation's words (`ablation.blind`).

use crate::support::{run_bin, Backend, TestEnv, ANSWER_LLM};
use std::path::{Path, PathBuf};

fn set_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/eval")
}

#[test]
fn eval_reports_accuracy_and_tells_a_reading_prompt_from_a_blind_one() {
    let mut env = TestEnv::new(Backend::Sqlite);
    env.config.engines.llm_model = ANSWER_LLM.into();
    let cfg = env.write_config();
    let json = env.dir.path().join("eval.json");
    let out = run_bin(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "eval",
            set_dir().to_str().unwrap(),
            "--scorecard",
            "service_qa",
            "--only",
            "svc-en-001,de-033,es-038",
            "--prompt-version",
            "analysis.v2",
            "--compare",
            "ablation.blind",
            "--json",
            json.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for row in [
        "service_qa.greeting",
        "service_qa.tone",
        "overall (n 21)",
        "score service_qa: good/mediocre/bad",
        "sentiment customer",
        "summary sentences flagged",
        "fields cut off",
        "CPU s / conversation",
        "analysis.v2",
        "ablation.blind",
    ] {
        assert!(stdout.contains(row), "{row} missing from:\n{stdout}");
    }
    assert!(
        stderr.contains("[3/3]"),
        "progress per conversation: {stderr}"
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let (real, blind) = (&v["runs"][0], &v["runs"][1]);
    assert_eq!(real["prompt_version"], "analysis.v2");
    assert_eq!(blind["prompt_version"], "ablation.blind");
    let correct = |r: &serde_json::Value| r["report"]["overall"]["correct"].as_u64().unwrap();
    assert_eq!(real["report"]["overall"]["n"], 21);
    assert!(
        correct(real) > correct(blind),
        "reading the conversation ({}) must beat withholding it ({}):\n{stdout}",
        correct(real),
        correct(blind)
    );
    // Every answer is there, and cited turns are turns of the conversation.
    for o in real["outcomes"].as_array().unwrap() {
        let answers = o["answers"]["service_qa"].as_object().unwrap();
        assert_eq!(answers.len(), 7, "{o}");
        for a in answers.values() {
            assert!(a["turns"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t.as_u64().unwrap() < 40));
        }
        assert!(o["cpu_seconds"].as_f64().unwrap() > 0.0, "{o}");
    }
}

#[test]
fn eval_refuses_a_wrong_label_naming_the_file_and_the_question() {
    let env = TestEnv::new(Backend::Sqlite);
    let cfg = env.write_config();
    let dir = env.dir.path().join("set");
    std::fs::create_dir(&dir).unwrap();
    let src = std::fs::read_dir(set_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let mut item: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    item["labels"]["service_qa"]["greeting"]["answer"] = "maybe".into();
    item["labels"]["bant"]["budget"]["turns"] = serde_json::json!([999]);
    std::fs::write(dir.join("a.json"), item.to_string()).unwrap();
    item["labels"]["service_qa"]["greeting"]["answer"] = "yes".into();
    std::fs::write(dir.join("b.json"), item.to_string()).unwrap();
    let out = run_bin(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "eval",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
    assert!(
        stderr.contains("a.json: labels.service_qa.greeting: \"maybe\" is not an answer"),
        "{stderr}"
    );
    assert!(
        stderr.contains("b.json: labels.bant.budget: turn 999 does not exist"),
        "{stderr}"
    );
}
