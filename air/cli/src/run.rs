//! `air run`: one AquaVM step ([`vm::execute`]) with files in and JSON out, for tools and tests.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vm::data::calls::{self, CallResults, CallServiceResult};
use vm::data::Tetraplet;
use vm::{Outcome, RunParameters};

use crate::input::{display_name, is_stdin, read_bytes, read_text};
use crate::key;

/// The particle id when none is given. Every step of a particle must use the same id, as it
/// salts the signatures, so the default is fixed rather than random.
const DEFAULT_PARTICLE_ID: &str = "air-run";

/// Run one AquaVM step and print its outcome as JSON.
///
/// Prints `{"ret_code", "error_message", "next_peer_pks", "call_requests"}` on one line and exits
/// with 0 whenever the VM ran, whatever its ret_code. Exits with 1 when an input cannot be used.
#[derive(Args)]
pub struct RunArgs {
    /// The AIR script (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    script: PathBuf,
    /// The peer that started the particle (`%init_peer_id%`).
    #[arg(long, value_name = "ID")]
    init_peer_id: String,
    /// The peer running this step; it must own `--secret-key`.
    #[arg(long, value_name = "ID")]
    current_peer_id: String,
    /// The data this peer kept after its previous step on the particle (default: none).
    #[arg(long, value_name = "FILE")]
    prev_data: Option<PathBuf>,
    /// The data that arrived with the particle (default: none).
    #[arg(long, value_name = "FILE")]
    current_data: Option<PathBuf>,
    /// Base64 of the current peer's 32-byte Ed25519 secret key (see `air keygen`).
    #[arg(long, value_name = "BASE64")]
    secret_key: String,
    /// Results of this peer's call requests:
    /// `{"<call id>": {"ret_code": 0, "result": <JSON>}, ...}`.
    #[arg(long, value_name = "FILE")]
    call_results: Option<PathBuf>,
    /// The particle id; it salts the signatures, so keep it across the steps of a particle.
    #[arg(long, value_name = "ID", default_value = DEFAULT_PARTICLE_ID)]
    particle_id: String,
    /// Particle creation time, ms since the Unix epoch (default: now).
    #[arg(long, value_name = "MS")]
    timestamp: Option<u64>,
    /// Particle time to live, ms.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    ttl: u32,
    /// Write the new particle data here, exactly as it travels to the next peers.
    #[arg(long, value_name = "FILE")]
    out_data: Option<PathBuf>,
}

/// One entry of `--call-results`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallResultInput {
    ret_code: i32,
    result: Value,
}

/// The JSON `air run` prints; field order as documented.
#[derive(Serialize)]
struct RunOutput<'a> {
    ret_code: i64,
    error_message: &'a str,
    next_peer_pks: &'a [String],
    call_requests: BTreeMap<u32, CallRequestOutput<'a>>,
}

#[derive(Serialize)]
struct CallRequestOutput<'a> {
    service_id: &'a str,
    function_name: &'a str,
    arguments: &'a [Value],
    tetraplets: &'a [Vec<Tetraplet>],
}

/// `air run`: reports input errors on stderr and returns whether the VM ran.
pub fn run(args: &RunArgs, color: bool) -> bool {
    let Some(script) = read_script(args, color) else {
        return false;
    };
    match step(args, &script) {
        Ok(()) => true,
        Err(message) => {
            eprintln!("error: {message}");
            false
        }
    }
}

/// Reads the script, once it is clear that at most one input comes from standard input.
fn read_script(args: &RunArgs, color: bool) -> Option<String> {
    let stdin_inputs = [
        Some(&args.script),
        args.prev_data.as_ref(),
        args.current_data.as_ref(),
        args.call_results.as_ref(),
    ]
    .into_iter()
    .flatten()
    .filter(|path| is_stdin(path))
    .count();
    if stdin_inputs > 1 {
        eprintln!("error: only one input can be read from standard input (`-`)");
        return None;
    }
    read_text(&args.script, color)
}

fn step(args: &RunArgs, script: &str) -> Result<(), String> {
    let prev_data = read_optional(args.prev_data.as_deref())?;
    let current_data = read_optional(args.current_data.as_deref())?;
    let call_results = match &args.call_results {
        Some(path) => calls::encode_call_results(&read_call_results(path)?),
        // No results at all, as a host sends when it has none.
        None => Vec::new(),
    };
    let secret_key = key::secret_key_of(&args.secret_key, &args.current_peer_id)?;
    let mut params = RunParameters::new(
        &args.init_peer_id,
        &args.current_peer_id,
        secret_key,
        &args.particle_id,
    );
    params.timestamp = match args.timestamp {
        Some(timestamp) => timestamp,
        None => now_ms()?,
    };
    params.ttl = args.ttl;

    let outcome = vm::execute(script, &prev_data, &current_data, &params, &call_results);

    // The data is written before anything is printed, so that a caller never sees an outcome
    // whose data is missing.
    if let Some(path) = &args.out_data {
        std::fs::write(path, &outcome.data)
            .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    }
    let json = serde_json::to_string(&output(&outcome)).expect("the outcome serializes to JSON");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{json}")
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("cannot write the outcome: {error}"))
}

fn read_optional(path: Option<&Path>) -> Result<Vec<u8>, String> {
    path.map_or(Ok(Vec::new()), read_bytes)
}

fn read_call_results(path: &Path) -> Result<CallResults, String> {
    let name = display_name(path);
    let bytes = read_bytes(path)?;
    let results: BTreeMap<String, CallResultInput> = serde_json::from_slice(&bytes)
        .map_err(|error| format!("{name} is not valid call results JSON: {error}"))?;
    results
        .into_iter()
        .map(|(key, result)| {
            // Only the canonical decimal form names a call id, as in the VM's own decoding.
            let id = key
                .parse::<u32>()
                .ok()
                .filter(|id| id.to_string() == key)
                .ok_or_else(|| format!("{name}: call result key {key:?} is not a call id"))?;
            let result = CallServiceResult {
                ret_code: result.ret_code,
                result: result.result.to_string(),
            };
            Ok((id, result))
        })
        .collect()
}

fn now_ms() -> Result<u64, String> {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the clock is before 1970; give --timestamp".to_string())?;
    u64::try_from(since_epoch.as_millis()).map_err(|_| "the clock is out of range".to_string())
}

fn output(outcome: &Outcome) -> RunOutput<'_> {
    RunOutput {
        ret_code: outcome.ret_code,
        error_message: &outcome.error_message,
        next_peer_pks: &outcome.next_peer_pks,
        call_requests: outcome
            .call_requests
            .iter()
            .map(|(&id, request)| {
                let request = CallRequestOutput {
                    service_id: &request.service_id,
                    function_name: &request.function_name,
                    arguments: &request.arguments,
                    tetraplets: &request.tetraplets,
                };
                (id, request)
            })
            .collect(),
    }
}
