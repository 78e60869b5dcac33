//! The divergence engine on labelled pairs: two runs of one agent that behave the same
//! apart from realistic noise (ids, uuids, timestamps, durations, token counts, reworded
//! model text), then split in one known way at one known step. Each pair is written as
//! native JSON Lines into a temporary folder and read back through the public API (and a
//! few through the `retrace diff` binary); the test checks the kind and the exact step on
//! both sides. Noise-only pairs must have no divergence.

use std::path::Path;
use std::process::Command;

use retrace::diverge::{self, InputMode, Kind};
use retrace::index::{History, LoadOptions};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------
// Building runs

/// Deterministic noise for one run: its ids, clock, durations, token counts and wording.
struct Noise {
    seed: u64,
    state: u64,
}

impl Noise {
    fn new(seed: u64) -> Noise {
        Noise {
            seed,
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        }
    }
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn hex(&mut self, n: usize) -> String {
        let mut s = String::new();
        while s.len() < n {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(n);
        s
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..]
        )
    }
    /// A random-looking token like Stripe's ids.
    fn token(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut s: String = (0..n)
            .map(|_| CHARS[(self.next() % CHARS.len() as u64) as usize] as char)
            .collect();
        // Make sure it has digits and letters of both cases, as real ones do.
        s.replace_range(0..4, "3Qa7");
        s
    }
    fn small(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
    fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[(self.seed as usize) % options.len()]
    }
}

/// The facts a run works on (its trigger); two runs with equal facts have the same input.
#[derive(Clone)]
struct Facts {
    ticket: u64,
    order: &'static str,
    name: &'static str,
    email: &'static str,
    amount: &'static str,
    days: u64,
}

const AISHA: Facts = Facts {
    ticket: 4411,
    order: "A-10233",
    name: "Aisha",
    email: "aisha.khan@example.com",
    amount: "54.50",
    days: 9,
};

const LARS: Facts = Facts {
    ticket: 4420,
    order: "A-09954",
    name: "Lars",
    email: "lars.nilsson@example.com",
    amount: "74.00",
    days: 12,
};

