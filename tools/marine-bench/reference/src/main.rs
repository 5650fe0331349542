//! Times the reference Rust runtime, the `marine-runtime` crate (Marine on wasmtime 13), on the
//! modules and calls of our benchmark (`marine/benches/service.rs`, which runs this binary for
//! its side-by-side table). It uses the crate's public API only, as a black box.
//!
//! Usage: `marine-bench-reference --echo FILE --spell DIR [--cold C] [--warm W]`
//!
//! DIR holds the spell service's files of `fluence-spell-distro` (`spell.wasm`, `sqlite3.wasm`
//! and `Config.toml`); the services run in DIR, as ours do. One JSON line per operation, as
//! `tools/marine-bench/bench.mjs` prints them: `{"op", "ms", "runs"}`, the median time of one
//! operation in milliseconds, or `{"op", "error"}` when the runtime fails at it.
//! - `echo_string_ivalues`, `echo_bytes_1mb_ivalues`: one `call_with_ivalues_async` of the echo
//!   module; `echo_string`, `echo_bytes_1mb`: one `call_with_json_async`. The string calls are
//!   timed in batches of 1000, awaited in one task; the JSON arguments, which the call takes by
//!   value, are cloned before the clock starts.
//! - `<service>_cold`: a new backend whose compile cache is an empty directory compiles the
//!   modules and starts the service, C times.
//! - `<service>_cache`: a new backend finds the compiled code in its cache directory (wasmtime's
//!   own cache, the only one the crate can use), W times.
//!
//! Services: `sqlite3` (the spell's config without the spell) and `spell` (sqlite3, then spell).
//! The crate has no way to start a service from modules compiled before: each start compiles
//! them or reads them from the cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::executor::block_on;
use marine::{
    CallParameters, IValue, Marine, MarineConfig, MarineModuleConfig, MarineWASIConfig,
    ModuleDescriptor, TomlMarineConfig,
};
use marine_wasmtime_backend::{WasmtimeConfig, WasmtimeWasmBackend, DEFAULT_WASM_STACK_SIZE};
use serde_json::json;

const STRING: &str = "Hello, Marine!";
const MIB: usize = 1 << 20;
const BATCH: usize = 1000;

type Outcome<T> = Result<T, String>;

struct Options {
    echo: PathBuf,
    spell: PathBuf,
    cold: usize,
    warm: usize,
}

