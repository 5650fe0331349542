//! The benchmark scenarios: each is one interpreter run, prepared in advance.
//!
//! The workloads follow the reference project's benchmark set (its `gen-bench-data` tool), with
//! scripts and data generated here. Every scenario plays a whole particle on the test harness's
//! simulated network with the reference VM, records the input of every run, and keeps one of
//! them: the run the scenario is about. The measured part is then a single `execute` on that
//! input, the same bytes for both VMs.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::path::Path;

use serde_json::{json, Value};

use network_sim::engine::{StepInput, StepOutcome};
use network_sim::network::{Network, Particle};
use network_sim::ours::encoded_call_results;
use network_sim::peers::Peers;
use network_sim::services::{Behaviour, ServiceRule, Services};
use network_sim::{run_particle, Engine, ReferenceEngine};

/// Scenario names, in report order.
pub const NAMES: [&str; 9] = [
    "null",
    "dashboard",
    "network_explore",
    "long_data",
    "big_values",
    "call_requests_500",
    "call_results_500",
    "canon_maps",
    "call_result_100mb",
];

/// Everything one interpreter run reads, as a host passes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub script: String,
    pub prev_data: Vec<u8>,
    pub current_data: Vec<u8>,
    /// Call results in the wire format both VMs read (multicodec-prefixed MessagePack).
    pub call_results: Vec<u8>,
    pub init_peer_id: String,
    pub current_peer_id: String,
    pub particle_id: String,
    pub timestamp: u64,
    pub ttl: u32,
    pub secret_key: [u8; 32],
}

impl Step {
    /// What the run is given to work on: both data and the call results, in bytes.
    pub fn particle_size(&self) -> usize {
        self.prev_data.len() + self.current_data.len() + self.call_results.len()
    }

    /// Saves the step for a memory-measuring child process (length-prefixed fields).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut file = io::BufWriter::new(std::fs::File::create(path)?);
        let fields: [&[u8]; 9] = [
            self.script.as_bytes(),
            &self.prev_data,
            &self.current_data,
            &self.call_results,
            self.init_peer_id.as_bytes(),
            self.current_peer_id.as_bytes(),
            self.particle_id.as_bytes(),
            &self.timestamp.to_le_bytes(),
            &self.ttl.to_le_bytes(),
        ];
        for field in fields.into_iter().chain([&self.secret_key[..]]) {
            file.write_all(&(field.len() as u64).to_le_bytes())?;
            file.write_all(field)?;
        }
        file.flush()
    }

    /// Reads what [`Step::save`] wrote.
    pub fn load(path: &Path) -> io::Result<Step> {
        let mut file = io::BufReader::new(std::fs::File::open(path)?);
        let mut field = || -> io::Result<Vec<u8>> {
            let mut len = [0; 8];
            file.read_exact(&mut len)?;
            let mut bytes = vec![0; u64::from_le_bytes(len) as usize];
            file.read_exact(&mut bytes)?;
            Ok(bytes)
        };
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        let text = |bytes: Vec<u8>| String::from_utf8(bytes).map_err(|_| invalid("not UTF-8"));
        Ok(Step {
            script: text(field()?)?,
            prev_data: field()?,
            current_data: field()?,
            call_results: field()?,
            init_peer_id: text(field()?)?,
            current_peer_id: text(field()?)?,
            particle_id: text(field()?)?,
            timestamp: u64::from_le_bytes(field()?.try_into().map_err(|_| invalid("timestamp"))?),
            ttl: u32::from_le_bytes(field()?.try_into().map_err(|_| invalid("ttl"))?),
            secret_key: field()?.try_into().map_err(|_| invalid("secret key"))?,
        })
    }
}

/// Generates the step of the scenario `name` (one of [`NAMES`]).
pub fn generate(name: &str) -> Step {
    match name {
        "null" => null(),
        "dashboard" => dashboard(),
        "network_explore" => network_explore(),
        "long_data" => long_data(),
        "big_values" => big_values(),
        "call_requests_500" => calls_500().0,
        "call_results_500" => calls_500().1,
        "canon_maps" => canon_maps(),
        "call_result_100mb" => call_result_100mb(),
        other => panic!("unknown scenario {other:?}"),
    }
}

