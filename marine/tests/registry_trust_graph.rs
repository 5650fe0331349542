//! The real registry and trust-graph services together, wired as a node wires them: particles
//! run on simulated peers with our AquaVM, and every call of the node's `registry` and
//! `trust-graph` services goes to the distro modules in our runtime with call parameters
//! made from the call request, its tetraplets included. So what the registry checks (that a
//! weight was computed by this node's `trust-graph.get_weight`, that a timestamp is this
//! node's `peer.timestamp_sec`) comes from AquaVM's provenance tracking, not from the test.
//!
//! The flow follows the registry's own Aqua API (`registerKey`, `putRecord`): a root is set,
//! the root signs trusts, a key is registered and records are put with weights from the
//! trust graph, and the records come back ordered by those weights.

#[path = "common/distro.rs"]
mod distro;

use distro::{deploy, Deployed};
use fluence_keypair::{KeyFormat, KeyPair};
use marine::{CallParameters, SecurityTetraplet};
use network_sim::engine::{CallRequest, ServiceAnswer};
use network_sim::network::{CallContext, Observables, ServiceHost};
use network_sim::peers::Peers;
use network_sim::{run_particle, Engine, Network, Particle, VmEngine};
use serde_json::{json, Value};

/// The node, and who else takes part.
const NODE: &str = "node";
const PEERS: [&str; 4] = [NODE, "root", "alice", "bob"];

