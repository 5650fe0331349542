//! Running the runnable corpus (`aqua/tests/programs`) end to end as `aquac run` does: each
//! function compiled by the `aqua` crate, called from the client of an embedded network
//! whose peers serve the run spec's mock services natively.
//!
//! The spec's peers map to the embedded network's: `relay` is peer 0 (the client's relay),
//! the spec's further peers are peers 1, 2, ... in the spec's order, `client` is the client.
//! Peer ids are those of seed 0, the reference network's too.

#![allow(dead_code)] // each test uses its own part

pub mod faults;
pub mod reference;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aqua::compile::{compile, Compilation, Options};
use aqua::project::DiskFiles;
use aquac::run::Function;
use network_sim::aqua::corpus::{self, Program};
use network_sim::aqua::RunSpec;
use network_sim::engine::{CallRequest, Tetraplet};
use network_sim::peers::substitute_names;
use network_sim::services::{ServiceRule, Services};
use runtime_node::embedded::{Embedded, EmbeddedOptions};
use runtime_node::service::{Call, Outcome, ParticleParams, Reply, Service};
use runtime_node::PeerId;
use serde_json::Value;

/// How long a corpus function may take: far more than any needs, as the only waits in the
/// corpus are `Peer.timeout`s of a few hundred ms.
pub const TTL: Duration = Duration::from_secs(5);

pub fn programs_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/programs")
}

/// The corpus, filtered by `AQUA_PROGRAM=<text>` (a part of `<area>/<name>`) when set.
pub fn programs() -> Vec<Program> {
    let filter = std::env::var("AQUA_PROGRAM").ok();
    corpus::load(&programs_root())
        .unwrap_or_else(|problems| panic!("the corpus does not load:\n{}", problems.join("\n")))
        .into_iter()
        .filter(|p| filter.as_ref().is_none_or(|f| p.id().contains(f.as_str())))
        .collect()
}

/// Compiles a program as `aquac run` does (no import folders, no constants).
pub fn compile_program(program: &Program) -> Compilation {
    let compilation = compile(
        std::slice::from_ref(&program.source),
        &DiskFiles,
        &Options::default(),
    );
    assert!(
        !compilation.has_errors(),
        "{} does not compile: {:?}",
        program.id(),
        compilation.diagnostics()
    );
    compilation
}

/// The number of server peers a spec needs: the relay and its further peers.
pub fn server_count(spec: &RunSpec) -> u32 {
    1 + u32::try_from(spec.topology.peers.len()).expect("a few peers")
}

/// The spec's peer names and the network's ids.
pub struct Names {
    /// Name (without `@`) to peer id, base58.
    ids: BTreeMap<String, String>,
}

impl Names {
    /// The names of `spec` on a network whose servers are `servers` (relay first) and whose
    /// client is `client`.
    pub fn new(spec: &RunSpec, servers: &[String], client: &str) -> Names {
        let topology = &spec.topology;
        let mut ids = BTreeMap::from([
            (topology.client.clone(), client.to_owned()),
            (topology.relay.clone(), servers[0].clone()),
        ]);
        for (name, id) in topology.peers.iter().zip(&servers[1..]) {
            ids.insert(name.clone(), id.clone());
        }
        Names { ids }
    }

    /// `text` with every `@name` replaced by its peer id.
    pub fn substitute(&self, text: &str) -> String {
        substitute_names(text, |name| self.ids.get(name).cloned())
    }

    /// `text` with every peer id replaced by `@name`, for snapshots.
    pub fn unsubstitute(&self, text: &str) -> String {
        self.ids.iter().fold(text.to_owned(), |text, (name, id)| {
            text.replace(id, &format!("@{name}"))
        })
    }

    pub fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }

    /// The peer names, in name order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.ids.keys().map(String::as_str)
    }

    /// `arguments` with peer names replaced by ids.
    pub fn arguments(&self, arguments: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
        arguments
            .iter()
            .map(|(name, value)| {
                let text = self.substitute(&value.to_string());
                let value = serde_json::from_str(&text).expect("peer ids keep JSON valid");
                (name.clone(), value)
            })
            .collect()
    }

    /// The spec's service rules with peer names replaced by ids in their answers.
    pub fn rules(&self, spec: &RunSpec) -> Vec<ServiceRule> {
        spec.services
            .iter()
            .map(|rule| ServiceRule {
                behaviour: rule
                    .behaviour
                    .substitute_text(&|text| self.substitute(text)),
                ..rule.clone()
            })
            .collect()
    }
}