fn options() -> Outcome<Options> {
    let mut args = std::env::args().skip(1);
    let (mut echo, mut spell, mut cold, mut warm) = (None, None, 5, 10);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let count = |text: String| {
            text.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{flag} takes a positive count, not {text:?}"))
        };
        match flag.as_str() {
            "--echo" => echo = Some(PathBuf::from(value()?)),
            "--spell" => spell = Some(PathBuf::from(value()?)),
            "--cold" => cold = count(value()?)?,
            "--warm" => warm = count(value()?)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    match (echo, spell) {
        (Some(echo), Some(spell)) => Ok(Options {
            echo,
            spell,
            cold,
            warm,
        }),
        _ => Err(
            "usage: marine-bench-reference --echo FILE --spell DIR [--cold C] [--warm W]".into(),
        ),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Prints an operation's line: its median or why it failed.
fn emit(op: &str, times: Outcome<Vec<f64>>) {
    let row = match times {
        Ok(times) => {
            let runs = times.len();
            json!({ "op": op, "ms": median(times), "runs": runs })
        }
        Err(error) => json!({ "op": op, "error": error }),
    };
    println!("{row}");
}

/// A backend configured as the crate's default one, with wasmtime's compile cache set up by
/// the settings file `cache` when given.
fn backend(cache: Option<&Path>) -> Outcome<WasmtimeWasmBackend> {
    let config = match cache {
        None => WasmtimeConfig::default(),
        Some(settings) => {
            let mut raw = wasmtime::Config::new();
            raw.cache_config_load(settings)
                .map_err(|e| format!("{e:#}"))?;
            // `from_raw` starts from the given config: set what the default one sets.
            let mut config = WasmtimeConfig::from_raw(raw);
            config
                .debug_info(true)
                .epoch_interruption(true)
                .max_wasm_stack(DEFAULT_WASM_STACK_SIZE)
                .wasm_backtrace(true);
            config
        }
    };
    WasmtimeWasmBackend::new(config).map_err(|e| e.to_string())
}

/// Times `call` in `runs` rounds of `batch` calls after a round that warms up, and gives the
/// time of one call in each round. The first result must pass `check`; `make` builds each
/// call's argument before the clock starts.
async fn timed<A, R>(
    runs: usize,
    batch: usize,
    make: impl Fn() -> A,
    mut call: impl AsyncFnMut(A) -> Result<R, marine::MarineError>,
    check: impl Fn(&R) -> bool,
) -> Outcome<Vec<f64>> {
    let first = call(make()).await.map_err(|e| e.to_string())?;
    if !check(&first) {
        return Err("the echo returned something else".into());
    }
    let mut times = Vec::with_capacity(runs);
    for round in 0..=runs {
        let arguments: Vec<A> = (0..batch).map(|_| make()).collect();
        let start = Instant::now();
        for argument in arguments {
            call(argument).await.map_err(|e| e.to_string())?;
        }
        if round > 0 {
            times.push(millis(start) / batch as f64);
        }
    }
    Ok(times)
}

// ---------------------------------------------------------------------------------------------
// Calls.

async fn echo_calls(file: &Path, runs: usize) -> Outcome<()> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let config = MarineConfig {
        modules_config: vec![ModuleDescriptor {
            load_from: None,
            file_name: "echo.wasm".into(),
            import_name: "echo".into(),
            // `Default` needs a backend that has one; this is what it would give.
            config: MarineModuleConfig {
                logger_enabled: false,
                host_imports: HashMap::new(),
                wasi: None,
                logging_mask: 0,
            },
        }],
        ..MarineConfig::default()
    };
    let modules = HashMap::from([("echo".to_owned(), bytes)]);
    let mut marine = Marine::with_modules(backend(None)?, modules, config)
        .await
        .map_err(|e| format!("the echo service does not start: {e}"))?;
    let parameters = CallParameters::default;

    let string = [IValue::String(STRING.into())];
    let times = timed(
        runs.max(5),
        BATCH,
        || (),
        async |()| {
            marine
                .call_with_ivalues_async("echo", "echo_string", &string, parameters())
                .await
        },
        |result| *result == string,
    );
    emit("echo_string_ivalues", times.await);
    let times = timed(
        runs.max(5),
        BATCH,
        || json!([STRING]),
        async |arguments| {
            marine
                .call_with_json_async("echo", "echo_string", arguments, parameters())
                .await
        },
        |result| *result == json!(STRING),
    );
    emit("echo_string", times.await);

    let bytes: Vec<u8> = (0..MIB).map(|i| (i % 251) as u8).collect();
    let arguments = [IValue::ByteArray(bytes.clone())];
    let times = timed(
        runs,
        1,
        || (),
        async |()| {
            marine
                .call_with_ivalues_async("echo", "echo_bytes", &arguments, parameters())
                .await
        },
        |result| same_bytes(result, &bytes),
    );
    emit("echo_bytes_1mb_ivalues", times.await);
    let json_arguments = json!([bytes]);
    let times = timed(
        runs,
        1,
        || json_arguments.clone(),
        async |arguments| {
            marine
                .call_with_json_async("echo", "echo_bytes", arguments, parameters())
                .await
        },
        |result| *result == json_arguments[0],
    );
    emit("echo_bytes_1mb", times.await);
    Ok(())
}

/// Whether an echo of `(array u8)` gave `bytes` back, in either form the crate may lift it.
fn same_bytes(result: &[IValue], bytes: &[u8]) -> bool {
    match result {
        [IValue::ByteArray(back)] => back == bytes,
        [IValue::Array(back)] => {
            back.len() == bytes.len() && back.iter().zip(bytes).all(|(v, b)| *v == IValue::U8(*b))
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Service starts.

/// The service of the spell's `Config.toml` in `dir`, or only its module `only`, with the
/// directories our benchmark gives it (`marine/tests/common/distro.rs`, as a node maps them):
/// mapped directories relative to `dir`, and `dir/tmp` as the modules' `/tmp`.
fn service_config(dir: &Path, only: Option<&str>) -> Outcome<MarineConfig> {
    let toml = TomlMarineConfig::load(dir.join("Config.toml")).map_err(|e| e.to_string())?;
    let mut config = MarineConfig::try_from(toml).map_err(|e| e.to_string())?;
    if let Some(name) = only {
        config.modules_config.retain(|m| m.import_name == name);
    }
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    for module in &mut config.modules_config {
        module.config.root_wasi_files_at(dir);
        let wasi = module
            .config
            .wasi
            .get_or_insert_with(MarineWASIConfig::default);
        if !wasi
            .mapped_dirs
            .keys()
            .any(|guest| guest.trim_start_matches('/') == "tmp")
        {
            wasi.mapped_dirs.insert("/tmp".into(), tmp.clone());
        }
    }
    Ok(config)
}

/// Writes wasmtime's cache settings for a cache in `dir`; gives the settings file.
fn cache_settings(dir: &Path) -> Outcome<PathBuf> {
    let file = dir.join("cache.toml");
    let directory = serde_json::to_string(&dir.join("cache").to_string_lossy()).expect("a path");
    let settings = format!("[cache]\nenabled = true\ndirectory = {directory}\n");
    std::fs::write(&file, settings).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(file)
}

/// Starts the service from its files with a new backend caching in `cache` (the file that
/// `cache_settings` wrote); gives the time it took.
fn start(dir: &Path, only: Option<&str>, cache: &Path) -> Outcome<f64> {
    let start = Instant::now();
    let config = service_config(dir, only)?;
    let marine = block_on(Marine::with_raw_config(backend(Some(cache))?, config))
        .map_err(|e| e.to_string())?;
    let elapsed = millis(start);
    drop(marine);
    Ok(elapsed)
}

fn start_cold(dir: &Path, only: Option<&str>, runs: usize) -> Outcome<Vec<f64>> {
    (0..runs)
        .map(|_| {
            let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
            start(dir, only, &cache_settings(cache.path())?)
        })
        .collect()
}

fn start_from_cache(dir: &Path, only: Option<&str>, runs: usize) -> Outcome<Vec<f64>> {
    let cache = tempfile::tempdir().map_err(|e| e.to_string())?;
    let settings = cache_settings(cache.path())?;
    start(dir, only, &settings)?;
    (0..runs).map(|_| start(dir, only, &settings)).collect()
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(why) => {
            eprintln!("{why}");
            std::process::exit(2);
        }
    };
    if let Err(why) = block_on(echo_calls(&options.echo, options.warm)) {
        eprintln!("{why}");
        std::process::exit(1);
    }
    for (name, only) in [("sqlite3", Some("sqlite3")), ("spell", None)] {
        emit(
            &format!("{name}_cold"),
            start_cold(&options.spell, only, options.cold),
        );
        emit(
            &format!("{name}_cache"),
            start_from_cache(&options.spell, only, options.warm),
        );
    }
}
