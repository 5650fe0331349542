//! Parser throughput and peak memory: `air::check` against the reference AquaVM parser
//! (`aquavm-air-parser`, which validates too), on the same inputs in one run.
//!
//! `cargo bench -p air --bench parse` runs the criterion groups (one per input, functions `air`
//! and `reference`), then prints a peak-memory table measured in child processes.
//!
//! Environment:
//! - `AIR_BENCH_SKIP_100MB=1` leaves out the ~117 MB input;
//! - `AIR_BENCH_SKIP_MEMORY=1` leaves out the memory table.

mod inputs;

#[path = "../../tools/bench-support/counting_alloc.rs"]
mod counting_alloc;

use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput};

use counting_alloc::{CURRENT, ENABLED, PEAK};

/// Selects a memory measurement in a child process: `<parser>:<input>`.
const MEM_ENV: &str = "AIR_BENCH_MEMORY_CHILD";

// ---------------------------------------------------------------------------------------------
// Inputs and parsers.

struct Input {
    name: &'static str,
    source: String,
}

fn skip_100mb() -> bool {
    std::env::var_os("AIR_BENCH_SKIP_100MB").is_some_and(|v| v != "0" && !v.is_empty())
}

const INPUT_NAMES: [&str; 4] = ["small", "calls_10k", "nested_5k", "air_100mb"];

fn make_input(name: &str) -> String {
    match name {
        "small" => inputs::SMALL.to_owned(),
        "calls_10k" => inputs::calls(10_000, 100),
        "nested_5k" => inputs::nested(5_000),
        "air_100mb" => inputs::calls(2_800_000, 10),
        other => panic!("unknown input {other:?}"),
    }
}

fn ours(source: &str) -> air::Parsed {
    air::check(source)
}

fn reference(source: &str) -> Result<air_parser::ast::Instruction<'_>, String> {
    air_parser::parse(source)
}

/// Both parsers must accept the input (outside any timed loop).
fn assert_valid(input: &Input) {
    let parsed = ours(&input.source);
    assert!(
        parsed.diagnostics.is_empty(),
        "air::check rejects {}: {:?}",
        input.name,
        parsed.diagnostics.first()
    );
    drop(parsed);
    if let Err(report) = reference(&input.source) {
        panic!("air_parser::parse rejects {}: {report}", input.name);
    }
}

// ---------------------------------------------------------------------------------------------
// Timing.

fn bench_pair(mut group: BenchmarkGroup<'_, criterion::measurement::WallTime>, input: &Input) {
    group.throughput(Throughput::Bytes(input.source.len() as u64));
    group.bench_function("air", |b| {
        b.iter(|| ours(std::hint::black_box(&input.source)))
    });
    group.bench_function("reference", |b| {
        b.iter(|| reference(std::hint::black_box(&input.source)))
    });
    group.finish();
}

fn benches(c: &mut Criterion, full_run: bool) {
    for name in ["small", "calls_10k", "nested_5k"] {
        let input = Input {
            name,
            source: make_input(name),
        };
        assert_valid(&input);
        let mut group = c.benchmark_group(name);
        if name == "nested_5k" {
            group.measurement_time(Duration::from_secs(8));
        }
        bench_pair(group, &input);
    }

    if skip_100mb() || !full_run {
        if !full_run {
            eprintln!("(not a benchmark run: air_100mb left out)");
        }
        return;
    }
    let input = Input {
        name: "air_100mb",
        source: make_input("air_100mb"),
    };
    assert_valid(&input);
    let mut group = c.benchmark_group("air_100mb");
    // A reference parse takes seconds: ten samples of one iteration each.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(20));
    bench_pair(group, &input);
}