/// The spec's arguments of `function` as a client gives them: the spec holds them as the
/// script does (options as arrays), `aquac run` and the JS client take options as a value or
/// `null`.
pub fn client_arguments(function: &Function, spec: &RunSpec) -> BTreeMap<String, Value> {
    function
        .params
        .iter()
        .filter_map(|(name, ty)| {
            let value = spec.args.get(name)?.clone();
            Some((name.clone(), aquac::run::from_air(value, ty)))
        })
        .collect()
}

/// How a function call ended: its result, or the error's message.
pub type Ending = Result<Value, String>;

/// The mock services of one peer: the spec's rules for that peer, as a native service.
struct Mock {
    peer: String,
    rules: Mutex<Services>,
}

impl Service for Mock {
    fn call(&self, call: Call, _: &ParticleParams) -> Reply {
        let request = CallRequest {
            service_id: call.service_id,
            function_name: call.function_name,
            arguments: call.arguments,
            tetraplets: call
                .tetraplets
                .into_iter()
                .map(|list| {
                    list.into_iter()
                        .map(|t| Tetraplet {
                            peer_pk: t.peer_pk.to_string(),
                            service_id: t.service_id.to_string(),
                            function_name: t.function_name.to_string(),
                            lens: t.lens.to_string(),
                        })
                        .collect()
                })
                .collect(),
        };
        let answer = self
            .rules
            .lock()
            .expect("a mock never panics holding its rules")
            .answer(&self.peer, &request);
        let outcome = match serde_json::from_str::<Value>(&answer.result) {
            Ok(value) if answer.ret_code == 0 => Outcome::Value(value),
            Ok(value) => Outcome::Fail(answer.ret_code, value),
            // `raw` answers that are not JSON: a host service always answers JSON.
            Err(_) => Outcome::error(format!(
                "the mock's answer is not JSON: {:?}",
                answer.result
            )),
        };
        outcome.into()
    }
}

/// Registers the spec's mock services on the peers of `embedded` and returns the client's
/// callbacks for the arrow arguments among `params` (`callbackSrv.<param>` rules on the
/// client).
fn serve_mocks(
    embedded: &Embedded,
    spec: &RunSpec,
    names: &Names,
    params: &[String],
) -> HashMap<String, Arc<dyn Service>> {
    let rules = names.rules(spec);
    let client = spec.topology.client.as_str();
    let mut callbacks = HashMap::new();
    for name in names.names() {
        let own: Vec<ServiceRule> = rules
            .iter()
            .filter(|rule| rule.peer.as_deref().is_none_or(|p| p == name))
            .cloned()
            .collect();
        let mut services: Vec<&str> = own.iter().map(|r| r.service_id.as_str()).collect();
        services.sort_unstable();
        services.dedup();
        let mock: Arc<dyn Service> = Arc::new(Mock {
            peer: name.to_owned(),
            rules: Mutex::new(Services::new(own.clone())),
        });
        let peer: PeerId = names.id(name).parse().expect("a peer id");
        for service in services {
            if name == client && service == "callbackSrv" {
                // The client's `callbackSrv` is its own; arrow arguments are its callbacks.
                for param in params {
                    callbacks.insert(param.clone(), mock.clone());
                }
                continue;
            }
            embedded
                .register_service(&peer, service, mock.clone())
                .unwrap_or_else(|e| panic!("mock service {service} on @{name}: {e}"));
        }
    }
    callbacks
}

/// Runs the function `name` of `compilation` as `spec` says on a fresh embedded network, as
/// `aquac run` would (the same compilation, network, client and call), and returns how it
/// ended, peer ids shown as `@name`.
pub fn run_ours(compilation: &Compilation, name: &str, spec: &RunSpec) -> Ending {
    run_ours_with(compilation, name, spec, |_, _| ())
}

/// [`run_ours`], with `setup` called on the network before the call; what it returns is
/// kept until the call has ended.
pub fn run_ours_with<T>(
    compilation: &Compilation,
    name: &str,
    spec: &RunSpec,
    setup: impl FnOnce(&Embedded, &Names) -> T,
) -> Ending {
    let function = Function::of(compilation, name)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let embedded = Embedded::start(&EmbeddedOptions {
            peers: server_count(spec),
            console: Arc::new(|_: &str| {}),
            ..EmbeddedOptions::default()
        })
        .expect("the local network starts");
        let servers: Vec<String> = embedded.peers.iter().map(|p| p.to_base58()).collect();
        let names = Names::new(spec, &servers, &embedded.client.peer_id().to_base58());
        let callbacks = serve_mocks(&embedded, spec, &names, &function.param_names());
        let _kept = setup(&embedded, &names);
        let mut arguments = names.arguments(&client_arguments(&function, spec));
        // An arrow argument has no value: the script calls it instead of asking for it.
        let values = function
            .params
            .iter()
            .map(|(param, _)| arguments.remove(param).unwrap_or(Value::Null))
            .collect();
        let mut call = function.call(values, TTL);
        call.callbacks = callbacks;
        let clock = Clock::start();
        let ending = embedded.client.call_function(call).await;
        let clock = clock.stop();
        match ending {
            Ok(value) => {
                let value = function.result(value);
                let value = serde_json::from_str(&names.unsubstitute(&value.to_string()))
                    .expect("peer names keep JSON valid");
                Ok(clock.hide(value))
            }
            Err(error) => Err(names.unsubstitute(&error.to_string())),
        }
    })
}