/// A support-bot refund run: the trigger, a plan, an order lookup, a triage proposing the
/// policy check, the check, the route decision, the refund and its effect, a text-only
/// model call, the confirmation email, a reply and the end. 17 steps:
///
/// 0 start · 1 llm plan · 2 call lookup_order · 3 result · 4 llm triage ·
/// 5 decision next_action · 6 call check_refund_policy · 7 result · 8 decision route ·
/// 9 call issue_refund · 10 result · 11 effect refund.create · 12 llm compose (text) ·
/// 13 call send_email · 14 result · 15 message reply · 16 end
fn refund_run(f: &Facts, n: &mut Noise) -> Vec<Value> {
    let refund_id = format!("re_{}", n.token(24));
    let msg_id = format!("<{}@mail.example.com>", n.uuid());
    let plan_text = n.pick(&[
        "I'll look up the order before deciding anything.",
        "First step: fetch the order details.",
        "Let me check the order record.",
    ]);
    let compose_text = n.pick(&[
        "I'll let the customer know that the refund is on its way.",
        "Letting the customer know their refund is on its way now.",
        "I will tell the customer the refund is on the way.",
    ]);
    let body = n.pick(&[
        "Hi {name}, your refund of ${amount} for order {order} has been issued and should arrive in 5-7 days.",
        "Hello {name}, we have issued your refund of ${amount} for order {order}; it should arrive within 5-7 days.",
    ])
    .replace("{name}", f.name)
    .replace("{amount}", f.amount)
    .replace("{order}", f.order);
    let reply = n.pick(&[
        "Refund issued and the customer was emailed.",
        "The customer was emailed: refund issued.",
    ]);
    let call_id = |n: &mut Noise| format!("call_{}", n.token(12));
    vec![
        json!({"kind": "run_start", "agent": "support-bot", "agent_version": "1.4.2",
               "input": {"ticket": f.ticket, "channel": "email", "from": f.email,
                         "text": format!("My kettle from order {} stopped heating. Refund please.", f.order)},
               "labels": {"task": "refund_ticket", "env": "prod"}}),
        json!({"kind": "llm_call", "name": "plan",
               "input": {"messages": [{"role": "user", "content": "Refund my order"}]},
               "output": {"text": plan_text, "tool_calls": [{"id": call_id(n), "name": "lookup_order", "args": {"order_id": f.order}}]},
               "status": "ok"}),
        json!({"kind": "tool_call", "name": "lookup_order", "input": {"order_id": f.order, "request_id": n.uuid()}}),
        json!({"kind": "tool_result", "name": "lookup_order", "status": "ok",
               "output": {"order_id": f.order, "email": f.email, "total": f.amount, "currency": "USD",
                          "placed_at": format!("2026-11-{:02}T10:{:02}:00Z", 1 + n.small(0, 20), n.small(0, 60)),
                          "items": [{"sku": "kettle-2l", "qty": 1}],
                          "trace": n.uuid()}}),
        json!({"kind": "llm_call", "name": "triage",
               "output": {"text": n.pick(&["Damaged item; checking the policy.", "Checking what the refund policy allows."]),
                          "tool_calls": [{"id": call_id(n), "name": "check_refund_policy", "args": {"order_id": f.order, "reason": "damaged"}}]},
               "status": "ok"}),
        json!({"kind": "decision", "name": "next_action",
               "options": ["check_refund_policy", "issue_refund", "escalate_to_human"],
               "chosen": "check_refund_policy", "reason": n.pick(&["Policy first.", "Check the policy before paying."])}),
        json!({"kind": "tool_call", "name": "check_refund_policy", "input": {"order_id": f.order, "reason": "damaged"}}),
        json!({"kind": "tool_result", "name": "check_refund_policy", "status": "ok",
               "output": {"order_id": f.order, "days_since_purchase": f.days, "refund_window_days": 30,
                          "eligible_refund": true, "rule": "R-2", "checked_at": format!("2026-11-24T10:{:02}:00Z", n.small(0, 60))}}),
        json!({"kind": "decision", "name": "route", "options": ["refund", "store_credit", "deny"],
               "chosen": "refund", "reason": "Within the refund window."}),
        json!({"kind": "tool_call", "name": "issue_refund",
               "input": {"order_id": f.order, "amount": f.amount, "currency": "USD",
                         "idempotency_key": format!("tkt-{}-{}", f.ticket, n.hex(8))}}),
        json!({"kind": "tool_result", "name": "issue_refund", "status": "ok",
               "output": {"refund_id": refund_id, "status": "succeeded", "amount": f.amount, "currency": "USD"}}),
        json!({"kind": "effect", "name": "refund.create", "target": format!("stripe:refunds/{refund_id}"),
               "action": "create", "input": {"amount": f.amount}, "status": "ok"}),
        json!({"kind": "llm_call", "name": "compose", "output": {"text": compose_text}, "status": "ok"}),
        json!({"kind": "tool_call", "name": "send_email",
               "input": {"to": f.email, "template": "refund_confirmation", "body": body}}),
        json!({"kind": "tool_result", "name": "send_email", "status": "ok",
               "output": {"message_id": msg_id, "accepted": [f.email], "smtp": format!("250 2.0.0 Ok: queued as {}", n.hex(10).to_uppercase())}}),
        json!({"kind": "message", "name": "reply", "output": {"text": reply}}),
        json!({"kind": "run_end", "outcome": "success"}),
    ]
}

