//! What a call and a service start cost, this runtime against the two reference runtimes in one
//! run: the one for JS hosts (`@fluencelabs/marine-js` 0.13.0, run by
//! `tools/marine-bench/bench.mjs`) and the Rust crate (`marine-runtime` 0.37.0, run by the
//! binary of `tools/marine-bench/reference`), on the same module bytes.
//!
//! `cargo bench -p marine --bench service` runs these criterion groups:
//! - `echo_string`: a call of a facade function that takes a string and returns it, on
//!   `benches/echo.wasm` (its interface-types section is written by our encoder;
//!   `tests/runtime.rs` checks that the file is current). Functions `call` (interface values,
//!   `Service::call`) and `call_json` (JSON in and out, as marine-js takes them).
//! - `echo_bytes_1mb`: the same with a 1 MiB byte array (`(array u8)`, as the SDK types a
//!   `Vec<u8>`).
//! - `spell`: starting the real spell service of `fluence-spell-distro` (sqlite3 and spell,
//!   with their own Config.toml). `cold`: a fresh runtime with an empty compile cache compiles
//!   both modules and instantiates them; `disk_cache`: a fresh runtime finds the compiled code in
//!   its cache directory; `new_service`: the modules are loaded, `Service::new` alone. The
//!   `_instantiation` variants of the last two leave out the modules' own start-up code (the
//!   spell's `main`, which creates its database), as `Service::startup` reports it.
//! - `sqlite3`: the same for `sqlite3.wasm` alone, a service marine-js can start (the spell
//!   cannot start there: marine-js gives modules no directories, and the spell's start-up
//!   opens its database).
//!
//! Then it prints the table `operation | ours | marine-js | x | marine-runtime | x`, where `x`
//! is how many times faster ours is.
//!
//! Environment: `MARINE_BENCH_REFERENCE=0` leaves marine-js out; `=1` requires it (the run fails
//! without node or `tools/marine-bench/node_modules`); unset, it runs when both are there.
//! `MARINE_BENCH_RUNTIME=PATH` runs the `marine-runtime` binary at PATH (`compare.sh` builds it
//! and sets it); unset, that column stays empty.

#[path = "../../tools/bench-support/criterion_estimates.rs"]
mod criterion_estimates;
#[path = "../../tools/bench-support/node_reference.rs"]
mod node_reference;
// The benchmark deploys the spell as the tests do; it starts its services itself.
#[allow(dead_code)]
#[path = "../tests/common/distro.rs"]
mod distro;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BatchSize, Criterion, Throughput};
use marine::{
    CallParameters, IValue, ModuleConfig, Runtime, RuntimeConfig, Service, ServiceConfig,
};
use serde_json::json;

use criterion_estimates::{criterion_dir, duration, median_ns};
use distro::{node_config, write_files};

const ECHO_WASM: &[u8] = include_bytes!("echo.wasm");
const STRING: &str = "Hello, Marine!";
const MIB: usize = 1 << 20;

/// The spell service's files, as the distro crate ships them.
const SPELL: [(&str, &[u8]); 3] = [
    ("spell.wasm", fluence_spell_distro::SPELL_WASM),
    ("sqlite3.wasm", fluence_spell_distro::SQLITE_WASM),
    ("Config.toml", fluence_spell_distro::CONFIG),
];

/// sqlite3 alone: the spell's config without the spell.
const SQLITE3_CONFIG: &str = r#"
modules_dir = "."

[[module]]
name = "sqlite3"
logger_enabled = false

[module.wasi]
mapped_dirs = { "storage" = "." }
"#;

fn echo_service(runtime: &Runtime) -> Service {
    let module = runtime
        .load_module("echo", ECHO_WASM)
        .expect("echo.wasm loads");
    Service::new(runtime, ServiceConfig::new(vec![ModuleConfig::new(module)]))
        .expect("the echo service starts")
}