/// One line per scenario: what it runs.
pub fn describe(name: &str) -> &'static str {
    match name {
        "null" => "`(null)` on empty data: the fixed cost of a run",
        "dashboard" => {
            "a relay merging two peers' data of a 9-peer dashboard script \
             (folds over peers and neighbourhoods, 5 calls per peer)"
        }
        "network_explore" => {
            "a relay merging data of a 5-peer network exploration (nested folds, streams, canon)"
        }
        "long_data" => {
            "a peer replaying a fold over 10,000 values with one executed call each, \
             received from another peer"
        }
        "big_values" => "a 10 MB call result (100 objects of 100 KB) arriving from the host",
        "call_requests_500" => "a fold emitting 500 call requests of 24 arguments each",
        "call_results_500" => "500 call results arriving for those requests",
        "canon_maps" => "a peer freezing a stream map of 961 entries (31 keys x 31 values)",
        "call_result_100mb" => {
            "a peer receiving data with a 100 MB call result, folding over it and running a canon"
        }
        other => panic!("unknown scenario {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Recording the runs of a scenario.

/// One recorded run: the peer's name and its input.
struct Recorded {
    peer: String,
    step: Step,
}

/// Runs every step on the reference and keeps a copy of each input.
struct Recorder<'p> {
    peers: &'p Peers,
    runs: RefCell<Vec<Recorded>>,
}

impl Engine for Recorder<'_> {
    fn name(&self) -> &str {
        "recorder"
    }

    fn step(&self, input: &StepInput<'_>) -> StepOutcome {
        let peer = self
            .peers
            .by_id(input.current_peer_id)
            .expect("scenario peer");
        self.runs.borrow_mut().push(Recorded {
            peer: peer.name.clone(),
            step: Step {
                script: input.script.to_owned(),
                prev_data: input.prev_data.to_vec(),
                current_data: input.current_data.to_vec(),
                call_results: encoded_call_results(input),
                init_peer_id: input.init_peer_id.to_owned(),
                current_peer_id: input.current_peer_id.to_owned(),
                particle_id: input.particle_id.to_owned(),
                timestamp: input.timestamp,
                ttl: input.ttl,
                secret_key: input.secret_key,
            },
        });
        ReferenceEngine.step(input)
    }
}

/// A scenario being built: peers by name, mock services, and the script with `@name`s.
struct Builder {
    peers: Peers,
    init: String,
    services: Vec<ServiceRule>,
}

impl Builder {
    fn new(init: &str, others: &[&str]) -> Builder {
        let mut peers = Peers::default();
        for name in std::iter::once(&init).chain(others) {
            peers.add(name);
        }
        Builder {
            peers,
            init: init.to_owned(),
            services: Vec::new(),
        }
    }

    fn id(&self, name: &str) -> String {
        self.peers.get(name).expect("declared peer").id.clone()
    }

    /// `peer` answers `service.function` with `behaviour`.
    fn serve(&mut self, peer: &str, service: &str, function: &str, behaviour: Behaviour) {
        self.services.push(ServiceRule {
            peer: Some(peer.to_owned()),
            service_id: service.to_owned(),
            function_name: Some(function.to_owned()),
            behaviour,
        });
    }

    /// Plays the particle to the end and returns every run's input.
    fn play(self, script: &str) -> Vec<Recorded> {
        let particle = Particle {
            id: "bench-particle".to_owned(),
            ..Particle::new(self.peers.substitute(script), &self.init)
        };
        let network = Network {
            max_steps: 20_000,
            ..Network::new(self.peers)
        };
        let recorder = Recorder {
            peers: &network.peers,
            runs: RefCell::new(Vec::new()),
        };
        let mut services = Services::new(self.services);
        let observed = run_particle(&network, &particle, &mut services, &|_, _| &recorder);
        assert!(!observed.step_cap_reached, "the scenario does not settle");
        for delivery in &observed.deliveries {
            for run in &delivery.runs {
                assert_eq!(
                    run.ret_code, 0,
                    "a generating run at @{} failed: {}",
                    delivery.peer, run.error_message
                );
            }
        }
        recorder.runs.into_inner()
    }
}

/// The `n`-th run (0-based) at `peer`.
fn nth_run_at(runs: Vec<Recorded>, peer: &str, n: usize) -> Step {
    runs.into_iter()
        .filter(|run| run.peer == peer)
        .nth(n)
        .map(|run| run.step)
        .unwrap_or_else(|| panic!("@{peer} has no run {n}"))
}