/// Writes `events` as run `id`: adds ids, parents, times, durations and token counts from
/// the noise, numbers the steps, and returns the lines.
fn finish(id: &str, mut events: Vec<Value>, n: &mut Noise, day: u32) -> String {
    let mut t = 1_764_000_000_000i64 + i64::from(day) * 86_400_000 + (n.small(0, 3_600_000) as i64);
    let mut prev: Option<String> = None;
    let mut out = String::new();
    for (i, ev) in events.iter_mut().enumerate() {
        let own = n.uuid();
        let o = ev.as_object_mut().unwrap();
        o.insert("run_id".into(), json!(id));
        o.insert("step".into(), json!(i));
        o.insert("id".into(), json!(own));
        if let Some(p) = &prev {
            o.insert("parent".into(), json!(p));
        }
        t += n.small(5, 4000) as i64;
        o.insert("ts".into(), json!(t));
        let kind = o["kind"].as_str().unwrap().to_string();
        if kind != "run_start" && kind != "run_end" {
            o.insert("duration_ms".into(), json!(n.small(20, 5000)));
        }
        if kind == "llm_call" {
            o.insert(
                "tokens".into(),
                json!({"input": n.small(400, 3000), "output": n.small(20, 400)}),
            );
            o.insert("model".into(), json!("gpt-4.1-2025-04-14"));
        }
        out.push_str(&serde_json::to_string(ev).unwrap());
        out.push('\n');
        prev = Some(own);
    }
    out
}

/// Writes runs into a temporary folder and loads it.
struct Fixture {
    dir: tempfile::TempDir,
    history: History,
}

fn load(files: &[(&str, String)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let history = History::load(&[dir.path().to_path_buf()], &LoadOptions::default()).unwrap();
    assert!(history.problems().is_empty(), "{:?}", history.problems());
    Fixture { dir, history }
}

/// A labelled pair: B is a clean run, A the same behaviour with other noise and then
/// `split` applied.
fn pair(
    a_facts: &Facts,
    b_facts: &Facts,
    split: impl FnOnce(&mut Vec<Value>, &mut Noise),
    seeds: (u64, u64),
) -> Fixture {
    let mut na = Noise::new(seeds.0);
    let mut nb = Noise::new(seeds.1);
    let mut a = refund_run(a_facts, &mut na);
    split(&mut a, &mut na);
    let b = refund_run(b_facts, &mut nb);
    let text_b = finish("run-b", b, &mut nb, 1);
    let text_a = finish("run-a", a, &mut na, 2);
    load(&[("a.jsonl", text_a), ("b.jsonl", text_b)])
}

/// (kind, a_step, b_step) of the divergence of run-a against run-b, through the API.
fn divergence(f: &Fixture) -> Option<(Kind, Option<u32>, Option<u32>, String)> {
    let a = f.history.find_run("run-a").unwrap();
    let b = f.history.find_run("run-b").unwrap();
    let d = diverge::diff(&f.history, a, Some(b)).unwrap();
    check_alignment(&d);
    d.comparison
        .divergence
        .map(|d| (d.kind, d.a_step, d.b_step, d.summary))
}

/// Every step of both runs appears once, in order, and rows never pair different kinds.
fn check_alignment(d: &diverge::Diff) {
    let rows = &d.comparison.rows;
    let a: Vec<usize> = rows.iter().filter_map(|r| r.a).collect();
    let b: Vec<usize> = rows.iter().filter_map(|r| r.b).collect();
    assert_eq!(a, (0..d.a_steps.len()).collect::<Vec<_>>());
    assert_eq!(b, (0..d.b_steps.len()).collect::<Vec<_>>());
    for r in rows {
        if let (Some(i), Some(j)) = (r.a, r.b) {
            assert_eq!(d.a_steps[i].kind, d.b_steps[j].kind);
        }
    }
}

fn assert_split(
    f: &Fixture,
    kind: Kind,
    a_step: Option<u32>,
    b_step: Option<u32>,
    mentions: &[&str],
) {
    let (k, a, b, summary) = divergence(f).expect("a divergence");
    assert_eq!((k, a, b), (kind, a_step, b_step), "{summary}");
    for m in mentions {
        assert!(summary.contains(m), "{summary:?} should mention {m:?}");
    }
}

const SEEDS: [(u64, u64); 3] = [(1, 2), (7, 11), (23, 5)];

// ---------------------------------------------------------------------------------------
// Noise only: no divergence

#[test]
fn noise_only_pairs_have_no_divergence() {
    for seeds in SEEDS {
        let f = pair(&AISHA, &AISHA, |_, _| {}, seeds);
        let a = f.history.find_run("run-a").unwrap();
        let b = f.history.find_run("run-b").unwrap();
        let d = diverge::diff(&f.history, a, Some(b)).unwrap();
        assert_eq!(d.comparison.mode, InputMode::SameInput);
        assert_eq!(d.comparison.divergence, None, "seeds {seeds:?}");
        assert!(d.comparison.rows.iter().all(|r| r.is_same()));
        assert_eq!(d.comparison.rows.len(), 17);
    }
}

#[test]
fn runs_on_different_inputs_that_behave_alike_have_no_divergence() {
    // Another ticket, order, customer, amount and age: every value differs, but each is
    // copied from the run's own trigger or earlier results, so the behaviour is the same.
    for seeds in SEEDS {
        let f = pair(&AISHA, &LARS, |_, _| {}, seeds);
        let a = f.history.find_run("run-a").unwrap();
        let b = f.history.find_run("run-b").unwrap();
        let d = diverge::diff(&f.history, a, Some(b)).unwrap();
        assert_eq!(d.comparison.mode, InputMode::DifferentInput);
        assert_eq!(d.comparison.divergence, None, "seeds {seeds:?}");
        // The trigger row is marked as different input, and nothing else differs.
        assert_eq!(d.comparison.rows[0].kind, Some(Kind::DifferentInput));
        assert!(d.comparison.rows[0].input);
        assert!(d.comparison.rows[1..].iter().all(|r| r.is_same()));
    }
}

// ---------------------------------------------------------------------------------------
// One pair per divergence kind

#[test]
fn different_tool_chosen() {
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, _| {
                a[9]["name"] = json!("issue_store_credit");
                a[10]["name"] = json!("issue_store_credit");
            },
            seeds,
        );
        assert_split(
            &f,
            Kind::DifferentTool,
            Some(9),
            Some(9),
            &["issue_store_credit", "issue_refund"],
        );
    }
}

