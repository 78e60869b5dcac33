//! The byte form of one parsed batch in the index cache: little-endian integers,
//! strings as a length and their UTF-8, steps as fixed 32-byte records. Decoding checks
//! every length, id and index against what the batch holds, so that a damaged or
//! hand-made cache is refused instead of trusted.

use super::super::interner::Interner;
use super::super::parse::{Extras, LocalAlias, LocalRun, LocalSummary, Parsed, Placed};
use super::super::{RunTokens, StepSummary, MAX_FILE_OFFSET, NO_STRING};
use crate::ingest::Place;
use crate::model::{Outcome, Status, StepKind, Tokens};

/// Marks an absent count or string (`None`), where a count is expected.
const NONE: u32 = u32::MAX;

const OUTCOMES: [Outcome; 6] = [
    Outcome::Success,
    Outcome::Failure,
    Outcome::Cancelled,
    Outcome::Timeout,
    Outcome::Running,
    Outcome::Unknown,
];

const PLACES: [Place; 9] = [
    Place::Given,
    Place::Root,
    Place::Turn,
    Place::Model,
    Place::Call,
    Place::Input,
    Place::Abort,
    Place::Aside,
    Place::Resume,
];

/// Appends the byte form of `p` to `out`. File and sequence numbers are left out: they
/// belong to the load that reads the cache back.
pub(in crate::index) fn encode(p: &Parsed, out: &mut Vec<u8>) {
    let mut w = Out(out);
    w.u64(p.lines);
    w.u64(p.end);
    w.u32(p.strings.strings().len() as u32);
    for s in p.strings.strings() {
        w.str(s);
    }
    w.u32(p.steps.len() as u32);
    w.0.reserve(p.steps.len() * 32);
    for s in &p.steps {
        w.u64(s.offset());
        w.i64(s.ts);
        w.u32(s.packed);
        w.u32(s.name);
        w.u32(s.seq);
        w.0.extend_from_slice(&s.duration_ms.to_le_bytes());
    }
    let errors: Vec<(usize, u32)> = (p.step_errors.iter().enumerate())
        .filter(|(_, &e)| e != NO_STRING)
        .map(|(i, &e)| (i, e))
        .collect();
    w.u32(errors.len() as u32);
    for (i, e) in errors {
        w.u32(i as u32);
        w.u32(e);
    }
    w.u32(p.runs.len() as u32);
    for (run, &count) in p.runs.iter().zip(&p.run_steps) {
        w.run(run);
        w.u32(count);
    }
    w.u32(p.problems.len() as u32);
    for (line, reason) in &p.problems {
        w.u64(*line);
        w.str(reason);
    }
    w.u32(p.aliases.len() as u32);
    for a in &p.aliases {
        w.u32(a.run);
        w.u64(a.name);
        w.str(&a.id);
        w.u8(u8::from(a.weak));
    }
    w.u32(p.extras.notes.len() as u32);
    for (line, reason) in &p.extras.notes {
        w.u64(*line);
        w.str(reason);
    }
    w.u32(p.extras.places.len() as u32);
    for placed in &p.extras.places {
        w.u32(placed.step);
        w.u8(PLACES.iter().position(|&x| x == placed.place).unwrap_or(0) as u8);
        w.u32(placed.id);
        w.u32(placed.parent);
    }
    w.u32(p.extras.record_ids.len() as u32);
    for &(key, run) in &p.extras.record_ids {
        w.u64(key);
        w.u32(run);
    }
    w.u32(p.extras.summaries.len() as u32);
    for s in &p.extras.summaries {
        w.u32(s.step);
        w.u32(s.run);
        w.u64(s.leaf_key);
        w.u32(s.leaf);
        w.u32(s.text);
    }
}