/// The wall-clock window of a call, to tell the times in its result from other numbers.
#[derive(Clone, Copy)]
pub struct Clock {
    start_ms: u64,
    end_ms: u64,
}

impl Clock {
    pub fn start() -> Clock {
        let now = runtime_node::engine::now_ms();
        Clock {
            start_ms: now,
            end_ms: now,
        }
    }

    pub fn between(start_ms: u64, end_ms: u64) -> Clock {
        Clock { start_ms, end_ms }
    }

    pub fn stop(self) -> Clock {
        Clock {
            end_ms: runtime_node::engine::now_ms(),
            ..self
        }
    }

    /// `value` with every number within the window replaced by `"<now ms>"` (or, for
    /// seconds, `"<now s>"`): a time read during the call, which no snapshot can hold.
    pub fn hide(&self, value: Value) -> Value {
        match value {
            Value::Number(n) => match n.as_u64() {
                Some(ms) if (self.start_ms..=self.end_ms).contains(&ms) => "<now ms>".into(),
                Some(s) if (self.start_ms / 1000..=self.end_ms / 1000).contains(&s) => {
                    "<now s>".into()
                }
                _ => Value::Number(n),
            },
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.hide(v)).collect()),
            Value::Object(fields) => {
                Value::Object(fields.into_iter().map(|(k, v)| (k, self.hide(v))).collect())
            }
            other => other,
        }
    }
}

/// How a function's ending is compared, from `tests/programs/races.txt`: functions whose
/// result depends on timing on a real network (the order in which parallel branches
/// answer, which answer comes first, the clock) are compared only as far as it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// The whole ending.
    Exact,
    /// The ending with every array sorted: parallel branches answer in any order.
    Unordered,
    /// Only whether the function returned or failed.
    Outcome,
}

/// The comparison of each function listed in `tests/programs/races.txt` (lines
/// `<area>/<name>.<function> unordered|outcome -- reason`).
pub fn comparisons() -> BTreeMap<String, Comparison> {
    list("races.txt")
        .into_iter()
        .map(|(line, file)| {
            let mut words = line.split_whitespace();
            let id = words.next().expect("a non-empty line has a word");
            let comparison = match words.next() {
                Some("unordered") => Comparison::Unordered,
                Some("outcome") => Comparison::Outcome,
                other => panic!("{file}: `{line}`: unknown comparison {other:?}"),
            };
            assert!(
                words.next() == Some("--"),
                "{file}: `{line}` gives no reason after `--`"
            );
            (id.to_owned(), comparison)
        })
        .collect()
}

/// The lines of the list `tests/programs/<name>`, without blank lines and `#` comments, each
/// with the file's path for messages.
pub fn list(name: &str) -> Vec<(String, String)> {
    let path = programs_root().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| (line.to_owned(), path.display().to_string()))
        .collect()
}

impl Comparison {
    /// What of `ending` this comparison looks at, as text.
    pub fn view(self, ending: &Ending) -> String {
        match (self, ending) {
            (Comparison::Exact, Ok(value)) => format!("ok {value}"),
            (Comparison::Unordered, Ok(value)) => format!("ok (sorted) {}", sorted(value)),
            (Comparison::Outcome, Ok(_)) => "ok (value not compared)".to_owned(),
            (Comparison::Outcome, Err(_)) => "error (message not compared)".to_owned(),
            (_, Err(message)) => format!("error {message}"),
        }
    }
}

/// `value` with every array sorted (by the elements' JSON text), at every depth.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(sorted).collect();
            items.sort_by_cached_key(Value::to_string);
            Value::Array(items)
        }
        Value::Object(fields) => {
            Value::Object(fields.iter().map(|(k, v)| (k.clone(), sorted(v))).collect())
        }
        other => other.clone(),
    }
}