#[test]
fn different_arguments() {
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, _| a[9]["input"]["amount"] = json!("45.50"),
            seeds,
        );
        assert_split(
            &f,
            Kind::DifferentArguments,
            Some(9),
            Some(9),
            &["issue_refund", "amount", "45.50", "54.50"],
        );
    }
}

#[test]
fn different_arguments_proposed_by_the_model() {
    let f = pair(
        &AISHA,
        &AISHA,
        |a, _| {
            a[4]["output"]["tool_calls"][0]["args"]["reason"] = json!("changed_mind");
            a[6]["input"]["reason"] = json!("changed_mind");
        },
        (3, 4),
    );
    assert_split(
        &f,
        Kind::DifferentArguments,
        Some(4),
        Some(4),
        &["triage", "reason", "changed_mind", "damaged"],
    );
}

#[test]
fn error_versus_success() {
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, _| {
                a[14] = json!({"kind": "tool_result", "name": "send_email", "status": "error",
                               "error": {"code": "SMTP_AUTH_INVALID", "message": "535 5.7.8 authentication failed"}});
                a[16] = json!({"kind": "run_end", "outcome": "failure", "error": "customer never notified"});
            },
            seeds,
        );
        assert_split(
            &f,
            Kind::ErrorVsSuccess,
            Some(14),
            Some(14),
            &["send_email", "SMTP_AUTH_INVALID", "succeeded"],
        );
    }
}

#[test]
fn different_result_data_for_the_same_call() {
    // Same question, other answer: the order is older in A.
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, _| a[7]["output"]["days_since_purchase"] = json!(41),
            seeds,
        );
        assert_split(
            &f,
            Kind::DifferentResult,
            Some(7),
            Some(7),
            &["check_refund_policy", "days_since_purchase", "41", "9"],
        );
    }
}

