//! The reference AquaVM as a node runs it: `avm.wasm` of the npm package `@fluencelabs/avm`
//! 0.62.0 (the interpreter built as a Marine module) loaded in our runtime and called through
//! its `invoke`, with the config the reference's avm-server gives it (logger on, no WASI
//! directories or variables, no host imports).
//!
//! Two checks over the conformance scenarios of `vm/tests/scenarios` (peers, mock services
//! and the rounds of call results, see `network_sim::scenario`):
//! - run on `avm.wasm` alone, every scenario must give exactly its snapshot, which the native
//!   reference (`aquavm-air` 0.62.0) produced. So our runtime runs the real module faithfully.
//! - on the scenarios where our VM agrees with the reference (`vm-agreeing.txt`), our VM runs
//!   in lockstep with `avm.wasm`: every step gets the same input on both, and the outcomes must
//!   be equal: return code, error message, next peers, call requests (arguments and
//!   tetraplets) and the data, compared by content as the conformance suite does. Then peers
//!   alternate between the two, so that each reads the other's data.
//!
//! The package is not in the repository: `npm ci` installs it in `tests/reference-avm` from
//! the committed package-lock.json. `SCENARIO=<text>` runs only the scenarios whose path
//! contains `<text>`.

#[path = "../../tools/test-support/npm.rs"]
mod npm;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use marine::{
    CallParameters, IValue, ModuleConfig, Runtime, RuntimeConfig, Service, ServiceConfig,
};
use network_sim::engine::{StepInput, StepOutcome};
use network_sim::network::same_content;
use network_sim::ours::{call_request, encoded_call_results};
use network_sim::scenario::Scenario;
use network_sim::{Engine, VmEngine};

/// The path of `avm.wasm`, with its package installed once for all tests of this binary.
fn avm_wasm() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference-avm");
        npm::npm_ci(&dir, "the reference AquaVM module", &["--ignore-scripts"])
            .join("node_modules/@fluencelabs/avm/dist/avm.wasm")
    })
}

/// Limits of `RunParameters`, the reference's defaults (16, 64 and 32 MiB), in soft mode:
/// the same as the native reference engine of the conformance suite.
const AIR_SIZE_LIMIT: u64 = 16 << 20;
const PARTICLE_SIZE_LIMIT: u64 = 64 << 20;
const CALL_RESULT_SIZE_LIMIT: u64 = 32 << 20;
/// `KeyFormat::Ed25519`.
const ED25519: u8 = 0;

/// `avm.wasm` in our runtime.
struct AvmWasm {
    service: Service,
}

impl AvmWasm {
    fn load() -> AvmWasm {
        // Compiled once per build directory: the module is large.
        let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("marine-cache");
        let runtime = Runtime::new(RuntimeConfig {
            cache_dir: Some(cache),
        })
        .unwrap();
        let module = runtime
            .load_module_file("avm", avm_wasm())
            .unwrap_or_else(|e| panic!("avm.wasm does not load: {e}"));
        // As avm-server configures it: the logger on, and nothing of WASI.
        let mut config = ServiceConfig::new(vec![ModuleConfig::new(module)]);
        config.total_memory_limit = Some(1 << 30);
        let service = Service::new(&runtime, config).unwrap();
        AvmWasm { service }
    }
}

impl Engine for AvmWasm {
    fn name(&self) -> &str {
        "avm.wasm"
    }

    fn step(&self, input: &StepInput<'_>) -> StepOutcome {
        let run_parameters = IValue::Record(vec![
            IValue::String(input.init_peer_id.to_owned()),
            IValue::String(input.current_peer_id.to_owned()),
            IValue::U64(input.timestamp),
            IValue::U32(input.ttl),
            IValue::U8(ED25519),
            IValue::ByteArray(input.secret_key.to_vec()),
            IValue::String(input.particle_id.to_owned()),
            IValue::U64(AIR_SIZE_LIMIT),
            IValue::U64(PARTICLE_SIZE_LIMIT),
            IValue::U64(CALL_RESULT_SIZE_LIMIT),
            IValue::Boolean(false),
        ]);
        let arguments = [
            IValue::String(input.script.to_owned()),
            IValue::ByteArray(input.prev_data.to_vec()),
            IValue::ByteArray(input.current_data.to_vec()),
            run_parameters,
            IValue::ByteArray(encoded_call_results(input)),
        ];
        let outcome = self
            .service
            .call("invoke", &arguments, CallParameters::default())
            .unwrap_or_else(|e| panic!("avm.wasm failed: {e}"));
        outcome_of(outcome)
    }
}

