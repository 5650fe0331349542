//! Compile time of this compiler on three corpora, side by side with the reference compiler
//! (`@fluencelabs/aqua-api`, run by `tools/aqua-corpus/bench-reference.mjs`) in the same run.
//!
//! Corpora: `stdlib` (the standard library, `stdlib/*.aqua`), `programs` (the runnable corpus,
//! `aqua/tests/programs/**.aqua`) and `project` (`aqua/benches/project`, 25 modules and about
//! 5,000 lines written by `tools/aqua-corpus/gen-project.py`).
//!
//! What is measured is [`compile_corpus`]: the whole compiler (load every file and the bundled
//! library it imports, check names and types, generate the AIR of every exported function),
//! as the reference does. `cargo bench -p aqua --bench compile`
//! runs one criterion group per corpus (function `ours`, warm: sources in memory), the group
//! `one_line_edit` (one line of a project module changes in an `aqua::db::Workspace` that
//! compiled the project before, and the project is checked again; function `recheck`: the
//! middle module, which no module imports; `recheck_imported`: the module that the most
//! modules import, with an edit that moves the text after it),
//! then times cold runs (a fresh process reads the corpus and compiles it
//! once) and prints the table `corpus | ours | reference | speed-up`, cold and warm.
//!
//! Environment:
//! - `AQUA_BENCH_REFERENCE=0` leaves the reference out; `=1` requires it (the run fails without
//!   node or `tools/aqua-corpus/node_modules`); unset, it runs when both are there;
//! - `AQUA_BENCH_REFERENCE_WARM=<k>` sets the reference's warm compilations per corpus
//!   (default 5).

#[path = "../../tools/bench-support/criterion_estimates.rs"]
mod criterion_estimates;
#[path = "../../tools/bench-support/node_reference.rs"]
mod node_reference;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput};

use criterion_estimates::{criterion_dir, duration, median_ns};

/// Selects a cold run in a child process: the corpus name.
const COLD_ENV: &str = "AQUA_BENCH_COLD_CHILD";
/// Cold runs per corpus; the table shows their median.
const COLD_RUNS: usize = 7;

// ---------------------------------------------------------------------------------------------
// Corpora.

const CORPORA: [&str; 3] = ["stdlib", "programs", "project"];

struct SourceFile {
    path: PathBuf,
    text: String,
}

struct Corpus {
    name: &'static str,
    files: Vec<SourceFile>,
}

impl Corpus {
    fn bytes(&self) -> usize {
        self.files.iter().map(|f| f.text.len()).sum()
    }

    fn lines(&self) -> usize {
        self.files.iter().map(|f| f.text.lines().count()).sum()
    }
}

fn repo_root() -> &'static Path {
    // `aqua/` is one level below the workspace root.
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn corpus_dir(name: &str) -> PathBuf {
    let relative = match name {
        "stdlib" => "stdlib",
        "programs" => "aqua/tests/programs",
        "project" => "aqua/benches/project",
        other => panic!("unknown corpus {other:?}"),
    };
    repo_root().join(relative)
}

fn aqua_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("readable directory entry").path();
        if path.is_dir() {
            aqua_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "aqua") {
            out.push(path);
        }
    }
}

/// Reads every `.aqua` file below the corpus directory, in path order.
fn load(name: &'static str) -> Corpus {
    let mut paths = Vec::new();
    aqua_files(&corpus_dir(name), &mut paths);
    paths.sort();
    assert!(!paths.is_empty(), "corpus {name} has no .aqua file");
    let files = paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            SourceFile { path, text }
        })
        .collect();
    Corpus { name, files }
}

// ---------------------------------------------------------------------------------------------
// What is measured.

/// Compiles a corpus: loads every file (and the bundled standard library it imports), checks
/// it and generates the AIR of every exported function. Returns the number of diagnostics.
fn compile_corpus(files: &[SourceFile]) -> usize {
    let compilation = std::hint::black_box(compile_files(files));
    compilation.diagnostics().len()
}

