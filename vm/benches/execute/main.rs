//! One interpreter run, this VM against the reference AquaVM 0.62 (`aquavm-air`, run natively),
//! on the reference project's benchmark scenarios, in one run.
//!
//! This VM runs twice: `ours` is `vm::execute`, which parses the script at every run as the
//! reference does; `ours_cached` is a `vm::Vm`, as a peer runs it, which parses a script once
//! and keeps it for the next particles.
//!
//! `cargo bench -p vm --bench execute` generates the scenarios (`scenarios.rs`), checks that both
//! VMs produce the same outcome on each, runs one criterion group per scenario (functions `ours`,
//! `ours_cached` and `reference`), measures the peak heap of one run of each VM in child processes, and prints
//! a summary table.
//!
//! Environment:
//! - `VM_BENCH_SCENARIOS=null,dashboard` runs only the named scenarios;
//! - `VM_BENCH_SKIP_100MB=1` leaves out `call_result_100mb`;
//! - `VM_BENCH_SKIP_MEMORY=1` leaves out the memory measurement;
//! - `VM_BENCH_SAVE_STEPS=<dir>` also saves each scenario's step to `<dir>/<scenario>` (the
//!   format of `Step::save`), for profiling outside criterion;
//! - `VM_BENCH_PROFILE=<vm>:<step file>:<runs>` only runs `ours`, `ours_cached` or `reference` on
//!   a saved step that many times and prints the mean time of a run, for `perf record` and
//!   `perf stat`.

mod scenarios;

#[path = "../../../tools/bench-support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../../../tools/bench-support/criterion_estimates.rs"]
mod criterion_estimates;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime};

use air_interpreter_interface::SerializedCallResults;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput};

use counting_alloc::{CURRENT, ENABLED, PEAK};
use criterion_estimates::{criterion_dir, duration, median_ns};

use scenarios::Step;

/// Selects a memory measurement in a child process: `<vm>:<step file>`.
const MEM_ENV: &str = "VM_BENCH_MEMORY_CHILD";
/// Selects repeated runs of one VM on a saved step: `<vm>:<step file>:<runs>`.
const PROFILE_ENV: &str = "VM_BENCH_PROFILE";

// ---------------------------------------------------------------------------------------------
// The two VMs on a prepared step.

/// The outcome parts both VMs produce, in the host's terms.
struct Produced {
    ret_code: i64,
    error_message: String,
    data: Vec<u8>,
    next_peer_pks: Vec<String>,
    call_requests: Vec<u8>,
}

fn ours_params(step: &Step) -> vm::RunParameters {
    let mut params = vm::RunParameters::new(
        &step.init_peer_id,
        &step.current_peer_id,
        step.secret_key.to_vec(),
        &step.particle_id,
    );
    params.timestamp = step.timestamp;
    params.ttl = step.ttl;
    // Soft limits, as the reference is run: the 100 MB scenario exceeds the default ones.
    params.hard_limit_enabled = false;
    params
}

/// One run of this VM, including the encoding of the call requests a host needs: through
/// `vm` as a peer runs it (the script parsed once per `Vm`), or with `vm::execute`, which parses
/// the script at every run as the reference does.
fn run_ours(step: &Step, params: &vm::RunParameters, vm: Option<&vm::Vm>) -> Produced {
    let outcome = match vm {
        Some(vm) => vm.execute(
            &step.script,
            &step.prev_data,
            &step.current_data,
            params,
            &step.call_results,
        ),
        None => vm::execute(
            &step.script,
            &step.prev_data,
            &step.current_data,
            params,
            &step.call_results,
        ),
    };
    Produced {
        call_requests: outcome.encoded_call_requests(),
        ret_code: outcome.ret_code,
        error_message: outcome.error_message,
        data: outcome.data,
        next_peer_pks: outcome.next_peer_pks,
    }
}

/// The reference takes its inputs by value; they are copied outside the measured part.
struct ReferenceInput {
    script: String,
    prev_data: Vec<u8>,
    current_data: Vec<u8>,
    params: reference_air::RunParameters,
    call_results: SerializedCallResults,
}

fn reference_input(step: &Step) -> ReferenceInput {
    ReferenceInput {
        script: step.script.clone(),
        prev_data: step.prev_data.clone(),
        current_data: step.current_data.clone(),
        params: reference_air::RunParameters {
            init_peer_id: step.init_peer_id.clone(),
            current_peer_id: step.current_peer_id.clone(),
            timestamp: step.timestamp,
            ttl: step.ttl,
            key_format: 0, // Ed25519
            secret_key_bytes: step.secret_key.to_vec(),
            particle_id: step.particle_id.clone(),
            air_size_limit: vm::RunParameters::DEFAULT_AIR_SIZE_LIMIT,
            particle_size_limit: vm::RunParameters::DEFAULT_PARTICLE_SIZE_LIMIT,
            call_result_size_limit: vm::RunParameters::DEFAULT_CALL_RESULT_SIZE_LIMIT,
            hard_limit_enabled: false,
        },
        call_results: SerializedCallResults::from(step.call_results.clone()),
    }
}