fn echo_benches(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let service = echo_service(&runtime);
    let bytes: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    let cases = [
        ("echo_string", "echo_string", IValue::String(STRING.into())),
        (
            "echo_bytes_1mb",
            "echo_bytes",
            IValue::ByteArray(bytes.clone()),
        ),
    ];
    let json_cases = [json!([STRING]), json!([bytes])];
    for ((group_name, function, value), json_arguments) in cases.into_iter().zip(json_cases) {
        let arguments = [value];
        let call = || service.call(function, &arguments, CallParameters::default());
        assert_eq!(call().expect("echo"), Some(arguments[0].clone()));
        let call_json = || service.call_json(function, &json_arguments, CallParameters::default());
        assert_eq!(call_json().expect("echo"), json_arguments[0]);

        let mut group = c.benchmark_group(group_name);
        if let IValue::ByteArray(bytes) = &arguments[0] {
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.sample_size(20);
        }
        group.bench_function("call", |b| b.iter(call));
        group.bench_function("call_json", |b| b.iter(call_json));
        group.finish();
    }
}

/// A directory holding a service's files, as deployed a while ago: the runtime trusts what
/// its cache remembers of a module file only once the file has not changed for 3 seconds.
fn service_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_files(dir.path(), files);
    std::thread::sleep(Duration::from_secs(3));
    dir
}

fn cached_runtime(cache: &Path) -> Runtime {
    Runtime::new(RuntimeConfig {
        cache_dir: Some(cache.to_owned()),
    })
    .expect("runtime")
}

/// The start-up benchmarks of the service made of `files`.
fn start_benches(c: &mut Criterion, name: &str, files: &[(&str, &[u8])]) {
    let dir = service_dir(files);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(100));

    // Everything from the files: a new runtime and cache, compilation, instantiation. The
    // directories come from the setup and everything is dropped after the timed part.
    group.bench_function("cold", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temporary directory"),
            |cache| {
                let runtime = cached_runtime(cache.path());
                let service = Service::new(&runtime, node_config(&runtime, dir.path()));
                (cache, runtime, service.expect("the service starts"))
            },
            BatchSize::PerIteration,
        )
    });

    let cache = tempfile::tempdir().expect("temporary directory");
    let runtime = cached_runtime(cache.path());
    let config = node_config(&runtime, dir.path());
    group.bench_function("disk_cache", |b| {
        b.iter_with_large_drop(|| {
            let runtime = cached_runtime(cache.path());
            let service = Service::new(&runtime, node_config(&runtime, dir.path()));
            (runtime, service.expect("the service starts"))
        })
    });
    // The same start without the modules' own start-up code (the spell's `main`), timed by
    // the service itself: what instantiating from the cache costs the runtime.
    group.bench_function("disk_cache_instantiation", |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                let began = Instant::now();
                let runtime = cached_runtime(cache.path());
                let service = Service::new(&runtime, node_config(&runtime, dir.path()))
                    .expect("the service starts");
                spent += began.elapsed() - service.startup().start_code;
                drop((runtime, service));
            }
            spent
        })
    });
    group.sample_size(50);
    group.bench_function("new_service", |b| {
        b.iter_with_large_drop(|| {
            Service::new(&runtime, config.clone()).expect("the service starts")
        })
    });
    group.bench_function("new_service_instantiation", |b| {
        b.iter_custom(|iterations| {
            let mut spent = Duration::ZERO;
            for _ in 0..iterations {
                let service = Service::new(&runtime, config.clone()).expect("the service starts");
                spent += service.startup().instantiation;
            }
            spent
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// The references.

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_owned()
}

/// A reference runtime's figures by operation: the median in milliseconds, or why it could not
/// do it.
type Reference = HashMap<String, Result<f64, String>>;

/// Runs a reference's timing program on the same bytes as ours (the distro crate's files and
/// our echo module) and reads its JSON lines (the format is in `tools/marine-bench/bench.mjs`).
fn time_reference(name: &str, mut command: Command) -> Reference {
    let spell = service_dir(&SPELL);
    let echo = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/echo.wasm");
    eprintln!("timing {name}...");
    let out = command
        .arg("--echo")
        .arg(&echo)
        .arg("--spell")
        .arg(spell.path())
        .output()
        .unwrap_or_else(|e| panic!("{name} does not run: {e}"));
    assert!(
        out.status.success(),
        "{name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name} printed {line:?}: {e}"));
            let op = row["op"].as_str().expect("op").to_owned();
            let figure = match row["ms"].as_f64() {
                Some(ms) => Ok(ms),
                None => Err(row["error"].as_str().unwrap_or("no figure").to_owned()),
            };
            (op, figure)
        })
        .collect()
}