#[test]
fn different_error_is_different_result_data() {
    let f = pair(
        &AISHA,
        &AISHA,
        |a, _| {
            a[14] = json!({"kind": "tool_result", "name": "send_email", "status": "error",
                           "error": {"code": "SMTP_AUTH_INVALID", "message": "535 auth failed"}});
        },
        (8, 9),
    );
    // B fails too, with another error.
    let text_a = std::fs::read_to_string(f.dir.path().join("a.jsonl")).unwrap();
    let text_b = std::fs::read_to_string(f.dir.path().join("b.jsonl")).unwrap();
    let text_b: String = text_b
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            if v["step"] == 14 {
                v["status"] = json!("error");
                v["error"] = json!({"code": "SMTP_TIMEOUT", "message": "connection timed out"});
            }
            serde_json::to_string(&v).unwrap() + "\n"
        })
        .collect();
    let f = load(&[("a.jsonl", text_a), ("b.jsonl", text_b)]);
    assert_split(
        &f,
        Kind::DifferentResult,
        Some(14),
        Some(14),
        &["SMTP_AUTH_INVALID", "SMTP_TIMEOUT"],
    );
}

#[test]
fn extra_step() {
    // A looks the order up twice.
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, n| {
                let call = json!({"kind": "tool_call", "name": "lookup_order", "input": {"order_id": "A-10233", "request_id": n.uuid()}});
                let result = a[3].clone();
                a.insert(4, call);
                a.insert(5, result);
            },
            seeds,
        );
        assert_split(
            &f,
            Kind::ExtraStep,
            Some(4),
            None,
            &["only in A", "lookup_order"],
        );
    }
}

#[test]
fn missing_step() {
    // A never records its next_action decision.
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, _| {
                a.remove(5);
            },
            seeds,
        );
        assert_split(
            &f,
            Kind::MissingStep,
            None,
            Some(5),
            &["only in B", "next_action"],
        );
    }
}

#[test]
fn different_decision_branch() {
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, _| {
                a[8]["chosen"] = json!("store_credit");
                a[8]["reason"] = json!("Customer asked for credit.");
            },
            seeds,
        );
        assert_split(
            &f,
            Kind::DifferentDecision,
            Some(8),
            Some(8),
            &[
                "route",
                "store_credit",
                "refund",
                "Customer asked for credit.",
            ],
        );
    }
}

#[test]
fn different_model_decision_other_tool_proposed() {
    // The triage proposes the refund directly and the run skips the policy check: the
    // model call is where it split, not the missing steps after it.
    for seeds in SEEDS {
        let f = pair(
            &AISHA,
            &AISHA,
            |a, _| {
                a[4]["output"]["tool_calls"][0] = json!({"id": "call_x", "name": "issue_refund", "args": {"order_id": "A-10233", "amount": "54.50"}});
                a[5]["chosen"] = json!("issue_refund");
                a.remove(7);
                a.remove(6);
            },
            seeds,
        );
        assert_split(
            &f,
            Kind::DifferentDecision,
            Some(4),
            Some(4),
            &["triage", "issue_refund", "check_refund_policy"],
        );
        // The decision right after it is part of the cascade.
        let a = f.history.find_run("run-a").unwrap();
        let b = f.history.find_run("run-b").unwrap();
        let d = diverge::diff(&f.history, a, Some(b)).unwrap();
        let div = d.comparison.divergence.as_ref().unwrap();
        assert!(d.comparison.is_cascade(div.row + 1));
        assert!(!d.comparison.is_cascade(div.row));
    }
}

#[test]
fn different_model_decision_text_instead_of_text() {
    // The text-only model call says something else entirely (rewording is noise: see the
    // noise-only pairs, whose compose texts are worded differently).
    let f = pair(
        &AISHA,
        &AISHA,
        |a, _| {
            a[12]["output"]["text"] = json!(
                "This order looks fraudulent; escalating to a human agent before anything else."
            )
        },
        (2, 9),
    );
    assert_split(
        &f,
        Kind::DifferentDecision,
        Some(12),
        Some(12),
        &["compose", "fraudulent"],
    );
}

#[test]
fn different_model_decision_answer_instead_of_a_call() {
    let f = pair(
        &AISHA,
        &AISHA,
        |a, _| {
            a[1]["output"] = json!({"text": "I cannot help with refunds."});
            a.truncate(2);
            a.push(json!({"kind": "run_end", "outcome": "failure"}));
        },
        (4, 6),
    );
    assert_split(
        &f,
        Kind::DifferentDecision,
        Some(1),
        Some(1),
        &["plan", "answered", "cannot help", "lookup_order"],
    );
}