/// The run at `peer` merging the most data, counting only runs that merge two data.
fn largest_merge_at(runs: Vec<Recorded>, peer: &str) -> Step {
    runs.into_iter()
        .filter(|run| {
            run.peer == peer && !run.step.prev_data.is_empty() && !run.step.current_data.is_empty()
        })
        .max_by_key(|run| run.step.particle_size())
        .map(|run| run.step)
        .unwrap_or_else(|| panic!("@{peer} never merges two data"))
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

fn null() -> Step {
    let runs = Builder::new("a", &[]).play("(null)");
    nth_run_at(runs, "a", 0)
}

/// `peer` (an AIR value) describes itself in five calls, the last two routed back to the
/// client through the relay. Variables are prefixed so that sibling blocks do not clash.
fn describe_peer(peer: &str, prefix: &str) -> String {
    format!(
        r#"(seq
  (seq
    (call {peer} ("op" "identity") [])
    (seq
      (call {peer} ("op" "identify") [] {prefix}-info)
      (call {peer} ("dist" "get_blueprints") [] {prefix}-blueprints)))
  (seq
    (seq
      (call {peer} ("dist" "get_modules") [] {prefix}-modules)
      (call {peer} ("srv" "get_interfaces") [] {prefix}-interfaces))
    (seq
      (call relay ("op" "identity") [])
      (call %init_peer_id% ("event" "all_info") [{peer} {prefix}-info {prefix}-interfaces {prefix}-blueprints {prefix}-modules]))))"#
    )
}

fn dashboard() -> Step {
    let known: Vec<String> = (0..7).map(|n| format!("n{n}")).collect();
    let mut names: Vec<&str> = known.iter().map(String::as_str).collect();
    names.push("relay");
    let mut builder = Builder::new("client", &names);
    let known_ids: Value = known.iter().map(|name| json!(builder.id(name))).collect();
    let ok = |value: Value| Behaviour::Ok(value);
    builder.serve("client", "load", "relay", ok(json!(builder.id("relay"))));
    builder.serve("client", "load", "peers", ok(known_ids.clone()));
    builder.serve("client", "load", "client", ok(json!(builder.id("client"))));
    builder.serve("client", "event", "all_info", ok(Value::Null));
    for name in names {
        let id = builder.id(name);
        let list = |what: &str| {
            ok((0..3)
                .map(|n| json!(format!("{name}-{what}-{n}")))
                .collect())
        };
        builder.serve(name, "op", "identity", ok(json!(id)));
        let info = json!({"peer_id": id, "node_version": "0.1.0", "external_addresses": [format!("/dns4/{name}.example/tcp/7770")]});
        builder.serve(name, "op", "identify", ok(info));
        builder.serve(name, "dist", "get_blueprints", list("blueprint"));
        builder.serve(name, "dist", "get_modules", list("module"));
        builder.serve(name, "srv", "get_interfaces", list("interface"));
        builder.serve(name, "dht", "neighborhood", ok(known_ids.clone()));
    }
    let script = format!(
        r#"(seq
  (seq
    (call %init_peer_id% ("load" "relay") [] relay)
    (seq
      (call %init_peer_id% ("load" "peers") [] peers)
      (call %init_peer_id% ("load" "client") [] client)))
  (par
    {relay}
    (par
      (fold peers p
        (par
          {known}
          (next p)))
      (seq
        (call relay ("op" "identity") [])
        (seq
          (call relay ("dht" "neighborhood") [client] neighbours)
          (fold neighbours n
            (par
              (seq
                (call n ("dht" "neighborhood") [client] more)
                (fold more m
                  (par
                    {neighbour}
                    (next m))))
              (next n))))))))"#,
        relay = describe_peer("relay", "relay"),
        known = describe_peer("p", "known"),
        neighbour = describe_peer("m", "neighbour"),
    );
    largest_merge_at(builder.play(&script), "relay")
}