fn run_reference(input: ReferenceInput) -> Produced {
    let outcome = reference_air::execute_air(
        input.script,
        input.prev_data,
        input.current_data,
        input.params,
        input.call_results,
    );
    Produced {
        ret_code: outcome.ret_code,
        error_message: outcome.error_message,
        data: outcome.data,
        next_peer_pks: outcome.next_peer_pks,
        call_requests: outcome.call_requests,
    }
}

/// How this VM fares on a scenario, checked once before measuring.
enum Verdict {
    /// Same outcome as the reference.
    Agrees,
    /// Both succeed but the outcomes differ: timed, and flagged in the table.
    Differs(String),
    /// This VM fails where the reference succeeds: not timed.
    Unsupported(String),
}

fn check(step: &Step) -> Verdict {
    let ours = run_ours(step, &ours_params(step), None);
    let theirs = run_reference(reference_input(step));
    assert_eq!(
        theirs.ret_code, 0,
        "the reference fails on its own scenario: {}",
        theirs.error_message
    );
    if ours.ret_code != 0 {
        return Verdict::Unsupported(format!("error {}: {}", ours.ret_code, ours.error_message));
    }
    let mut theirs_next = theirs.next_peer_pks;
    theirs_next.sort();
    let requests = |bytes: &[u8]| match bytes {
        [] => Ok(Default::default()),
        bytes => vm::data::calls::decode_call_requests(bytes).map_err(|e| e.to_string()),
    };
    // Data bytes are not canonical (the reference's stores are hash maps): compare renderings.
    let render = |data: &[u8]| network_sim::trace::render_data(data, &Default::default());
    let same_requests = match (
        requests(&ours.call_requests),
        requests(&theirs.call_requests),
    ) {
        (Ok(ours), Ok(theirs)) => ours == theirs,
        _ => false,
    };
    if ours.next_peer_pks != theirs_next {
        Verdict::Differs("next peers differ".to_owned())
    } else if !same_requests {
        Verdict::Differs("call requests differ".to_owned())
    } else if render(&ours.data) != render(&theirs.data) {
        Verdict::Differs("data differ".to_owned())
    } else {
        Verdict::Agrees
    }
}

// ---------------------------------------------------------------------------------------------
// Timing.

/// A generated scenario, ready to measure.
struct Prepared {
    name: &'static str,
    step: Step,
    verdict: Verdict,
}

const MB: usize = 1 << 20;