/// The `InterpreterOutcome` record: ret_code, error_message, data, next_peer_pks,
/// call_requests and three flags of exceeded soft limits.
fn outcome_of(outcome: Option<IValue>) -> StepOutcome {
    let Some(IValue::Record(fields)) = outcome else {
        panic!("invoke returned {outcome:?}, not a record");
    };
    let [IValue::S64(ret_code), IValue::String(error_message), IValue::ByteArray(data), IValue::Array(peers), IValue::ByteArray(requests), ..] =
        fields.as_slice()
    else {
        panic!("an outcome of unexpected shape: {fields:?}");
    };
    let mut next_peer_pks: Vec<String> = peers
        .iter()
        .map(|peer| match peer {
            IValue::String(peer) => peer.clone(),
            other => panic!("a peer id that is not a string: {other:?}"),
        })
        .collect();
    next_peer_pks.sort();
    let call_requests = if requests.is_empty() {
        Default::default()
    } else {
        vm::data::calls::decode_call_requests(requests)
            .unwrap_or_else(|e| panic!("avm.wasm's call requests do not decode: {e}"))
    };
    StepOutcome {
        ret_code: *ret_code,
        error_message: error_message.clone(),
        data: data.clone(),
        next_peer_pks,
        call_requests: call_requests
            .into_iter()
            .map(|(id, request)| (id, call_request(request)))
            .collect(),
    }
}

/// The code of a script that does not parse; each VM words the diagnostic its own way.
const AIR_PARSE_ERROR: i64 = 1;

/// Runs `avm.wasm` and, on the same input, our VM; the run goes on with `avm.wasm`'s outcome.
/// Every difference is kept, with the step's number.
struct Lockstep<'a> {
    avm: &'a AvmWasm,
    steps: RefCell<usize>,
    differences: RefCell<Vec<String>>,
}

impl Engine for Lockstep<'_> {
    fn name(&self) -> &str {
        "lockstep"
    }

    fn step(&self, input: &StepInput<'_>) -> StepOutcome {
        let reference = self.avm.step(input);
        let ours = VmEngine.step(input);
        let step = {
            let mut steps = self.steps.borrow_mut();
            *steps += 1;
            *steps - 1
        };
        let differ = |what: &str, reference: String, ours: String| {
            self.differences.borrow_mut().push(format!(
                "step {step} at {}: {what}\n  avm.wasm: {reference}\n  our VM:   {ours}",
                input.current_peer_id
            ));
        };
        if reference.ret_code != ours.ret_code {
            differ(
                "return code",
                reference.ret_code.to_string(),
                ours.ret_code.to_string(),
            );
        } else if reference.ret_code != AIR_PARSE_ERROR
            && reference.error_message != ours.error_message
        {
            differ(
                "error message",
                reference.error_message.clone(),
                ours.error_message.clone(),
            );
        }
        if reference.next_peer_pks != ours.next_peer_pks {
            differ(
                "next peers",
                format!("{:?}", reference.next_peer_pks),
                format!("{:?}", ours.next_peer_pks),
            );
        }
        if reference.call_requests != ours.call_requests {
            differ(
                "call requests",
                format!("{:?}", reference.call_requests),
                format!("{:?}", ours.call_requests),
            );
        }
        if !same_content(&reference.data, &ours.data) {
            differ("data", data_parts(&reference.data), data_parts(&ours.data));
        }
        reference
    }
}

/// Particle data in brief: its size and, when it decodes, the digest of each part, so that a
/// difference shows where it is.
fn data_parts(data: &[u8]) -> String {
    let digest = |part: String| {
        let hash = blake3::hash(part.as_bytes()).to_hex();
        hash.as_str()[..12].to_owned()
    };
    match vm::data::decode(data) {
        Ok((_, decoded)) => format!(
            "{} bytes: trace {}, values {}, service results {}, signatures {}, last call id {}",
            data.len(),
            digest(format!("{:?}", decoded.trace)),
            digest(format!("{:?}", decoded.cid_info.value_store)),
            digest(format!("{:?}", decoded.cid_info.service_result_store)),
            digest(format!("{:?}", decoded.signatures)),
            decoded.last_call_request_id
        ),
        Err(e) => format!("{} bytes that do not decode: {e}", data.len()),
    }
}

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vm/tests/scenarios")
}

