//! The divergence engine on two runs of 10,000 steps each (the budget: under
//! 50 ms). Three measurements:
//!
//! - `compare/10k`: the whole engine from parsed steps — signatures (normalisation,
//!   provenance), the alignment, every row's verdict and the divergence's explanation —
//!   on two runs of one agent with different noise everywhere, a retry inserted every 400
//!   steps in A, and A going its own way from 60% on.
//! - `align/10k`: the alignment alone, on the signatures of such a pair.
//! - `align/unrelated-10k`: the alignment of two runs that share nothing past their start
//!   (no common prefix, suffix or anchor: the banded dynamic programme does all the work).
//! - `compare/parallel-10k`: the whole engine on two runs where each model call proposes
//!   two to four tool calls at once, logged (calls and results) in another order in each
//!   run, with one result failing in A at 60%: groups are found and compared as groups.

use criterion::{criterion_group, criterion_main, Criterion};
use retrace::diverge::align::{align, Sig};
use retrace::diverge::compare;
use retrace::model::{Status, Step, StepKind};
use serde_json::{json, Value};

const STEPS: usize = 10_000;

struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            a & 0xffff,
            b >> 52,
            (b >> 40) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

fn step(pos: usize, record: Value, n: &mut Noise) -> Step {
    let kind_name = record["kind"].as_str().unwrap().to_string();
    let status = match record.get("status").and_then(Value::as_str) {
        Some("error") => Status::Error,
        Some("ok") => Status::Ok,
        _ => Status::Unset,
    };
    Step {
        step: pos as u32,
        id: n.uuid(),
        parent: None,
        kind: StepKind::parse(&kind_name),
        kind_name,
        name: record
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned),
        status,
        error: None,
        ts: Some(1_764_000_000_000 + pos as i64 * 700 + (n.next() % 500) as i64),
        duration_ms: Some((n.next() % 3000) as f64),
        record,
    }
}

/// A long agent run: per item, a model call proposing a lookup, the lookup and its
/// result, every 5th item a decision, every 7th an effect. `diverge_at` (a fraction) is
/// where the run starts calling other tools with other arguments; `retry_every` inserts a
/// repeated lookup.
fn long_run(seed: u64, diverge_at: Option<f64>, retry_every: Option<usize>) -> Vec<Step> {
    let mut n = Noise(seed | 1);
    let mut steps = Vec::with_capacity(STEPS + 64);
    push(
        &mut steps,
        &mut n,
        json!({"kind": "run_start", "input": {"batch": "nightly", "source": "crm"}}),
    );
    let mut item = 0usize;
    while steps.len() < STEPS - 1 {
        let split = diverge_at.is_some_and(|f| steps.len() as f64 > f * STEPS as f64);
        let tool = if split { "fetch_archive" } else { "lookup" };
        let key = if split {
            format!("archive-{}", item * 3)
        } else {
            format!("item-{item}")
        };
        let v = json!({"kind": "llm_call", "name": "plan",
            "output": {"text": format!("Looking at {key} next ({}).", n.next() % 100),
                       "tool_calls": [{"id": format!("call_{}", n.next()), "name": tool, "args": {"key": key}}]},
            "tokens": {"input": n.next() % 4000, "output": n.next() % 300}, "status": "ok"});
        push(&mut steps, &mut n, v);
        let calls = if retry_every.is_some_and(|r| item % r == r - 1) {
            2
        } else {
            1
        };
        for _ in 0..calls {
            let request_id = n.uuid();
            let v = json!({"kind": "tool_call", "name": tool,
                "input": {"key": key, "request_id": request_id}});
            push(&mut steps, &mut n, v);
            let v = json!({"kind": "tool_result", "name": tool, "status": "ok",
                "output": {"key": key, "value": item * 17, "tags": ["a", "b"], "fetched_at": format!("2026-11-24T10:{:02}:00Z", n.next() % 60),
                           "trace": n.uuid()}});
            push(&mut steps, &mut n, v);
        }
        if item % 5 == 4 {
            let v = json!({"kind": "decision", "name": "route",
                "options": ["keep", "drop"], "chosen": if split { "drop" } else { "keep" },
                "reason": "value in range"});
            push(&mut steps, &mut n, v);
        }
        if item % 7 == 6 {
            let v = json!({"kind": "effect", "name": "db.write",
                "target": format!("db:items/{item}"), "action": "update", "input": {"key": key}});
            push(&mut steps, &mut n, v);
        }
        item += 1;
    }
    steps.truncate(STEPS - 1);
    push(
        &mut steps,
        &mut n,
        json!({"kind": "run_end", "outcome": if diverge_at.is_some() { "failure" } else { "success" }}),
    );
    steps
}

