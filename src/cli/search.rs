//! `retrace search`: the browser's search, headless. Looks for the query's words in the
//! records as the load parses them (`search::fused`: the file is read once; other formats
//! than native are indexed), runs the query and prints the hits, best first: a table for people
//! (matched characters in bold when stdout is a terminal), or JSON lines for scripts.

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{cell, problems_json, CliError, Common, Paths};
use crate::index::History;
use crate::index::{LineScan, LineScanHook};
use crate::sanitize;
use crate::search::text_index::cache::{self as word_cache, ReadAhead};
use crate::search::{
    self, FusedText, Query, QueryLineScan, ScanReports, ScanText, SearchOptions, SearchResult,
    Session, TextIndex, TextSource,
};
use crate::work::Cancel;

/// The arguments of `retrace search`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The query, e.g. 'refund polcy error:SCHEMA_MISMATCH since:7d'.
    pub query: String,
    #[command(flatten)]
    pub paths: Paths,
    /// One JSON object per hit and line: {"run_id", "step", "field", "score",
    /// "snippet", "positions"}; the last line is {"problems": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Most hits shown.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: u64,
    /// Report timings and text-index figures on stderr.
    #[arg(long)]
    pub stats: bool,
    /// Build the word index instead of scanning the records, and keep it in the word
    /// cache (unless --no-cache): later searches of these files answer from it at once.
    #[arg(long)]
    pub index: bool,
    /// Search the incident library instead of runs (no PATH needed): one JSON object
    /// per hit {"incident", "title", "field", "score", "snippet", "positions"}.
    #[arg(long)]
    pub incidents: bool,
    /// The library folder, with --incidents (default: $RETRACE_LIBRARY, else
    /// $XDG_DATA_HOME/retrace, else ~/.local/share/retrace).
    #[arg(long, value_name = "DIR", requires = "incidents")]
    pub library: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let common = &args.common;
    let query = super::parse_query("query", &args.query)?;
    if args.incidents {
        return search_incidents(&args, &query);
    }
    let started = Instant::now();
    // The query's words are looked for in each chunk as the load parses it, so the
    // files are read once (native files; see `search::fused`). --index builds the word
    // index instead, and none is needed when the word caches hold the files' words.
    let wants_scan = query.has_text() && !args.index;
    let word_cached = wants_scan && word_caches_answer(&args);
    let line_scan = (wants_scan && !word_cached).then(|| Arc::new(QueryLineScan::new(&query)));
    let hook = line_scan
        .as_ref()
        .map(|scan| LineScanHook(Arc::clone(scan) as Arc<dyn LineScan>));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut reports = ScanReports::default();
    let load = || {
        super::load_scanning(&args.paths, common, hook, |batch| {
            if let Some(scanned) = batch.take_scanned() {
                reports.add(scanned);
            }
        })
    };
    // Bytes the load takes from the index cache are read and scanned alongside it; or
    // the word caches are read alongside it, when they hold the files.
    let (history, blocks, ahead) = match &line_scan {
        Some(scan) => {
            let (history, blocks) = scan.scan_while(threads, load);
            (history, blocks, ReadAhead::default())
        }
        None if word_cached => std::thread::scope(|scope| {
            let reading = scope.spawn(|| read_word_caches_ahead(&args));
            let history = load();
            (
                history,
                Default::default(),
                reading.join().unwrap_or_default(),
            )
        }),
        None => (load(), Default::default(), ReadAhead::default()),
    };
    let history = history?;
    if args.stats {
        let how = match &line_scan {
            Some(_) => format!(
                "and scan; {:.1} MB from the index cache scanned alongside",
                blocks.bytes() as f64 / 1e6
            ),
            None if word_cached => "no scan: the word caches hold the files".to_owned(),
            None => "no scan".to_owned(),
        };
        eprintln!(
            "load ({how}): {} steps, {} runs in {:.2} s",
            history.step_count(),
            history.run_count(),
            started.elapsed().as_secs_f64()
        );
    }
    reports.add_blocks(blocks);
    let fused = line_scan
        .as_deref()
        .and_then(|scan| FusedText::new(&history, scan, &mut reports, threads, &Cancel::never()));
    if !args.json {
        super::report_problems(&history, 5);
    }
    let options = Options {
        json: args.json,
        limit: args.limit as usize,
        highlight: !args.json && io::stdout().is_terminal(),
        stats: args.stats,
        index: args.index,
    };
    let mut out = super::stdout();
    search_and_print(&history, &query, fused.as_ref(), ahead, &options, &mut out)?;
    if args.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({"problems": problems_json(history.problems())}),
        )?;
        writeln!(out)?;
    }
    out.flush()?;
    super::finish(&history, common)
}

/// Whether the word caches will likely answer the search (their headers say they still
/// describe every file): then scanning the records as they load would be work thrown away.
fn word_caches_answer(args: &Args) -> bool {
    word_caches(args).is_some_and(|(dir, min, paths)| {
        word_cache::likely_answer(&dir, min, &paths, args.common.format)
    })
}