/// Reads one batch back as file `file`; `None` when the bytes are not a whole, coherent
/// batch.
pub(in crate::index) fn decode(bytes: &[u8], file: u32) -> Option<Parsed> {
    let mut r = In::new(bytes);
    let lines = r.u64()?;
    let end = r.u64()?;
    let string_count = r.count(4)?;
    let mut strings = Vec::with_capacity(string_count);
    for _ in 0..string_count {
        strings.push(Box::<str>::from(r.str()?));
    }
    let string_ok = |id: u32| id == NO_STRING || (id as usize) < string_count;
    let step_count = r.count(32)?;
    let mut steps = Vec::with_capacity(step_count);
    for _ in 0..step_count {
        let offset = r.u64()?;
        let ts = r.i64()?;
        let packed = r.u32()?;
        let name = r.u32()?;
        let seq = r.u32()?;
        let duration_ms = f32::from_le_bytes(r.take(4)?.try_into().ok()?);
        if offset >= MAX_FILE_OFFSET || !string_ok(name) {
            return None;
        }
        let mut s = StepSummary::new(file, offset, 0, StepKind::Other, Status::Unset);
        s.ts = ts;
        s.packed = packed;
        s.name = name;
        s.seq = seq;
        s.duration_ms = duration_ms;
        steps.push(s);
    }
    let mut step_errors = vec![NO_STRING; step_count];
    for _ in 0..r.count(8)? {
        let (i, e) = (r.u32()? as usize, r.u32()?);
        if i >= step_count || !string_ok(e) {
            return None;
        }
        step_errors[i] = e;
    }
    let run_count = r.count(4)?;
    let mut runs = Vec::with_capacity(run_count);
    let mut run_steps = Vec::with_capacity(run_count);
    for _ in 0..run_count {
        let run = r.run(&strings)?;
        let count = r.u32()?;
        if run.trigger.is_some_and(|(at, _)| at >= count) {
            return None;
        }
        runs.push(run);
        run_steps.push(count);
    }
    if run_steps.iter().map(|&c| c as usize).sum::<usize>() != step_count {
        return None;
    }
    let mut problems = Vec::new();
    for _ in 0..r.count(12)? {
        problems.push((r.u64()?, r.str()?.to_owned()));
    }
    let mut aliases = Vec::new();
    for _ in 0..r.count(17)? {
        let run = r.u32()?;
        let name = r.u64()?;
        let id = r.str()?.into();
        let weak = r.u8()? != 0;
        if run as usize >= run_count {
            return None;
        }
        aliases.push(LocalAlias {
            run,
            name,
            id,
            weak,
        });
    }
    let mut extras = Extras::default();
    for _ in 0..r.count(12)? {
        extras.notes.push((r.u64()?, r.str()?.to_owned()));
    }
    for _ in 0..r.count(13)? {
        let step = r.u32()?;
        let place = *PLACES.get(r.u8()? as usize)?;
        let (id, parent) = (r.u32()?, r.u32()?);
        if step as usize >= step_count || !string_ok(id) || !string_ok(parent) {
            return None;
        }
        extras.places.push(Placed {
            step,
            place,
            id,
            parent,
        });
    }
    for _ in 0..r.count(12)? {
        let (key, run) = (r.u64()?, r.u32()?);
        if run as usize >= run_count {
            return None;
        }
        extras.record_ids.push((key, run));
    }
    for _ in 0..r.count(24)? {
        let (step, run, leaf_key) = (r.u32()?, r.u32()?, r.u64()?);
        let (leaf, text) = (r.u32()?, r.u32()?);
        if step as usize >= step_count
            || run as usize >= run_count
            || !string_ok(leaf)
            || !string_ok(text)
        {
            return None;
        }
        extras.summaries.push(LocalSummary {
            step,
            run,
            leaf_key,
            leaf,
            text,
        });
    }
    if !r.is_done() {
        return None;
    }
    Some(Parsed {
        seq: 0,
        file,
        lines,
        steps,
        step_errors,
        run_steps,
        step_runs: Vec::new(),
        runs,
        strings: Interner::from_strings(strings),
        problems,
        aliases,
        extras: Box::new(extras),
        end,
        from_cache: true,
    })
}

struct Out<'a>(&'a mut Vec<u8>);