/// A long run of parallel groups: per item a model call, two to four tool calls hanging
/// under it (`parent`) and their results under the calls, in an order drawn from `seed`.
/// With `fail_at` (a fraction), the first result of the group there fails.
fn parallel_run(seed: u64, fail_at: Option<f64>) -> (Vec<Step>, Option<usize>) {
    let mut n = Noise(seed | 1);
    let mut steps = Vec::with_capacity(STEPS + 64);
    let mut failed = None;
    push(
        &mut steps,
        &mut n,
        json!({"kind": "run_start", "input": {"batch": "nightly", "source": "crm"}}),
    );
    let mut item = 0usize;
    while steps.len() < STEPS - 12 {
        let head = steps.len();
        let v = json!({"kind": "llm_call", "name": "plan",
            "output": {"text": format!("Checking item {item} in parallel.")}, "status": "ok"});
        push(&mut steps, &mut n, v);
        let head_id = steps[head].id.clone();
        let size = 2 + item % 3;
        let mut order: Vec<usize> = (0..size).collect();
        shuffle(&mut order, &mut n);
        let mut call_ids = vec![String::new(); size];
        for &m in &order {
            let tool = ["lookup", "get_price", "lookup", "check_stock"][m];
            let v = json!({"kind": "tool_call", "name": tool,
                "input": {"key": format!("item-{item}-{m}"), "request_id": n.uuid()}});
            push(&mut steps, &mut n, v);
            let last = steps.len() - 1;
            steps[last].parent = Some(head_id.clone());
            call_ids[m] = steps[last].id.clone();
        }
        let failing = fail_at.is_some_and(|f| failed.is_none() && head as f64 > f * STEPS as f64);
        shuffle(&mut order, &mut n);
        for &m in &order {
            let tool = ["lookup", "get_price", "lookup", "check_stock"][m];
            let v = if failing && m == 0 {
                failed = Some(steps.len());
                json!({"kind": "tool_result", "name": tool, "status": "error",
                    "error": {"code": "timeout"}})
            } else {
                json!({"kind": "tool_result", "name": tool, "status": "ok",
                    "output": {"key": format!("item-{item}-{m}"), "value": item * 17 + m, "trace": n.uuid()}})
            };
            push(&mut steps, &mut n, v);
            let last = steps.len() - 1;
            steps[last].parent = Some(call_ids[m].clone());
        }
        item += 1;
    }
    while steps.len() < STEPS - 1 {
        push(
            &mut steps,
            &mut n,
            json!({"kind": "decision", "name": "route", "chosen": "keep"}),
        );
    }
    push(
        &mut steps,
        &mut n,
        json!({"kind": "run_end", "outcome": "success"}),
    );
    (steps, failed)
}

fn shuffle<T>(v: &mut [T], n: &mut Noise) {
    for i in (1..v.len()).rev() {
        let j = (n.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn push(steps: &mut Vec<Step>, n: &mut Noise, v: Value) {
    let pos = steps.len();
    steps.push(step(pos, v, n));
}

fn unrelated(seed: u64, kinds: u8, names: u64) -> Vec<Sig> {
    let mut n = Noise(seed);
    (0..STEPS)
        .map(|_| {
            let r = n.next();
            let class = (r % u64::from(kinds)) as u8;
            let coarse = (r >> 8) % names;
            Sig {
                class,
                coarse,
                fine: coarse * 1000 + (r >> 32) % 3,
                weak: false,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let a = long_run(7, Some(0.6), Some(400));
    let b = long_run(11, None, None);
    assert_eq!((a.len(), b.len()), (STEPS, STEPS));

    // Sanity: the split is found where it was made, after the noise and the retries.
    let cmp = compare(&a, &b);
    let d = cmp.divergence.as_ref().expect("a divergence");
    let first_retry = a
        .iter()
        .zip(a.iter().skip(1))
        .position(|(x, y)| x.kind == StepKind::ToolResult && y.kind == StepKind::ToolCall)
        .unwrap();
    assert_eq!(d.a_step, Some(first_retry as u32 + 1), "{d:?}");

    c.bench_function("compare/10k", |bch| bch.iter(|| compare(&a, &b)));

    // Signatures as the engine builds them are internal; these have the same shape:
    // equal classes and names, fine keys equal where the steps behave the same.
    let sig = |s: &Step| {
        let class = s.kind as u8;
        let coarse = (u64::from(class) << 32) ^ s.name.as_deref().map_or(0, |n| n.len() as u64);
        let key = s
            .record
            .pointer("/input/key")
            .or(s.record.pointer("/output/key"));
        let fine = coarse ^ key.map_or(0, |k| k.to_string().len() as u64 * 0x9e37_79b9);
        Sig {
            class,
            coarse,
            fine,
            weak: false,
        }
    };
    let sa: Vec<Sig> = a.iter().map(sig).collect();
    let sb: Vec<Sig> = b.iter().map(sig).collect();
    c.bench_function("align/10k", |bch| bch.iter(|| align(&sa, &sb)));

    let (pa, failed) = parallel_run(13, Some(0.6));
    let (pb, _) = parallel_run(17, None);
    assert_eq!((pa.len(), pb.len()), (STEPS, STEPS));
    // Sanity: the reorderings are no divergence; the failing result is.
    assert!(compare(&pb, &parallel_run(19, None).0).divergence.is_none());
    let cmp = compare(&pa, &pb);
    let d = cmp.divergence.as_ref().expect("a divergence");
    assert_eq!(d.a_step, failed.map(|f| f as u32), "{d:?}");
    assert!(d.group.is_some());
    c.bench_function("compare/parallel-10k", |bch| bch.iter(|| compare(&pa, &pb)));

    let ua = unrelated(3, 4, 40);
    let ub = unrelated(5, 4, 50);
    c.bench_function("align/unrelated-10k", |bch| bch.iter(|| align(&ua, &ub)));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