/// The word caches of the files, read and checked (while the history loads).
fn read_word_caches_ahead(args: &Args) -> ReadAhead {
    word_caches(args).map_or_else(ReadAhead::default, |(dir, min, paths)| {
        word_cache::read_ahead(&dir, min, &paths, args.common.format)
    })
}

/// The word caches' folder, the smallest file cached, and the paths searched; `None`
/// with `--no-cache`.
fn word_caches(args: &Args) -> Option<(std::path::PathBuf, u64, Vec<std::path::PathBuf>)> {
    let dir = word_cache::dir_for(&args.common.cache_dir()?);
    Some((
        dir,
        crate::index::cache::MIN_CACHED_BYTES,
        args.paths.resolved(),
    ))
}

/// `--incidents`: the query over the library's incident records.
fn search_incidents(args: &Args, query: &Query) -> Result<(), CliError> {
    use crate::incidents::store::IncidentStore;
    let library = crate::postmortem::notes::Library::locate(args.library.as_deref())?;
    let loaded = IncidentStore::new(library).load_all()?;
    for p in &loaded.problems {
        eprintln!("retrace: {}", sanitize::line(&p.to_string()));
    }
    let hits = crate::incidents::search::search(
        &loaded.incidents,
        query,
        crate::search::now_ms(),
        args.limit as usize,
    );
    let mut out = super::stdout();
    for h in &hits {
        if args.json {
            serde_json::to_writer(&mut out, h)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{}  {:<9} {}",
                cell(&sanitize::line(&h.incident), 24),
                h.field,
                h.snippet
            )?;
        }
    }
    if !args.json {
        writeln!(
            out,
            "{} incident(s) of {}",
            hits.len(),
            loaded.incidents.len()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// How to run and print a search.
#[derive(Debug, Clone)]
pub struct Options {
    pub json: bool,
    pub limit: usize,
    /// Mark matched characters (bold); for a terminal.
    pub highlight: bool,
    /// Report timings and index figures on stderr.
    pub stats: bool,
    /// Build the word index (kept in the word cache) rather than scan the records.
    pub index: bool,
}

/// One JSON line per hit.
#[derive(Serialize)]
struct HitJson<'a> {
    run_id: &'a str,
    step: Option<u32>,
    field: &'a str,
    score: u32,
    snippet: &'a str,
    positions: &'a [usize],
}

/// Searches with the word index from the word caches (`ahead`: those read while the
/// history loaded) when they hold any of it; else the text in `fused` (what the load
/// found) when given; else scans the records (native files) or indexes what the query
/// needs (a search [`Session`]). Prints.
pub fn search_and_print(
    history: &History,
    query: &Query,
    fused: Option<&FusedText>,
    ahead: ReadAhead,
    options: &Options,
    out: &mut impl Write,
) -> io::Result<()> {
    let never = Cancel::never();
    let search_options = SearchOptions {
        limit: options.limit.max(1),
        ..SearchOptions::default()
    };
    // A word index kept in the word caches answers at once (the steps it lacks, such as
    // a grown file's new ones, are indexed first).
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    if let Some(index) = query
        .has_text()
        .then(|| cached_index(history, threads, ahead))
        .flatten()
    {
        let started = Instant::now();
        let result = search::search(history, Some(&index), query, &search_options, &never)
            .map_err(|_| io::Error::other("search cancelled"))?;
        if options.stats {
            eprintln!(
                "search (word index from the cache, {} of {} steps): {:.1} ms, {} candidates, {} hits",
                index.cached(),
                history.step_count(),
                started.elapsed().as_secs_f64() * 1e3,
                result.candidates,
                result.hits.len()
            );
        }
        return print(history, &result, options, out);
    }
    // One query needs no word index: the records are scanned once, and only the lines
    // that could match are cut into words (native files; other formats are indexed).
    // --index asks for the word index (built, and written to the word cache) instead.
    let fused = fused.filter(|_| !options.index);
    let scan = match fused {
        Some(_) => None,
        None => (query.has_text() && !options.index)
            .then(|| ScanText::new(history, threads))
            .flatten(),
    };
    let text: Option<(&dyn TextSource, &str)> = match (fused, &scan) {
        (Some(f), _) if f.scanned_after_load() => Some((
            f,
            "scanned while loading, cached files' bytes read and scanned",
        )),
        (Some(f), _) => Some((f, "scanned while loading")),
        (None, Some(s)) => Some((s, "records scanned")),
        (None, None) => None,
    };
    if let Some((text, how)) = text {
        let started = Instant::now();
        let result = search::search_in(history, Some(text), query, &search_options, &never)
            .map_err(|_| io::Error::other("search cancelled"))?;
        if options.stats {
            eprintln!(
                "search ({how}, no word index): {:.1} ms, {} candidates, {} hits",
                started.elapsed().as_secs_f64() * 1e3,
                result.candidates,
                result.hits.len()
            );
        }
        return print(history, &result, options, out);
    }
    let mut session = Session::new();
    if query.has_text() {
        let started = Instant::now();
        let built = show_progress(history, session.progress(), || {
            session.catch_up(|| history, &never)
        });
        built.map_err(|e| io::Error::other(e.to_string()))?;
        if options.stats {
            report_index(session.index(), started.elapsed());
        }
    }
    let started = Instant::now();
    let result = session
        .search(|| history, query, &search_options, &never)
        .map_err(|e| io::Error::other(e.to_string()))?;
    if options.stats {
        eprintln!(
            "search: {:.1} ms, {} candidates, {} hits",
            started.elapsed().as_secs_f64() * 1e3,
            result.candidates,
            result.hits.len()
        );
    }
    print(history, &result, options, out)
}

/// The word index from the word caches of `history`, brought up to date, when the caches
/// hold any of it (see [`crate::search::text_index::cache`]).
fn cached_index(history: &History, threads: usize, ahead: ReadAhead) -> Option<TextIndex> {
    let (dir, min) = history.cache()?;
    let dir = word_cache::dir_for(dir);
    let never = Cancel::never();
    let progress = AtomicU64::new(0);
    let mut index = TextIndex::from_cache(&dir, min, history, ahead, &never, &progress).ok()??;
    if index.cached() == 0 {
        return None;
    }
    index
        .update_from(|| history, threads, &never, &progress)
        .ok()?;
    Some(index)
}

/// Runs `work` (indexing), showing its progress on a terminal's stderr when it is big.
fn show_progress<T>(history: &History, progress: Arc<AtomicU64>, work: impl FnOnce() -> T) -> T {
    let total = history.step_count() as u64;
    let show = io::stderr().is_terminal() && total > 200_000;
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if show {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(200));
                    let p = progress.load(Ordering::Relaxed) * 100 / total.max(1);
                    eprint!("\rindexing text: {p:>3}%");
                }
                eprint!("\r\x1b[K");
            });
        }
        let result = work();
        done.store(true, Ordering::Relaxed);
        result
    })
}