// ---------------------------------------------------------------------------------------------
// Memory: each measurement runs in a fresh child process (this executable, re-executed with
// `MEM_ENV` set), which prints `peak_heap rss_before hwm_after kept_heap` in bytes.

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn memory_child(spec: &str) {
    let (parser, name) = spec.split_once(':').expect("<parser>:<input>");
    let source = make_input(name);
    // Reset the RSS high-water mark to the current RSS (Linux >= 4.0); without it VmHWM
    // would still hold the peak of building the input.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_status_kib("VmRSS:").unwrap_or(0) * 1024;

    ENABLED.store(true, Relaxed);
    PEAK.store(CURRENT.load(Relaxed), Relaxed);
    let base = CURRENT.load(Relaxed);
    let mut kept = 0;
    let ok = match parser {
        "air" => {
            let parsed = ours(&source);
            let ok = parsed.diagnostics.is_empty();
            std::hint::black_box(&parsed);
            kept = CURRENT.load(Relaxed) - base;
            ok
        }
        "air-parse" => {
            let parsed = air::parse(&source);
            let ok = parsed.diagnostics.is_empty();
            std::hint::black_box(&parsed);
            ok
        }
        "reference" => {
            let parsed = reference(&source);
            std::hint::black_box(&parsed);
            parsed.is_ok()
        }
        other => panic!("unknown parser {other:?}"),
    };
    let peak = PEAK.load(Relaxed) - base;
    ENABLED.store(false, Relaxed);
    let hwm_after = proc_status_kib("VmHWM:").unwrap_or(0) * 1024;
    assert!(ok, "{parser} rejects {name}");
    println!("{peak} {rss_before} {hwm_after} {kept}");
}

struct Mem {
    heap: u64,
    rss_growth: u64,
    /// Heap still held by the result (measured for `air` only).
    kept: u64,
}

fn measure(parser: &str, name: &str) -> Mem {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .env(MEM_ENV, format!("{parser}:{name}"))
        .output()
        .expect("spawn memory child");
    assert!(
        out.status.success(),
        "memory child {parser}:{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .map(|n| n.parse().expect("number"))
        .collect();
    Mem {
        heap: nums[0],
        rss_growth: nums[2].saturating_sub(nums[1]),
        kept: nums[3],
    }
}

fn memory_report() {
    let names: Vec<&str> = INPUT_NAMES
        .into_iter()
        .filter(|n| *n != "air_100mb" || !skip_100mb())
        .collect();
    println!();
    println!("Peak memory per parse (air = air::check; reference = air_parser::parse)");
    println!("  heap: requested bytes live at the peak, from a counting global allocator");
    println!("  rss:  growth of the peak resident set (VmHWM) over the RSS before the parse");
    println!("  kept: heap the air::check result still holds after the parse (its final size)");
    println!("  p.heap, p.rss: the same for air::parse alone (no validation)");
    println!(
        "{:<10} {:>12} | {:>12} {:>6} {:>12} {:>6} | {:>12} {:>6} {:>12} {:>6} | {:>8} | {:>8} {:>8}",
        "input",
        "bytes",
        "air heap",
        "x",
        "air rss",
        "x",
        "ref heap",
        "x",
        "ref rss",
        "x",
        "kept x",
        "p.heap x",
        "p.rss x",
    );
    for name in names {
        let size = make_input(name).len() as u64;
        let ours = measure("air", name);
        let parse_only = measure("air-parse", name);
        let theirs = measure("reference", name);
        let ratio = |v: u64| v as f64 / size as f64;
        println!(
            "{:<10} {:>12} | {:>12} {:>6.2} {:>12} {:>6.2} | {:>12} {:>6.2} {:>12} {:>6.2} | {:>8.2} | {:>8.2} {:>8.2}",
            name,
            size,
            ours.heap,
            ratio(ours.heap),
            ours.rss_growth,
            ratio(ours.rss_growth),
            theirs.heap,
            ratio(theirs.heap),
            theirs.rss_growth,
            ratio(theirs.rss_growth),
            ratio(ours.kept),
            ratio(parse_only.heap),
            ratio(parse_only.rss_growth)
        );
    }
}

fn main() {
    if let Ok(spec) = std::env::var(MEM_ENV) {
        memory_child(&spec);
        return;
    }
    // Criterion benchmarks only under `cargo bench` (`--bench`); `cargo test --benches` runs
    // each function once, and then the 100 MB input and the memory table are left out.
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let full_run = has("--bench") && !has("--test") && !has("--list");

    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, full_run);
    c.final_summary();

    if full_run && std::env::var_os("AIR_BENCH_SKIP_MEMORY").is_none() {
        memory_report();
    }
}