/// Runs `bench.mjs` on marine-js if wanted and possible (see the module documentation).
fn marine_js() -> Option<Reference> {
    let root = repo_root();
    if !node_reference::wanted(
        "MARINE_BENCH_REFERENCE",
        &root,
        "tools/marine-bench",
        "@fluencelabs/marine-js",
        "marine-js",
    ) {
        return None;
    }
    let dir = root.join("tools/marine-bench");
    let mut command = Command::new("node");
    command.current_dir(&dir).arg("bench.mjs");
    Some(time_reference(
        "marine-js (tools/marine-bench/bench.mjs)",
        command,
    ))
}

/// Runs the `marine-runtime` timing binary that `MARINE_BENCH_RUNTIME` names, if it does.
fn marine_runtime() -> Option<Reference> {
    let Some(binary) = std::env::var_os("MARINE_BENCH_RUNTIME").filter(|v| !v.is_empty()) else {
        eprintln!(
            "(marine-runtime left out: MARINE_BENCH_RUNTIME does not name \
             tools/marine-bench/reference's binary; compare.sh builds it)"
        );
        return None;
    };
    Some(time_reference(
        "marine-runtime (tools/marine-bench/reference)",
        Command::new(binary),
    ))
}

// ---------------------------------------------------------------------------------------------
// The summary.

/// A row of the table: its label, our criterion group and function, and the operations of
/// marine-js and marine-runtime it compares with.
struct Row {
    label: &'static str,
    group: &'static str,
    function: &'static str,
    marine_js: Option<&'static str>,
    marine_runtime: Option<&'static str>,
}

const fn row(
    label: &'static str,
    (group, function): (&'static str, &'static str),
    marine_js: Option<&'static str>,
    marine_runtime: Option<&'static str>,
) -> Row {
    Row {
        label,
        group,
        function,
        marine_js,
        marine_runtime,
    }
}

/// marine-js takes JSON only, so both call rows compare with its JSON call; marine-runtime has
/// no start from compiled modules, and marine-js no compile cache.
const ROWS: [Row; 12] = [
    row(
        "string echo, call",
        ("echo_string", "call"),
        Some("echo_string"),
        Some("echo_string_ivalues"),
    ),
    row(
        "string echo, call_json",
        ("echo_string", "call_json"),
        Some("echo_string"),
        Some("echo_string"),
    ),
    row(
        "1 MiB echo, call",
        ("echo_bytes_1mb", "call"),
        Some("echo_bytes_1mb"),
        Some("echo_bytes_1mb_ivalues"),
    ),
    row(
        "1 MiB echo, call_json",
        ("echo_bytes_1mb", "call_json"),
        Some("echo_bytes_1mb"),
        Some("echo_bytes_1mb"),
    ),
    row(
        "sqlite3 start, cold",
        ("sqlite3", "cold"),
        Some("sqlite3_cold"),
        Some("sqlite3_cold"),
    ),
    row(
        "sqlite3 start, disk cache",
        ("sqlite3", "disk_cache"),
        None,
        Some("sqlite3_cache"),
    ),
    row(
        "sqlite3 start, compiled",
        ("sqlite3", "new_service"),
        Some("sqlite3_warm"),
        None,
    ),
    row(
        "spell start, cold",
        ("spell", "cold"),
        Some("spell_cold"),
        Some("spell_cold"),
    ),
    row(
        "spell start, disk cache",
        ("spell", "disk_cache"),
        None,
        Some("spell_cache"),
    ),
    row(
        "spell start, compiled",
        ("spell", "new_service"),
        Some("spell_warm"),
        None,
    ),
    row(
        "  without main, disk cache",
        ("spell", "disk_cache_instantiation"),
        None,
        None,
    ),
    row(
        "  without main, compiled",
        ("spell", "new_service_instantiation"),
        None,
        None,
    ),
];