fn report_index(index: &TextIndex, took: Duration) {
    let s = index.stats();
    eprintln!(
        "text index: {} steps in {:.2} s; {} segments, {} words ({} bitmaps); \
         lists {:.1} MB, bitmaps {:.1} MB, vocabulary {:.1} MB, {:.1} MB in all; {} unreadable",
        s.slots,
        took.as_secs_f64(),
        s.segments,
        s.words,
        s.dense_words,
        s.list_bytes as f64 / 1e6,
        s.bitmap_bytes as f64 / 1e6,
        s.vocabulary_bytes as f64 / 1e6,
        s.heap_bytes as f64 / 1e6,
        s.unreadable
    );
}

/// Prints the hits: JSON lines, or a table and a summary line.
pub fn print(
    history: &History,
    result: &SearchResult,
    options: &Options,
    out: &mut impl Write,
) -> io::Result<()> {
    if options.json {
        for hit in &result.hits {
            let line = HitJson {
                run_id: history.run(hit.run).id(),
                step: hit.step,
                field: &hit.field,
                score: hit.score,
                snippet: &hit.snippet,
                positions: &hit.positions,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    let id_width = result
        .hits
        .iter()
        .map(|h| super::width(&sanitize::line(history.run(h.run).id())))
        .max()
        .unwrap_or(0)
        .clamp(6, 40);
    if !result.hits.is_empty() {
        writeln!(
            out,
            "{} {:>5}  {} MATCH",
            cell("RUN", id_width),
            "STEP",
            cell("FIELD", 10)
        )?;
    }
    for hit in &result.hits {
        let step = hit.step.map_or("-".to_owned(), |s| format!("#{s}"));
        let snippet = sanitize::line(&hit.snippet);
        let shown = if options.highlight {
            bold(&snippet, &hit.positions)
        } else {
            snippet.into_owned()
        };
        writeln!(
            out,
            "{} {:>5}  {} {}",
            cell(&sanitize::line(history.run(hit.run).id()), id_width),
            step,
            cell(&sanitize::line(&hit.field), 10),
            shown
        )?;
    }
    let partial = if result.text_covered < history.step_count() && result.text_covered > 0 {
        format!(
            " (text of {} of {} steps searched)",
            result.text_covered,
            history.step_count()
        )
    } else {
        String::new()
    };
    match result.hits.len() {
        0 => writeln!(out, "no matches{partial}"),
        n => writeln!(
            out,
            "{n} hit{} shown of {} candidates{partial}",
            if n == 1 { "" } else { "s" },
            result.candidates
        ),
    }
}

/// Marks the characters at `positions` in bold (our own escapes, around sanitized text).
fn bold(text: &str, positions: &[usize]) -> String {
    let mut out = String::with_capacity(text.len() + positions.len() * 8);
    let mut on = false;
    for (i, c) in text.chars().enumerate() {
        let lit = positions.binary_search(&i).is_ok();
        if lit != on {
            out.push_str(if lit { "\x1b[1m" } else { "\x1b[22m" });
            on = lit;
        }
        out.push(c);
    }
    if on {
        out.push_str("\x1b[22m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bold_marks_runs_of_positions() {
        assert_eq!(bold("abcd", &[1, 2]), "a\x1b[1mbc\x1b[22md");
        assert_eq!(bold("ab", &[1]), "a\x1b[1mb\x1b[22m");
        assert_eq!(bold("ab", &[]), "ab");
    }
}