impl Out<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.u32(NONE),
        }
    }
    fn tokens(&mut self, t: Tokens) {
        self.u64(t.input);
        self.u64(t.output);
    }
    fn run(&mut self, run: &LocalRun) {
        self.str(&run.id);
        // The batch's strings, by number.
        for value in [run.agent, run.agent_version, run.model] {
            self.u32(value.unwrap_or(NONE));
        }
        match &run.labels {
            Some(labels) => {
                self.u32(labels.len() as u32);
                for &(k, v) in labels {
                    self.u32(k);
                    self.u32(v);
                }
            }
            None => self.u32(NONE),
        }
        let declared = run
            .declared
            .and_then(|o| OUTCOMES.iter().position(|&x| x == o));
        self.u8(declared.map_or(u8::MAX, |i| i as u8));
        self.opt_str(run.end_error.as_deref());
        match run.tokens.total {
            Some(t) => {
                self.u8(1);
                self.tokens(t);
            }
            None => self.u8(0),
        }
        match &run.tokens.once {
            Some(once) => {
                self.u32(once.len() as u32);
                for (&key, &t) in once.iter() {
                    self.u64(key);
                    self.tokens(t);
                }
            }
            None => self.u32(NONE),
        }
        self.u32(run.steps);
        match run.trigger {
            Some((at, kind)) => {
                self.u8(1);
                self.u32(at);
                self.u8(kind as u8);
            }
            None => self.u8(0),
        }
    }
}