#[test]
fn different_inputs_compare_arguments_by_where_they_came_from() {
    // A passes an order id that is in none of its inputs; B copies its own from the
    // trigger. The values differ in both pairs below, only the provenance tells them apart.
    let f = pair(
        &AISHA,
        &LARS,
        |a, _| {
            a[1]["output"]["tool_calls"][0]["args"]["order_id"] = json!("A-00000");
            a[2]["input"]["order_id"] = json!("A-00000");
        },
        (5, 6),
    );
    assert_split(
        &f,
        Kind::DifferentArguments,
        Some(1),
        Some(1),
        &["order_id", "A-00000", "not copied", "from the trigger"],
    );
}

#[test]
fn different_inputs_compare_results_by_shape() {
    // Different orders return different data (no divergence, see above), but an order with
    // no items is a different shape of answer.
    let f = pair(
        &AISHA,
        &LARS,
        |a, _| a[3]["output"]["items"] = json!([]),
        (5, 6),
    );
    assert_split(
        &f,
        Kind::DifferentResult,
        Some(3),
        Some(3),
        &["lookup_order", "items"],
    );
}

#[test]
fn any_row_can_be_explained_for_a_detail_view() {
    let f = pair(
        &AISHA,
        &AISHA,
        |a, _| {
            a[8]["chosen"] = json!("store_credit");
            a[9]["name"] = json!("issue_store_credit");
            a[10]["name"] = json!("issue_store_credit");
        },
        (1, 2),
    );
    let a = f.history.find_run("run-a").unwrap();
    let b = f.history.find_run("run-b").unwrap();
    let d = diverge::diff(&f.history, a, Some(b)).unwrap();
    let cmp = &d.comparison;
    let div = cmp.divergence.as_ref().unwrap();
    assert_eq!((div.a_step, div.kind), (Some(8), Kind::DifferentDecision));
    // The divergence row explains as the divergence does; a cascade row has its own
    // explanation; a row that did the same thing has none.
    let at = diverge::explain_row(&d.a_steps, &d.b_steps, cmp, div.row).unwrap();
    assert_eq!(at, (div.kind, div.summary.clone()));
    let tool_row = cmp.rows.iter().position(|r| r.a == Some(9)).unwrap();
    assert!(cmp.is_cascade(tool_row));
    let (kind, text) = diverge::explain_row(&d.a_steps, &d.b_steps, cmp, tool_row).unwrap();
    assert_eq!(kind, Kind::DifferentTool);
    assert!(
        text.contains("issue_store_credit") && text.contains("issue_refund"),
        "{text}"
    );
    assert_eq!(diverge::explain_row(&d.a_steps, &d.b_steps, cmp, 2), None);
    // Every step is shown with a one-line label.
    assert!(diverge::step_label(&d.a_steps[8]).contains("store_credit"));
}

// ---------------------------------------------------------------------------------------
// Through the binary

fn retrace(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retrace"))
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .args(args)
        .arg(dir)
        .output()
        .expect("run retrace")
}