/// The node's services in our runtime, and the builtins of every peer the flows use.
struct Host {
    registry: Deployed,
    trust_graph: Deployed,
    peers: Peers,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Host {
    fn start() -> Host {
        let mut peers = Peers::default();
        for name in PEERS {
            peers.add(name);
        }
        let registry = deploy(
            tempfile::tempdir().unwrap(),
            &[
                ("registry.wasm", registry_distro::REGISTRY_WASM),
                ("sqlite3.wasm", registry_distro::SQLITE_WASM),
                ("Config.toml", registry_distro::CONFIG),
            ],
            &[],
        );
        let trust_graph = deploy(
            tempfile::tempdir().unwrap(),
            &[
                ("trust-graph.wasm", trust_graph_distro::TRUST_GRAPH_WASM),
                ("sqlite3.wasm", trust_graph_distro::SQLITE_WASM),
                ("Config.toml", trust_graph_distro::CONFIG),
            ],
            &[],
        );
        Host {
            registry,
            trust_graph,
            peers,
        }
    }

    fn id(&self, name: &str) -> String {
        self.peers.get(name).unwrap().id.clone()
    }

    /// Runs `script` (peers written `@name`) started by `init`, every peer on our VM.
    fn run(&mut self, init: &str, script: &str) -> Observables {
        let network = Network::new(self.peers.clone());
        let particle = Particle::new(self.peers.substitute(script), init);
        let observed = run_particle(&network, &particle, self, &|_, _| &VmEngine as &dyn Engine);
        for delivery in &observed.deliveries {
            for run in &delivery.runs {
                assert_eq!(run.ret_code, 0, "{}", run.error_message);
            }
        }
        observed
    }

    /// A call of the node's service, with the parameters the node gives it. The services
    /// report refusals in their results; a failure of the runtime fails the test.
    fn call_service(&self, call: &CallContext<'_>, request: &CallRequest) -> ServiceAnswer {
        let service = match request.service_id.as_str() {
            "registry" => &self.registry,
            "trust-graph" => &self.trust_graph,
            other => return ServiceAnswer::json(1, &json!(format!("no service `{other}`"))),
        };
        let node = self.id(NODE);
        let mut parameters = CallParameters {
            service_id: request.service_id.clone(),
            service_creator_peer_id: node.clone(),
            host_id: node.clone(),
            worker_id: node,
            tetraplets: request
                .tetraplets
                .iter()
                .map(|list| {
                    list.iter()
                        .map(|t| SecurityTetraplet {
                            peer_pk: t.peer_pk.clone(),
                            service_id: t.service_id.clone(),
                            function_name: t.function_name.clone(),
                            lens: t.lens.clone(),
                        })
                        .collect()
                })
                .collect(),
            ..Default::default()
        };
        parameters.particle.id = call.particle.id.clone();
        parameters.particle.init_peer_id = call.init_peer_id.to_owned();
        parameters.particle.timestamp = call.particle.timestamp;
        parameters.particle.ttl = call.particle.ttl;
        parameters.particle.script = call.particle.script.clone();
        let arguments = Value::Array(request.arguments.clone());
        ServiceAnswer::json(
            0,
            &service.call(&request.function_name, arguments, parameters),
        )
    }
}

impl ServiceHost for Host {
    fn answer(&mut self, call: &CallContext<'_>, request: &CallRequest) -> ServiceAnswer {
        match (request.service_id.as_str(), request.function_name.as_str()) {
            ("peer", "timestamp_sec") => ServiceAnswer::json(0, &json!(now())),
            // An object of key-value argument pairs.
            ("json", "obj") => {
                let pairs = request.arguments.chunks(2).map(|pair| {
                    let key = pair[0].as_str().expect("a key").to_owned();
                    (key, pair[1].clone())
                });
                ServiceAnswer::json(0, &Value::Object(pairs.collect()))
            }
            // A peer signs with its own key, as `sig.sign` does; the result is aqua-lib's
            // `SignResult`, whose signature is an option (an array of zero or one).
            ("sig", "sign") => {
                let message: Vec<u8> =
                    serde_json::from_value(request.arguments[0].clone()).expect("bytes to sign");
                let keys =
                    KeyPair::from_secret_key(call.peer.secret_key.to_vec(), KeyFormat::Ed25519)
                        .unwrap();
                let signature = keys.sign(&message).unwrap().to_vec().to_vec();
                ServiceAnswer::json(
                    0,
                    &json!({"success": true, "signature": [signature], "error": []}),
                )
            }
            _ if call.peer.name == NODE => self.call_service(call, request),
            (service, function) => ServiceAnswer::json(
                1,
                &json!(format!("@{} has no {service}.{function}", call.peer.name)),
            ),
        }
    }
}

/// The answers to every call of `function` in `observed`, in order.
fn answers(observed: &Observables, function: &str) -> Vec<Value> {
    let mut found = Vec::new();
    for delivery in &observed.deliveries {
        for run in &delivery.runs {
            for (request, answer) in run.calls.values() {
                if request.function_name == function {
                    assert_eq!(answer.ret_code, 0, "{function}: {}", answer.result);
                    found.push(serde_json::from_str(&answer.result).unwrap());
                }
            }
        }
    }
    found
}

/// The only answer to `function` in `observed`.
fn answer(observed: &Observables, function: &str) -> Value {
    let mut all = answers(observed, function);
    assert_eq!(all.len(), 1, "calls of {function}: {all:?}");
    all.remove(0)
}

/// `init` signs a trust in `subject` and the node's trust graph adds it (the issuer's side of
/// trust-graph's `issue_trust` + `add_trust`).
const TRUST: &str = r#"
(seq
 (seq
  (call "@node" ("trust-graph" "get_trust_bytes") ["@SUBJECT" EXPIRES ISSUED] bytes)
  (call %init_peer_id% ("sig" "sign") [bytes.$.result] signed))
 (seq
  (call "@node" ("trust-graph" "issue_trust") ["@SUBJECT" EXPIRES ISSUED signed.$.signature.[0]] issued)
  (seq
   (call "@node" ("peer" "timestamp_sec") [] now)
   (call "@node" ("trust-graph" "add_trust") [issued.$.trust %init_peer_id% now] added))))
"#;

/// The registry's `registerKey`: the key's bytes signed by its owner, the owner's weight from
/// the node's trust graph.
const REGISTER_KEY: &str = r#"
(seq
 (seq
  (call "@node" ("registry" "get_key_bytes") ["LABEL" [] CREATED [] ""] bytes)
  (call %init_peer_id% ("sig" "sign") [bytes] signed))
 (seq
  (seq
   (call "@node" ("peer" "timestamp_sec") [] now)
   (call "@node" ("trust-graph" "get_weight") [%init_peer_id% now] weight))
  (call "@node" ("registry" "register_key") ["LABEL" [] CREATED [] "" signed.$.signature.[0] weight now] registered)))
"#;

/// The registry's `getRecordMetadata`, `getRecordSignature` and `putRecord` for a record the
/// init peer issues and hosts itself; WEIGHT_OF names whose weight goes with it.
const PUT_RECORD: &str = r#"
(seq
 (seq
  (call "@node" ("peer" "timestamp_sec") [] t)
  (call "@node" ("registry" "get_record_metadata_bytes") ["KEY" %init_peer_id% t "VALUE" %init_peer_id% [] [] []] metadata_bytes))
 (seq
  (call %init_peer_id% ("sig" "sign") [metadata_bytes] metadata_signed)
  (seq
   (call "@node" ("registry" "create_record_metadata") ["KEY" %init_peer_id% t "VALUE" %init_peer_id% [] [] [] metadata_signed.$.signature.[0]] metadata)
   (seq
    (call "@node" ("registry" "get_record_bytes") [metadata t] record_bytes)
    (seq
     (call %init_peer_id% ("sig" "sign") [record_bytes] record_signed)
     (seq
      WEIGHT
      (call "@node" ("registry" "put_record") [metadata t record_signed.$.signature.[0] weight t] put)))))))
"#;

/// The weight `PUT_RECORD` passes: computed by the node's trust graph for `who`.
fn weight_of(who: &str) -> String {
    format!(r#"(call "@node" ("trust-graph" "get_weight") [{who} t] weight)"#)
}

const GET_RECORDS: &str = r#"
(seq
 (call "@node" ("peer" "timestamp_sec") [] t)
 (call "@node" ("registry" "get_records") ["KEY" t] records))
"#;

fn put_record(host: &mut Host, issuer: &str, key_id: &str, value: &str, weight: &str) -> Value {
    let script = PUT_RECORD
        .replace("KEY", key_id)
        .replace("VALUE", value)
        .replace("WEIGHT", weight);
    answer(&host.run(issuer, &script), "put_record")
}

#[test]
fn registry_records_are_ordered_by_trust_graph_weights_passed_through_air() {
    let mut host = Host::start();

    // The node, as the services' creator, makes `root` a root of its trust graph.
    let set = host.run(
        NODE,
        r#"(call %init_peer_id% ("trust-graph" "set_root") ["@root" 2] set)"#,
    );
    assert_eq!(answer(&set, "set_root")["success"], json!(true));

    // The root trusts itself and alice; bob stays unknown.
    let (expires, issued) = (now() + 3600, now() - 60);
    for subject in ["root", "alice"] {
        let script = TRUST
            .replace("SUBJECT", subject)
            .replace("EXPIRES", &expires.to_string())
            .replace("ISSUED", &issued.to_string());
        let added = answer(&host.run("root", &script), "add_trust");
        assert_eq!(added["success"], json!(true), "{added}");
    }

    // Alice registers a key; the registry takes her weight from the trust graph.
    let register = REGISTER_KEY
        .replace("LABEL", "services")
        .replace("CREATED", &(now() - 30).to_string());
    let observed = host.run("alice", &register);
    let weight = answer(&observed, "get_weight");
    assert_eq!(
        weight["weight"],
        json!(2),
        "a trust from a root of 4 halves"
    );
    assert_eq!(weight["peer_id"], json!(host.id("alice")));
    let registered = answer(&observed, "register_key");
    assert_eq!(registered["success"], json!(true), "{registered}");
    let key_id = registered["key_id"].as_str().unwrap().to_owned();

    // Bob puts his record first, then alice hers; each goes with its issuer's weight.
    let bob = put_record(
        &mut host,
        "bob",
        &key_id,
        "from bob",
        &weight_of("%init_peer_id%"),
    );
    assert_eq!(bob["success"], json!(true), "{bob}");
    let alice = put_record(
        &mut host,
        "alice",
        &key_id,
        "from alice",
        &weight_of("%init_peer_id%"),
    );
    assert_eq!(alice["success"], json!(true), "{alice}");

    // Records come back heaviest first: alice's, whom the root trusts, before bob's.
    let observed = host.run("bob", &GET_RECORDS.replace("KEY", &key_id));
    let records = answer(&observed, "get_records");
    assert_eq!(records["success"], json!(true), "{records}");
    let values: Vec<&Value> = records["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["metadata"]["value"])
        .collect();
    assert_eq!(values, [&json!("from alice"), &json!("from bob")]);
    let issuers: Vec<&Value> = records["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["metadata"]["issued_by"])
        .collect();
    assert_eq!(issuers, [&json!(host.id("alice")), &json!(host.id("bob"))]);
}

#[test]
fn weights_that_the_trust_graph_did_not_compute_for_the_issuer_are_refused() {
    let mut host = Host::start();
    let set = host.run(
        NODE,
        r#"(call %init_peer_id% ("trust-graph" "set_root") ["@alice" 2] set)"#,
    );
    assert_eq!(answer(&set, "set_root")["success"], json!(true));
    let register = REGISTER_KEY
        .replace("LABEL", "topic")
        .replace("CREATED", &(now() - 30).to_string());
    let registered = answer(&host.run("alice", &register), "register_key");
    assert_eq!(registered["success"], json!(true), "{registered}");
    let key_id = registered["key_id"].as_str().unwrap().to_owned();

    // Bob passes alice's weight off as his own.
    let borrowed = put_record(&mut host, "bob", &key_id, "x", &weight_of("\"@alice\""));
    assert_eq!(borrowed["success"], json!(false), "{borrowed}");
    assert!(
        borrowed["error"]
            .as_str()
            .unwrap()
            .contains("Invalid weight peer_id"),
        "{borrowed}"
    );

    // Bob makes up a weight himself: the right shape, but its tetraplet names bob's own
    // `json.obj`, not the node's trust graph.
    let made_up = r#"(call %init_peer_id% ("json" "obj") ["success" true "weight" 4 "peer_id" %init_peer_id% "error" ""] weight)"#;
    let made_up = put_record(&mut host, "bob", &key_id, "y", made_up);
    assert_eq!(made_up["success"], json!(false), "{made_up}");
    assert!(
        made_up["error"]
            .as_str()
            .unwrap()
            .contains("Invalid weight tetraplet"),
        "{made_up}"
    );

    // With his own weight from the node, bob's record is taken.
    let own = put_record(&mut host, "bob", &key_id, "z", &weight_of("%init_peer_id%"));
    assert_eq!(own["success"], json!(true), "{own}");
}