/// Reads little-endian values; every read is `None` past the end.
pub(super) struct In<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> In<'a> {
        In { bytes, at: 0 }
    }
    pub(super) fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }
    pub(super) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    pub(super) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    pub(super) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub(super) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A count of items each at least `least` bytes long: refused when the rest of the
    /// bytes could not hold them (so a damaged count cannot ask for a huge allocation).
    fn count(&mut self, least: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(least)? <= self.bytes.len() - self.at).then_some(n)
    }
    pub(super) fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()? as usize;
        simdutf8::basic::from_utf8(self.take(len)?).ok()
    }
    fn opt_str(&mut self) -> Option<Option<Box<str>>> {
        let at = self.at;
        if self.u32()? == NONE {
            return Some(None);
        }
        self.at = at;
        Some(Some(self.str()?.into()))
    }
    /// A count, or `None` inside `Some` for an absent collection.
    fn opt_count(&mut self, least: usize) -> Option<Option<usize>> {
        let at = self.at;
        if self.u32()? == NONE {
            return Some(None);
        }
        self.at = at;
        Some(Some(self.count(least)?))
    }
    fn tokens(&mut self) -> Option<Tokens> {
        Some(Tokens {
            input: self.u64()?,
            output: self.u64()?,
        })
    }
    /// A run whose strings are among `strings` (its labels in the order of their keys).
    fn run(&mut self, strings: &[Box<str>]) -> Option<LocalRun> {
        let id = self.str()?.into();
        let string = |r: &mut Self| -> Option<Option<u32>> {
            match r.u32()? {
                NONE => Some(None),
                id => strings.get(id as usize).map(|_| Some(id)),
            }
        };
        let agent = string(self)?;
        let agent_version = string(self)?;
        let model = string(self)?;
        let labels = match self.opt_count(8)? {
            Some(n) => {
                let mut labels = Vec::with_capacity(n);
                for _ in 0..n {
                    labels.push((string(self)??, string(self)??));
                }
                let key = |id: u32| &strings[id as usize];
                if !labels.windows(2).all(|w| key(w[0].0) < key(w[1].0)) {
                    return None;
                }
                Some(labels)
            }
            None => None,
        };
        let declared = match self.u8()? {
            u8::MAX => None,
            i => Some(*OUTCOMES.get(i as usize)?),
        };
        let end_error = self.opt_str()?;
        let total = match self.u8()? {
            0 => None,
            _ => Some(self.tokens()?),
        };
        let once = match self.opt_count(24)? {
            Some(n) => {
                let mut once = rustc_hash::FxHashMap::default();
                for _ in 0..n {
                    once.insert(self.u64()?, self.tokens()?);
                }
                Some(Box::new(once))
            }
            None => None,
        };
        let steps = self.u32()?;
        let trigger = match self.u8()? {
            0 => None,
            _ => {
                let at = self.u32()?;
                let kind = *StepKind::ALL.get(self.u8()? as usize)?;
                Some((at, kind))
            }
        };
        Some(LocalRun {
            id,
            agent,
            agent_version,
            model,
            labels,
            declared,
            end_error,
            tokens: RunTokens { total, once },
            steps,
            trigger,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::parse::{parse_chunk, Chunk};
    use super::*;
    use crate::model::Format;

    fn parsed(text: &str) -> Parsed {
        let buf = text.as_bytes().to_vec();
        let chunk = Chunk {
            seq: 0,
            file: 0,
            format: Format::Native,
            stem: "runs".into(),
            base: 0,
            len: buf.len(),
            buf,
            stopped: None,
        };
        parse_chunk(chunk).0
    }

    fn bytes(p: &Parsed) -> Vec<u8> {
        let mut out = Vec::new();
        encode(p, &mut out);
        out
    }

    const LINES: &str = concat!(
        r#"{"run_id":"a","step":0,"kind":"run_start","agent":"bot","labels":{"k":"v"},"tokens":{"input":3,"output":4}}"#,
        "\n",
        r#"{"run_id":"b","step":0,"kind":"tool_call","name":"fetch","status":"error","error":{"code":"E1"}}"#,
        "\nnot json\n",
        r#"{"run_id":"a","step":1,"kind":"run_end","outcome":"failure","error":{"message":"gave up"}}"#,
        "\n",
    );

    #[test]
    fn a_batch_reads_back_as_it_was_written() {
        let p = parsed(LINES);
        assert_eq!(p.steps.len(), 3);
        assert_eq!(p.problems.len(), 1);
        let written = bytes(&p);
        let read = decode(&written, 7).expect("decodes");
        assert_eq!(bytes(&read), written);
        assert!(
            read.steps.iter().all(|s| s.file() == 7),
            "as the file given"
        );
        assert_eq!(read.runs[0].labels, p.runs[0].labels);
    }

    #[test]
    fn a_cut_or_incoherent_batch_is_refused() {
        let written = bytes(&parsed(LINES));
        for len in 0..written.len() {
            assert!(decode(&written[..len], 0).is_none(), "cut at {len}");
        }
        // A step naming a string the batch does not have.
        let mut p = parsed(LINES);
        p.steps[0].name = p.strings.strings().len() as u32 + 3;
        assert!(decode(&bytes(&p), 0).is_none());
        // Steps per run that do not add up to the steps.
        let mut p = parsed(LINES);
        p.run_steps[0] += 1;
        assert!(decode(&bytes(&p), 0).is_none());
        // A trigger past its run's steps.
        let mut p = parsed(LINES);
        p.runs[1].trigger = Some((9, StepKind::ToolCall));
        assert!(decode(&bytes(&p), 0).is_none());
        // An agent or a label naming a string the batch does not have; labels out of
        // the order of their keys.
        let mut p = parsed(LINES);
        p.runs[0].agent = Some(p.strings.strings().len() as u32);
        assert!(decode(&bytes(&p), 0).is_none());
        let mut p = parsed(LINES);
        let (k, v) = (p.strings.intern("zz"), p.strings.intern("v2"));
        p.runs[0]
            .labels
            .as_mut()
            .expect("labelled")
            .insert(0, (k, v));
        assert!(decode(&bytes(&p), 0).is_none());
    }

    #[test]
    fn labels_given_twice_keep_the_later_value_in_the_order_of_their_keys() {
        let p = parsed(concat!(
            r#"{"run_id":"a","step":0,"kind":"run_start","labels":{"m":"1","b":"2"}}"#,
            "\n",
            r#"{"run_id":"a","step":1,"kind":"run_start","labels":{"m":"3","a":"4"}}"#,
            "\n",
        ));
        let read = decode(&bytes(&p), 0).expect("decodes");
        let text = |pairs: &[(u32, u32)]| -> Vec<(String, String)> {
            (pairs.iter())
                .map(|&(k, v)| (read.strings.get(k).into(), read.strings.get(v).into()))
                .collect()
        };
        let pairs = read.runs[0].labels.as_deref().expect("labelled");
        let want = [("a", "4"), ("b", "2"), ("m", "3")].map(|(k, v)| (k.into(), v.into()));
        assert_eq!(text(pairs), want);
    }
}