fn diff_json(args: &[&str], dir: &Path) -> Value {
    let out = retrace(args, dir);
    assert!(
        out.status.success(),
        "retrace failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

#[test]
fn binary_json_reports_the_divergence_and_the_alignment() {
    let f = pair(
        &AISHA,
        &AISHA,
        |a, n| {
            let call = json!({"kind": "tool_call", "name": "lookup_order", "input": {"order_id": "A-10233", "request_id": n.uuid()}});
            let result = a[3].clone();
            a.insert(4, call);
            a.insert(5, result);
            a[16] = json!({"kind": "tool_result", "name": "send_email", "status": "error",
                           "error": {"code": "SMTP_AUTH_INVALID", "message": "535"}});
        },
        (1, 2),
    );
    let doc = diff_json(
        &["diff", "run-a", "--against", "run-b", "--json"],
        f.dir.path(),
    );
    assert_eq!(doc["a_run"], "run-a");
    assert_eq!(doc["b_run"], "run-b");
    assert!(doc.get("picked_because").is_none());
    let d = &doc["divergence"];
    assert_eq!(d["a_step"], 4);
    assert_eq!(d["b_step"], Value::Null);
    assert_eq!(d["kind"], "extra_step");
    assert!(d["summary"].as_str().unwrap().contains("lookup_order"));
    let alignment = doc["alignment"].as_array().unwrap();
    assert_eq!(alignment.len(), 19);
    assert_eq!(alignment[4], json!([4, null]));
    assert_eq!(alignment[5], json!([5, null]));
    assert_eq!(alignment[6], json!([6, 4]));
    // Rows after the divergence are its cascade, and the error shows there.
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows[4]["cascade"], false);
    assert_eq!(rows[5]["cascade"], true);
    let err_row = rows.iter().find(|r| r["a_step"] == 16).unwrap();
    assert_eq!(err_row["kind"], "error_vs_success");
    assert_eq!(err_row["b_step"], 14);
}

#[test]
fn binary_picks_the_successful_run_when_none_is_given() {
    let mut nb = Noise::new(3);
    let mut nc = Noise::new(4);
    let mut na = Noise::new(5);
    let good = finish("run-good", refund_run(&AISHA, &mut nb), &mut nb, 1);
    let other = {
        // A success of another task is never picked before one of the same task.
        let mut ev = refund_run(&AISHA, &mut nc);
        ev[0]["labels"]["task"] = json!("chargeback");
        finish("run-other-task", ev, &mut nc, 1)
    };
    let mut ev = refund_run(&AISHA, &mut na);
    ev[14] = json!({"kind": "tool_result", "name": "send_email", "status": "error",
                    "error": {"code": "SMTP_AUTH_INVALID", "message": "535"}});
    ev[16] = json!({"kind": "run_end", "outcome": "failure"});
    let bad = finish("run-bad", ev, &mut na, 2);
    let f = load(&[
        ("good.jsonl", good),
        ("other.jsonl", other),
        ("bad.jsonl", bad),
    ]);
    let doc = diff_json(&["diff", "run-bad", "--json"], f.dir.path());
    assert_eq!(doc["b_run"], "run-good");
    let why = doc["picked_because"].as_str().unwrap();
    assert!(why.contains("same agent (support-bot)"), "{why}");
    assert!(why.contains("task=refund_ticket"), "{why}");
    assert_eq!(doc["divergence"]["a_step"], 14);
    assert_eq!(doc["divergence"]["b_step"], 14);

    // The human view shows both timelines, marks the divergence and the cascade.
    let out = retrace(&["diff", "run-bad"], f.dir.path());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("picked run-good: same agent"), "{text}");
    assert!(
        text.contains("divergence at A #14 / B #14: error versus success"),
        "{text}"
    );
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with('>')).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        marked[0].contains("send_email") && marked[0].contains('≠'),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with('~')), "{text}");
}

#[test]
fn binary_explains_when_there_is_nothing_to_compare_with() {
    let mut na = Noise::new(5);
    let mut ev = refund_run(&AISHA, &mut na);
    ev[16] = json!({"kind": "run_end", "outcome": "failure"});
    let f = load(&[("bad.jsonl", finish("run-bad", ev, &mut na, 2))]);
    let out = retrace(&["diff", "run-bad"], f.dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no successful run"), "{err}");
    let out = retrace(&["diff", "run-nope", "--against", "run-bad"], f.dir.path());
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn binary_text_output_sanitizes_run_strings() {
    let mut na = Noise::new(5);
    let mut nb = Noise::new(6);
    let mut ev = refund_run(&AISHA, &mut na);
    ev[9]["name"] = json!("issue_refund\u{1b}]0;pwned\u{7}");
    ev[9]["input"]["amount"] = json!("\u{1b}[2J99.00\u{202e}");
    let a = finish("run-a", ev, &mut na, 2);
    let b = finish("run-b", refund_run(&AISHA, &mut nb), &mut nb, 1);
    let f = load(&[("a.jsonl", a), ("b.jsonl", b)]);
    let out = retrace(&["diff", "run-a", "--against", "run-b"], f.dir.path());
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}') && !text.contains('\u{202e}'));
    assert!(text.contains("\\x1b"), "{text}");
}