fn bench_scenario(c: &mut Criterion, scenario: &Prepared) {
    let step = &scenario.step;
    let size = step.particle_size();
    let mut group = c.benchmark_group(scenario.name);
    if size > 0 {
        group.throughput(Throughput::Bytes(size as u64));
    }
    // Inputs of a megabyte or more are copied for the reference one run at a time; runs of
    // many milliseconds get few, single-run samples so that `cargo bench` stays short.
    let batch = if size >= MB {
        BatchSize::PerIteration
    } else {
        BatchSize::SmallInput
    };
    if size >= 50 * MB {
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(20));
    } else if size >= MB {
        group
            .sample_size(20)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8));
    } else {
        group
            .sample_size(50)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
    }
    if !matches!(scenario.verdict, Verdict::Unsupported(_)) {
        let params = ours_params(step);
        let peer_vm = vm::Vm::new();
        for (function, vm) in [("ours", None), ("ours_cached", Some(&peer_vm))] {
            group.bench_function(function, |b| {
                // Each run signs and verifies as on new data: the caches of signatures made and
                // verified would hit on every run after the first, and the reference has none.
                // One run per setup, so that no run follows another without it.
                b.iter_batched(
                    vm::data::forget_signatures,
                    |()| run_ours(step, &params, vm),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.bench_function("reference", |b| {
        b.iter_batched(|| reference_input(step), run_reference, batch)
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Memory: one run in a fresh child process (this executable, re-executed with `MEM_ENV` set),
// which prints the peak heap above what was live before the run, in bytes.

fn memory_child(spec: &str) {
    let (which, path) = spec.split_once(':').expect("<vm>:<step file>");
    let step = Step::load(Path::new(path)).expect("readable step file");
    let (peak, ret_code) = match which {
        "ours" => {
            let params = ours_params(&step);
            let base = CURRENT.load(Relaxed);
            PEAK.store(base, Relaxed);
            let produced = run_ours(&step, &params, None);
            (PEAK.load(Relaxed) - base, produced.ret_code)
        }
        "reference" => {
            // The copies the reference takes by value are made before the baseline: like this
            // VM's borrowed inputs, they are the host's, not the run's.
            let input = reference_input(&step);
            let base = CURRENT.load(Relaxed);
            PEAK.store(base, Relaxed);
            let produced = run_reference(input);
            (PEAK.load(Relaxed) - base, produced.ret_code)
        }
        other => panic!("unknown vm {other:?}"),
    };
    println!("{peak} {ret_code}");
}

/// Runs one VM on a saved step repeatedly, for profilers; prints the mean time of a run.
fn profile(spec: &str) {
    let mut parts = spec.rsplitn(2, ':');
    let runs: u32 = parts
        .next()
        .and_then(|n| n.parse().ok())
        .expect("<vm>:<step file>:<runs>");
    let (which, path) = parts
        .next()
        .and_then(|rest| rest.split_once(':'))
        .expect("<vm>:<step file>:<runs>");
    let step = Step::load(Path::new(path)).expect("readable step file");
    let params = ours_params(&step);
    let peer_vm = vm::Vm::new();
    let started = std::time::Instant::now();
    for _ in 0..runs {
        let produced = match which {
            "ours" | "ours_cached" => {
                // As in the timed runs: a repeated step must not be served from the caches.
                vm::data::forget_signatures();
                run_ours(&step, &params, (which == "ours_cached").then_some(&peer_vm))
            }
            "reference" => run_reference(reference_input(&step)),
            other => panic!("unknown vm {other:?}"),
        };
        assert_eq!(
            produced.ret_code, 0,
            "{which} failed: {}",
            produced.error_message
        );
    }
    let mean = started.elapsed().as_nanos() as f64 / f64::from(runs.max(1));
    println!("{which} {path}: {} per run", duration(mean));
}

/// Peak heap of one run, from a child process.
fn measure_peak(which: &str, step_file: &Path) -> u64 {
    let exe = std::env::current_exe().expect("current_exe");
    let out = Command::new(exe)
        .env(MEM_ENV, format!("{which}:{}", step_file.display()))
        .output()
        .expect("spawn memory child");
    assert!(
        out.status.success(),
        "memory child {which} {} failed: {}",
        step_file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut numbers = text.split_whitespace().map(|word| word.parse::<i64>().ok());
    let (Some(Some(peak)), Some(Some(ret_code))) = (numbers.next(), numbers.next()) else {
        panic!("memory child {which} printed {text:?}");
    };
    assert_eq!(ret_code, 0, "{which} failed in the memory child");
    peak as u64
}

// ---------------------------------------------------------------------------------------------
// The summary.

fn bytes(n: u64) -> String {
    match n {
        n if n >= MB as u64 => format!("{:.1} MB", n as f64 / MB as f64),
        n if n >= 10 * 1024 => format!("{:.1} KB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

struct Row {
    ours_ns: Option<f64>,
    cached_ns: Option<f64>,
    reference_ns: Option<f64>,
    ours_peak: Option<u64>,
    reference_peak: Option<u64>,
}

fn print_table(scenarios: &[Prepared], rows: &[Row]) {
    println!();
    println!("One run of each VM per scenario: criterion median time, and the peak heap above the");
    println!("run's inputs (counting allocator, fresh process) as a multiple of the particle size");
    println!("(prev data + current data + call results). `cached`: this VM with the script parsed");
    println!("once (`vm::Vm`), as a peer runs it; the peak is measured without the cache.");
    println!(
        "{:<18} {:>10} | {:>10} {:>10} {:>10} {:>8} {:>8} | {:>10} {:>7} | {:>10} {:>7}",
        "scenario",
        "particle",
        "ours",
        "cached",
        "reference",
        "speed-up",
        "cached",
        "ours peak",
        "x",
        "ref peak",
        "x"
    );
    let time = |ns: Option<f64>| ns.map(duration).unwrap_or_else(|| "-".to_owned());
    let peak = |peak: Option<u64>| peak.map(bytes).unwrap_or_else(|| "-".to_owned());
    for (scenario, row) in scenarios.iter().zip(rows) {
        let size = scenario.step.particle_size() as u64;
        let ratio = |peak: Option<u64>| match peak {
            Some(peak) if size > 0 => format!("{:.2}", peak as f64 / size as f64),
            _ => "-".to_owned(),
        };
        let speedup = |ours: Option<f64>| match (ours, row.reference_ns) {
            (Some(ours), Some(theirs)) => format!("{:.1}x", theirs / ours),
            _ => "-".to_owned(),
        };
        let ours_time = |ns| match &scenario.verdict {
            Verdict::Unsupported(_) => "unsupported".to_owned(),
            _ => time(ns),
        };
        println!(
            "{:<18} {:>10} | {:>10} {:>10} {:>10} {:>8} {:>8} | {:>10} {:>7} | {:>10} {:>7}",
            scenario.name,
            bytes(size),
            ours_time(row.ours_ns),
            ours_time(row.cached_ns),
            time(row.reference_ns),
            speedup(row.ours_ns),
            speedup(row.cached_ns),
            peak(row.ours_peak),
            ratio(row.ours_peak),
            peak(row.reference_peak),
            ratio(row.reference_peak),
        );
    }
    for scenario in scenarios {
        match &scenario.verdict {
            Verdict::Agrees => {}
            Verdict::Differs(what) => println!("{}: outcomes differ ({what})", scenario.name),
            Verdict::Unsupported(why) => println!("{}: this VM fails: {why}", scenario.name),
        }
    }
}

fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Stack for the benchmark thread. This VM recurses once per fold iteration and needs more
/// than a main thread's 8 MiB for the 10,000 iterations of `long_data`.
const STACK_SIZE: usize = 1 << 30;

fn main() {
    std::thread::Builder::new()
        .name("bench".to_owned())
        .stack_size(STACK_SIZE)
        .spawn(run)
        .expect("spawn the benchmark thread")
        .join()
        .expect("the benchmark thread panicked");
}

fn run() {
    if let Ok(spec) = std::env::var(MEM_ENV) {
        ENABLED.store(true, Relaxed);
        memory_child(&spec);
        return;
    }
    if let Ok(spec) = std::env::var(PROFILE_ENV) {
        profile(&spec);
        return;
    }
    // Criterion benchmarks only under `cargo bench` (`--bench`); `cargo test --benches` runs
    // each function once, without the 100 MB scenario and the memory table.
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let full_run = has("--bench") && !has("--test") && !has("--list");
    let selected = std::env::var("VM_BENCH_SCENARIOS").unwrap_or_default();
    let names = scenarios::NAMES.into_iter().filter(|name| {
        (selected.is_empty() || selected.split(',').any(|s| s.trim() == *name))
            && (*name != "call_result_100mb" || (full_run && !flag("VM_BENCH_SKIP_100MB")))
    });

    let started = SystemTime::now();
    let prepared: Vec<Prepared> = names
        .map(|name| {
            eprintln!("generating {name}: {}", scenarios::describe(name));
            let step = scenarios::generate(name);
            let verdict = check(&step);
            let status = match &verdict {
                Verdict::Agrees => "same outcome on both VMs".to_owned(),
                Verdict::Differs(what) => format!("OUTCOMES DIFFER: {what}"),
                Verdict::Unsupported(why) => format!("unsupported by this VM: {why}"),
            };
            eprintln!(
                "  particle {}, {status}",
                bytes(step.particle_size() as u64)
            );
            if let Some(dir) = std::env::var_os("VM_BENCH_SAVE_STEPS") {
                let path = Path::new(&dir).join(name);
                step.save(&path)
                    .expect("writable VM_BENCH_SAVE_STEPS directory");
            }
            Prepared {
                name,
                step,
                verdict,
            }
        })
        .collect();

    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    for scenario in &prepared {
        bench_scenario(&mut c, scenario);
    }
    c.final_summary();
    if !full_run {
        return;
    }

    let measure_memory = !flag("VM_BENCH_SKIP_MEMORY");
    let step_dir = std::env::temp_dir().join(format!("vm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&step_dir).expect("temporary directory");
    let rows: Vec<Row> = prepared
        .iter()
        .map(|scenario| {
            let supported = !matches!(scenario.verdict, Verdict::Unsupported(_));
            let (ours_peak, reference_peak) = if measure_memory {
                let file = step_dir.join(scenario.name);
                scenario.step.save(&file).expect("writable step file");
                let ours = supported.then(|| measure_peak("ours", &file));
                let reference = measure_peak("reference", &file);
                std::fs::remove_file(&file).expect("removable step file");
                (ours, Some(reference))
            } else {
                (None, None)
            };
            Row {
                ours_ns: median_ns(&dir, scenario.name, "ours", started),
                cached_ns: median_ns(&dir, scenario.name, "ours_cached", started),
                reference_ns: median_ns(&dir, scenario.name, "reference", started),
                ours_peak,
                reference_peak,
            }
        })
        .collect();
    let _ = std::fs::remove_dir(&step_dir);
    print_table(&prepared, &rows);
}