fn network_explore() -> Step {
    let mut builder = Builder::new("client", &["relay", "c1", "c2", "c3"]);
    let ids = |names: &[&str]| -> Value { names.iter().map(|n| json!(builder.id(n))).collect() };
    let neighbourhoods = [
        ("relay", ids(&["c1", "c2", "c3", "relay"])),
        ("c1", ids(&["c1", "c3", "relay", "c2"])),
        ("c2", ids(&["relay", "c3", "c1", "c2"])),
        ("c3", ids(&["relay", "c3", "c1", "c2"])),
    ];
    builder.serve(
        "client",
        "load",
        "relay",
        Behaviour::Ok(json!(builder.id("relay"))),
    );
    builder.serve(
        "client",
        "load",
        "client",
        Behaviour::Ok(json!(builder.id("client"))),
    );
    builder.serve("client", "return", "", Behaviour::Ok(Value::Null));
    for (name, neighbours) in neighbourhoods {
        let info =
            json!({"peer_id": builder.id(name), "services": ["op", "dht", "srv"], "name": name});
        builder.serve(name, "dht", "neighborhood", Behaviour::Ok(neighbours));
        builder.serve(name, "op", "identify", Behaviour::Ok(info));
        builder.serve(name, "op", "identity", Behaviour::Ok(Value::Null));
    }
    let script = r#"(seq
  (seq
    (seq
      (call "@client" ("load" "relay") [] relay)
      (call "@client" ("load" "client") [] client))
    (seq
      (call relay ("dht" "neighborhood") [relay] nearest)
      (seq
        (fold nearest n
          (seq
            (call n ("dht" "neighborhood") [n] $around)
            (next n)))
        (fold $around list
          (seq
            (fold list m
              (seq
                (call m ("op" "identify") [] $found)
                (next m)))
            (next list))))))
  (seq
    (call relay ("op" "identity") [])
    (seq
      (seq
        (canon client $found #found)
        (canon client $around #around))
      (call client ("return" "") [#found #around nearest]))))"#;
    largest_merge_at(builder.play(script), "relay")
}

fn long_data() -> Step {
    let mut builder = Builder::new("a", &["b"]);
    let values: Value = (0..10_000)
        .map(|n| {
            json!(format!(
                "value {n:05} of the long fold, padded to a typical size"
            ))
        })
        .collect();
    builder.serve("a", "data", "values", Behaviour::Ok(values));
    builder.serve("a", "data", "echo", Behaviour::Arg(0));
    builder.serve("b", "data", "done", Behaviour::Ok(Value::Null));
    let script = r#"(seq
  (seq
    (call %init_peer_id% ("data" "values") [] values)
    (fold values v
      (par
        (call %init_peer_id% ("data" "echo") [v] echoed)
        (next v))))
  (call "@b" ("data" "done") []))"#;
    nth_run_at(builder.play(script), "b", 0)
}

/// Deterministic pseudo-random hex text of `len` characters (xorshift64), so that values do
/// not compress into something unrealistically regular.
fn hex_noise(seed: u64, len: usize) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut state = seed | 1;
    let mut text = Vec::with_capacity(len);
    while text.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        text.extend(
            state
                .to_le_bytes()
                .iter()
                .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]),
        );
    }
    text.truncate(len);
    String::from_utf8(text).expect("hex digits are ASCII")
}

fn big_values() -> Step {
    let mut builder = Builder::new("a", &["b"]);
    let blob: Value = (0..100)
        .map(|n| json!({"index": n, "payload": hex_noise(n + 1, 100 * 1024)}))
        .collect();
    builder.serve("a", "storage", "load", Behaviour::Ok(blob));
    builder.serve("b", "storage", "keep", Behaviour::Ok(Value::Null));
    let script = r#"(seq
  (call %init_peer_id% ("storage" "load") [] blob)
  (call "@b" ("storage" "keep") [blob]))"#;
    // Run 1 at `a` is the one that receives the result.
    nth_run_at(builder.play(script), "a", 1)
}

/// The step emitting 500 call requests and the step receiving their results.
fn calls_500() -> (Step, Step) {
    let mut builder = Builder::new("a", &[]);
    let values: Value = (0..500).map(|n| json!(n.to_string())).collect();
    builder.serve("a", "init", "values", Behaviour::Ok(values));
    builder.serve("a", "handler", "handle", Behaviour::Echo);
    let arguments = vec!["v"; 24].join(" ");
    let script = format!(
        r#"(seq
  (call %init_peer_id% ("init" "values") [] values)
  (fold values v
    (par
      (call %init_peer_id% ("handler" "handle") [{arguments}] $answers)
      (next v))))"#
    );
    let mut runs = builder.play(&script).into_iter().map(|run| run.step);
    let requests = runs.nth(1).expect("the run with the values");
    let results = runs.next().expect("the run with the 500 results");
    (requests, results)
}

fn canon_maps() -> Step {
    let mut builder = Builder::new("a", &["b"]);
    let keys: Value = (0..31).map(|n| json!(format!("key-{n}"))).collect();
    builder.serve("a", "init", "keys", Behaviour::Ok(keys));
    let script = r#"(new %map
  (seq
    (seq
      (call %init_peer_id% ("init" "keys") [] keys)
      (fold keys k
        (seq
          (fold keys v
            (seq
              (ap (k v) %map)
              (next v)))
          (next k))))
    (canon "@b" %map #%frozen)))"#;
    nth_run_at(builder.play(script), "b", 0)
}

fn call_result_100mb() -> Step {
    let mut builder = Builder::new("a", &["b"]);
    builder.serve(
        "a",
        "storage",
        "load",
        Behaviour::Ok(json!([hex_noise(7, 100 << 20)])),
    );
    let script = r#"(seq
  (call %init_peer_id% ("storage" "load") [] blob)
  (seq
    (fold blob item
      (next item))
    (canon "@b" $seen #seen)))"#;
    nth_run_at(builder.play(script), "b", 0)
}