/// The scenarios (path relative to the scenarios directory) that `SCENARIO` selects.
fn scenarios() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "air") {
                let relative = path.strip_prefix(root).unwrap();
                out.push(relative.to_string_lossy().into_owned());
            }
        }
    }
    let root = scenarios_dir();
    let mut found = Vec::new();
    walk(&root, &root, &mut found);
    found.sort();
    let filter = std::env::var("SCENARIO").unwrap_or_default();
    found.retain(|name| name.contains(&filter));
    found
}

fn load(name: &str) -> (Scenario, String) {
    let path = scenarios_dir().join(name);
    let scenario = Scenario::load(&path).unwrap();
    let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
    (scenario, expected)
}

/// Fewer scenarios than this means a lost directory, not a filter.
const MIN_SCENARIOS: usize = 120;

/// The lines of a list file of the scenarios directory or of this test's directory, without
/// comments; the part before ` -- ` (a reason) for each.
fn listed(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split(" -- ").next().unwrap_or(l).trim().to_owned())
        .collect()
}

/// `avm-differs.txt`: where the deployed reference and the native one differ.
fn known_differences() -> Vec<String> {
    listed(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/avm-differs.txt"))
}

/// Checks the outcome of every scenario against the known differences: an unlisted one must
/// agree and a listed one must still differ. `results` holds each scenario's differences.
fn check(results: Vec<(String, Vec<String>)>, what: &str) {
    let known = known_differences();
    let mut failures = Vec::new();
    let mut agreeing = 0;
    for (name, differences) in &results {
        match (differences.is_empty(), known.contains(name)) {
            (true, false) => agreeing += 1,
            (true, true) => failures.push(format!(
                "{name} no longer differs: remove it from avm-differs.txt"
            )),
            (false, false) => failures.push(differences.join("\n\n")),
            (false, true) => {}
        }
    }
    eprintln!(
        "{what}: {agreeing} of {} scenarios agree, {} known to differ",
        results.len(),
        results.iter().filter(|(n, _)| known.contains(n)).count()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_reference_module_reproduces_the_snapshots_in_our_runtime() {
    let avm = AvmWasm::load();
    let names = scenarios();
    if std::env::var_os("SCENARIO").is_none() {
        assert!(names.len() >= MIN_SCENARIOS, "{} scenarios", names.len());
    }
    let results = names
        .into_iter()
        .map(|name| {
            let (scenario, expected) = load(&name);
            let report = scenario.run(&|_, _| &avm as &dyn Engine).render();
            let differences = if report == expected {
                Vec::new()
            } else {
                vec![format!(
                    "{name}\n--- native reference:\n{expected}--- avm.wasm:\n{report}"
                )]
            };
            (name, differences)
        })
        .collect();
    check(results, "avm.wasm against the snapshots");
}

#[test]
fn our_vm_steps_like_the_reference_module() {
    let avm = AvmWasm::load();
    let agreeing = listed(&scenarios_dir().join("vm-agreeing.txt"));
    let names: Vec<String> = scenarios()
        .into_iter()
        .filter(|name| agreeing.contains(name))
        .collect();
    if std::env::var_os("SCENARIO").is_none() {
        assert!(names.len() >= MIN_SCENARIOS, "{} scenarios", names.len());
    }
    let mut steps = 0;
    let results = names
        .into_iter()
        .map(|name| {
            let (scenario, expected) = load(&name);
            let lockstep = Lockstep {
                avm: &avm,
                steps: RefCell::new(0),
                differences: RefCell::new(Vec::new()),
            };
            scenario.run(&|_, _| &lockstep as &dyn Engine);
            steps += lockstep.steps.into_inner();
            let mut differences: Vec<String> = lockstep
                .differences
                .into_inner()
                .into_iter()
                .map(|d| format!("{name}: {d}"))
                .collect();
            // Each reads the other's data: peers with names of odd length run our VM.
            let mixed = scenario
                .run(&|peer, _| {
                    if peer.len() % 2 == 1 {
                        &VmEngine as &dyn Engine
                    } else {
                        &avm
                    }
                })
                .render();
            if mixed != expected {
                differences.push(format!(
                    "{name}, peers alternating between avm.wasm and our VM\n--- expected:\n{expected}--- mixed:\n{mixed}"
                ));
            }
            (name, differences)
        })
        .collect();
    eprintln!("{steps} steps in lockstep");
    check(results, "our VM against avm.wasm");
}