/// A speed ratio with two significant digits or more: `0.034x`, `2.5x`, `8754x`.
fn ratio(x: f64) -> String {
    let decimals = (1.0 - x.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{x:.decimals$}x")
}

/// A reference's cells for one row: its time and how many times faster ours is; its failure
/// is noted in `failures`.
fn cells(
    name: &str,
    row: &Row,
    ours: Option<f64>,
    op: Option<&str>,
    reference: Option<&Reference>,
    failures: &mut Vec<String>,
) -> (String, String) {
    match (ours, op.and_then(|op| reference.and_then(|r| r.get(op)))) {
        (_, None) => ("-".to_owned(), "-".to_owned()),
        (_, Some(Err(why))) => {
            failures.push(format!("{name} fails on {}: {why}", row.label));
            ("fails".to_owned(), "-".to_owned())
        }
        (Some(ours), Some(Ok(ms))) => (duration(ms * 1e6), ratio(ms * 1e6 / ours)),
        (None, Some(Ok(ms))) => (duration(ms * 1e6), "-".to_owned()),
    }
}

fn print_table(
    dir: &Path,
    since: SystemTime,
    marine_js: Option<&Reference>,
    marine_runtime: Option<&Reference>,
) {
    println!();
    println!("marine-js: @fluencelabs/marine-js 0.13.0 under node; its call takes JSON only.");
    println!("marine-runtime: the marine-runtime crate 0.37.0 on wasmtime 13; call = its call");
    println!("with interface values; disk cache = wasmtime's cache.");
    println!("cold: a new runtime with an empty cache (marine-js: a fresh process compiles its");
    println!("control module; node's start-up excluded). compiled: ours = Service::new of loaded");
    println!("modules; marine-js = the service started again in the same process.");
    println!("without main: the same start less the time of the modules' own start-up code");
    println!("(the spell's main creates its database), as the service reports it.");
    println!("x = theirs / ours.");
    println!(
        "{:<26} {:>10} {:>10} {:>9} {:>14} {:>9}",
        "operation", "ours", "marine-js", "x", "marine-runtime", "x"
    );
    let mut failures = Vec::new();
    for row in &ROWS {
        let ours = median_ns(dir, row.group, row.function, since);
        let (js, js_ratio) = cells(
            "marine-js",
            row,
            ours,
            row.marine_js,
            marine_js,
            &mut failures,
        );
        let (rt, rt_ratio) = cells(
            "marine-runtime",
            row,
            ours,
            row.marine_runtime,
            marine_runtime,
            &mut failures,
        );
        println!(
            "{:<26} {:>10} {js:>10} {js_ratio:>9} {rt:>14} {rt_ratio:>9}",
            row.label,
            ours.map(duration).unwrap_or_else(|| "-".to_owned())
        );
    }
    for failure in failures {
        println!("{failure}");
    }
}

fn main() {
    // Criterion benchmarks only under `cargo bench` (`--bench`); `cargo bench -- --test` runs
    // each function once, without marine-js.
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let full_run = has("--bench") && !has("--test") && !has("--list");

    // The references run first, so that a broken set-up fails the run at once.
    let (js, runtime) = if full_run {
        (marine_js(), marine_runtime())
    } else {
        (None, None)
    };

    let since = SystemTime::now();
    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .configure_from_args();
    echo_benches(&mut c);
    let sqlite3 = [
        ("sqlite3.wasm", fluence_spell_distro::SQLITE_WASM),
        ("Config.toml", SQLITE3_CONFIG.as_bytes()),
    ];
    start_benches(&mut c, "sqlite3", &sqlite3);
    start_benches(&mut c, "spell", &SPELL);
    c.final_summary();
    print_table(&dir, since, js.as_ref(), runtime.as_ref());
}