fn compile_files(files: &[SourceFile]) -> aqua::compile::Compilation {
    let sources: aqua::project::MemoryFiles = files
        .iter()
        .map(|f| (f.path.clone(), f.text.clone().into_bytes()))
        .collect();
    let roots: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    aqua::compile::compile(&roots, &sources, &aqua::compile::Options::default())
}

/// A one-line edit of a project module: its path and two versions of the file that differ from
/// the committed one on one line, so that consecutive iterations always see a changed file.
struct Edit {
    path: PathBuf,
    versions: [String; 2],
}

/// The edits that `one_line_edit` times, by function name: the middle project module (no
/// module imports it), and the module that the most modules import.
fn one_line_edits(project: &Corpus) -> [(&'static str, Edit); 2] {
    let middle = &project.files[project.files.len() / 2];
    let importers = |file: &SourceFile| {
        let name = file.path.file_name().expect("a file").to_string_lossy();
        let quoted = format!("\"{name}\"");
        project
            .files
            .iter()
            .filter(|other| other.text.contains(&quoted))
            .count()
    };
    let imported = project
        .files
        .iter()
        .max_by_key(|file| importers(file))
        .expect("a project module");
    assert!(importers(imported) > 1, "no project module is imported");
    [
        ("recheck", one_line_edit(middle, [1000, 1001])),
        // Literals of two lengths: each edit moves the text after it.
        ("recheck_imported", one_line_edit(imported, [1, 1000])),
    ]
}

/// Changes the literal of the first `limit + <n>` comparison of `file` to each of `literals`.
fn one_line_edit(file: &SourceFile, literals: [u32; 2]) -> Edit {
    let edited = |n: u32| {
        let mut changed = false;
        let lines: Vec<String> = file
            .text
            .lines()
            .map(|line| match line.split_once("limit + ") {
                Some((before, after)) if !changed => {
                    changed = true;
                    let rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
                    format!("{before}limit + {n}{rest}")
                }
                _ => line.to_owned(),
            })
            .collect();
        assert!(changed, "{}: no `limit + <n>` line", file.path.display());
        lines.join("\n") + "\n"
    };
    Edit {
        path: file.path.clone(),
        versions: literals.map(edited),
    }
}

/// A workspace holding the project, compiled once, as an editor's would be.
fn workspace(
    project: &Corpus,
) -> (
    aqua::db::Workspace<aqua::project::MemoryFiles>,
    Vec<PathBuf>,
) {
    let sources: aqua::project::MemoryFiles = project
        .files
        .iter()
        .map(|f| (f.path.clone(), f.text.clone().into_bytes()))
        .collect();
    let roots: Vec<PathBuf> = project.files.iter().map(|f| f.path.clone()).collect();
    let mut workspace = aqua::db::Workspace::new(sources);
    workspace.compile(&roots, &aqua::compile::Options::default());
    (workspace, roots)
}

/// What `one_line_edit` measures: the edited text goes into the workspace, and the project is
/// checked again (names and types; no AIR). Returns the number of diagnostics.
fn recheck(
    workspace: &mut aqua::db::Workspace<aqua::project::MemoryFiles>,
    roots: &[PathBuf],
    edit: &Edit,
    version: usize,
) -> usize {
    workspace.set_file(&edit.path, edit.versions[version].clone());
    let checked = workspace.check(roots, &aqua::compile::Options::default());
    checked.diagnostics().len()
}

/// Every corpus must compile cleanly before it is timed: a benchmark of error paths would
/// measure something else.
fn assert_clean(corpus: &Corpus) {
    let compilation = compile_files(&corpus.files);
    if let Some((module, d)) = compilation.diagnostics().first() {
        let module = compilation.project.module(*module);
        let report = aqua::diagnostic::render(d, &module.path, &module.text, false);
        panic!("corpus {} does not compile cleanly:\n{report}", corpus.name);
    }
    if let Some(f) = compilation.functions.iter().find(|f| f.air.is_err()) {
        panic!(
            "corpus {}: function {} is not compiled: {:?}",
            corpus.name, f.name, f.air
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Timing.

fn benches(c: &mut Criterion, corpora: &[Corpus], edits: &[(&str, Edit)]) {
    let project = corpora
        .iter()
        .find(|c| c.name == "project")
        .expect("project");
    for corpus in corpora {
        let mut group = c.benchmark_group(corpus.name);
        group
            .throughput(Throughput::Bytes(corpus.bytes() as u64))
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        group.bench_function("ours", |b| {
            b.iter(|| compile_corpus(std::hint::black_box(&corpus.files)))
        });
        group.finish();
    }

    let mut group = c.benchmark_group("one_line_edit");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for (name, edit) in edits {
        let (mut workspace, roots) = workspace(project);
        let mut round = 0;
        group.bench_function(*name, |b| {
            b.iter(|| {
                round += 1;
                recheck(&mut workspace, &roots, edit, round % 2)
            })
        });
    }
    group.finish();
}

/// A cold run in this (fresh) process: read the corpus from disk and compile it once. Prints
/// the nanoseconds from the start of `main` and the number of diagnostics.
fn cold_child(name: &str, started: Instant) {
    let name = CORPORA
        .into_iter()
        .find(|c| *c == name)
        .unwrap_or_else(|| panic!("unknown corpus {name:?}"));
    let corpus = load(name);
    let diagnostics = compile_corpus(&corpus.files);
    println!("{} {diagnostics}", started.elapsed().as_nanos());
}

/// The median of `runs` cold runs of a corpus, each in a child process, in nanoseconds.
fn cold_ns(name: &str, runs: usize) -> f64 {
    let exe = std::env::current_exe().expect("current_exe");
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let out = Command::new(&exe)
                .env(COLD_ENV, name)
                .output()
                .expect("spawn the cold-run child");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "cold run of {name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut numbers = text.split_whitespace().map(|w| w.parse::<f64>().ok());
            let (Some(Some(ns)), Some(Some(diagnostics))) = (numbers.next(), numbers.next()) else {
                panic!("cold-run child for {name} printed {text:?}");
            };
            assert_eq!(diagnostics, 0.0, "cold run of {name} reports diagnostics");
            ns
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// The reference.

/// The reference's figures for one corpus, from `bench-reference.mjs`.
struct Reference {
    files: u64,
    cold_ms: f64,
    warm_ms: Option<f64>,
}

/// Runs `bench-reference.mjs` once for all corpora, if wanted and possible (see the module
/// documentation). `None` when it is left out; a failure when it was required or it breaks.
fn run_reference() -> Option<Vec<(String, Reference)>> {
    let root = repo_root();
    if !node_reference::wanted(
        "AQUA_BENCH_REFERENCE",
        root,
        "tools/aqua-corpus",
        "@fluencelabs/aqua-api",
        "reference",
    ) {
        return None;
    }
    let dir = root.join("tools/aqua-corpus");
    let warm = std::env::var("AQUA_BENCH_REFERENCE_WARM").unwrap_or_else(|_| "5".to_owned());
    eprintln!("timing the reference compiler (bench-reference.mjs --warm {warm})...");
    let out = Command::new("node")
        .current_dir(&dir)
        .args(["bench-reference.mjs", "--warm", &warm])
        .args(CORPORA)
        .output()
        .expect("spawn node");
    assert!(
        out.status.success(),
        "bench-reference.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("bench-reference.mjs printed {line:?}: {e}"));
            let corpus = row["corpus"].as_str().expect("corpus name").to_owned();
            let reference = Reference {
                files: row["files"].as_u64().expect("files"),
                cold_ms: row["cold_ms"].as_f64().expect("cold_ms"),
                warm_ms: row["warm_ms"].as_f64(),
            };
            (corpus, reference)
        })
        .collect();
    Some(rows)
}

// ---------------------------------------------------------------------------------------------
// The summary.

struct Row {
    cold_ns: f64,
    warm_ns: Option<f64>,
    reference: Option<Reference>,
}

fn print_table(
    corpora: &[Corpus],
    rows: &[Row],
    cold_runs: usize,
    edit_ns: &[(&str, Option<f64>)],
) {
    let time = |ns: Option<f64>| ns.map(duration).unwrap_or_else(|| "-".to_owned());
    let speedup = |ours: Option<f64>, theirs: Option<f64>| match (ours, theirs) {
        (Some(ours), Some(theirs)) => format!("{:.0}x", theirs / ours),
        _ => "-".to_owned(),
    };
    println!();
    println!("Compile time per corpus. ours = the whole compiler, `compile_corpus`.");
    println!("cold: a fresh process reads the corpus and compiles it once (ours: median of");
    println!("{cold_runs} run(s); reference: loading aqua-api + the first compilation, node's");
    println!(
        "start-up excluded). warm: criterion median (ours), median of the repeats (reference)."
    );
    println!(
        "{:<9} {:>5} {:>6} | {:>10} {:>10} {:>8} | {:>10} {:>10} {:>8}",
        "corpus",
        "files",
        "lines",
        "ours cold",
        "ref cold",
        "speed-up",
        "ours warm",
        "ref warm",
        "speed-up"
    );
    for (corpus, row) in corpora.iter().zip(rows) {
        let ref_cold = row.reference.as_ref().map(|r| r.cold_ms * 1e6);
        let ref_warm = row
            .reference
            .as_ref()
            .and_then(|r| r.warm_ms)
            .map(|ms| ms * 1e6);
        println!(
            "{:<9} {:>5} {:>6} | {:>10} {:>10} {:>8} | {:>10} {:>10} {:>8}",
            corpus.name,
            corpus.files.len(),
            corpus.lines(),
            duration(row.cold_ns),
            time(ref_cold),
            speedup(Some(row.cold_ns), ref_cold),
            time(row.warm_ns),
            time(ref_warm),
            speedup(row.warm_ns, ref_warm),
        );
    }
    println!("one-line edit of a project module, then the project checked again:");
    for (name, ns) in edit_ns {
        println!("  {name:<17} {}", time(*ns));
    }
}

fn main() {
    let started = Instant::now();
    if let Ok(name) = std::env::var(COLD_ENV) {
        cold_child(&name, started);
        return;
    }
    // Criterion benchmarks only under `cargo bench` (`--bench`); `cargo test --benches` and
    // `--test` run each function once, with one cold run and no reference (no warm figures).
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let full_run = has("--bench") && !has("--test") && !has("--list");

    let corpora: Vec<Corpus> = CORPORA.into_iter().map(load).collect();
    for corpus in &corpora {
        assert_clean(corpus);
    }
    let project = corpora
        .iter()
        .find(|c| c.name == "project")
        .expect("project");
    let edits = one_line_edits(project);
    for (_, edit) in &edits {
        let (mut edited, roots) = workspace(project);
        for version in 0..2 {
            assert_eq!(
                recheck(&mut edited, &roots, edit, version),
                0,
                "{}: the edit breaks the project",
                edit.path.display()
            );
        }
    }

    // The reference runs first, so that a broken node set-up fails the run at once.
    let mut reference = if full_run { run_reference() } else { None }.unwrap_or_default();
    for (name, figures) in &reference {
        let ours = corpora
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.files.len());
        assert_eq!(
            Some(figures.files),
            ours.map(|n| n as u64),
            "the reference compiled another set of files for {name}"
        );
    }

    let since = SystemTime::now();
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    benches(&mut c, &corpora, &edits);
    c.final_summary();

    let runs = if full_run { COLD_RUNS } else { 1 };
    let rows: Vec<Row> = corpora
        .iter()
        .map(|corpus| Row {
            cold_ns: cold_ns(corpus.name, runs),
            warm_ns: median_ns(&dir, corpus.name, "ours", since),
            reference: reference
                .iter()
                .position(|(name, _)| name == corpus.name)
                .map(|i| reference.swap_remove(i).1),
        })
        .collect();
    let edit_ns: Vec<(&str, Option<f64>)> = edits
        .iter()
        .map(|(name, _)| (*name, median_ns(&dir, "one_line_edit", name, since)))
        .collect();
    print_table(&corpora, &rows, runs, &edit_ns);
}
