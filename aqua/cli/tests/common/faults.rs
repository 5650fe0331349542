//! Faults through Aqua: `tests/faults/faults.aqua`, where the relay stops a peer while the
//! particle is under way (the program calls the `faults.stop` test service), so that a
//! `Peer.timeout` race and a `try`/`otherwise` fallback take their other branch.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use network_sim::aqua::{RunSpec, Topology};
use network_sim::services::ServiceRule;
use runtime_node::embedded::Embedded;
use runtime_node::network::LocalNetwork;
use runtime_node::service::{Call, FnService, Outcome, Reply};
use runtime_node::PeerId;
use serde_json::{json, Value};

use super::Names;

pub fn program() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/faults/faults.aqua")
}

/// One run of a function of the fault program, and how it must end on both toolchains.
pub struct Case {
    pub function: &'static str,
    /// Whether the relay stops `a` during the run.
    pub stop: bool,
    pub expected: Value,
}

pub fn cases() -> Vec<Case> {
    let case = |function, stop, expected| Case {
        function,
        stop,
        expected,
    };
    vec![
        case("raceStopped", false, json!(["a", "a"])),
        case("raceStopped", true, json!(["a", "timed out"])),
        case("fallbackWhenStopped", false, json!(["a", "a checked"])),
        case("fallbackWhenStopped", true, json!(["a", "fallback"])),
    ]
}

impl Case {
    /// The client, its relay and `a`; `a` answers `node.name`, the client checks only
    /// `a`'s answer.
    pub fn spec(&self) -> RunSpec {
        let rule = |peer, call, behaviour| {
            ServiceRule::parse(Some(peer), call, behaviour).expect("a valid rule")
        };
        RunSpec {
            args: [("a", json!("@a")), ("stop", json!(self.stop))]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            topology: Topology {
                peers: vec!["a".to_owned()],
                ..Topology::default()
            },
            services: vec![
                rule("a", "node.name", r#"ok "a""#),
                rule("client", "node.check", r#"lookup {"a": "a checked"}"#),
            ],
            ..RunSpec::default()
        }
    }
}

/// The network a fault service may stop peers of, until the run is over: the service
/// lives in the network's own registries, so it must not keep the network alive.
pub struct Injector(Arc<Mutex<Option<LocalNetwork>>>);

impl Drop for Injector {
    fn drop(&mut self) {
        self.0.lock().expect("never poisoned").take();
    }
}

/// Registers `faults.stop(peer)` on the relay of `embedded`.
pub fn serve_faults(embedded: &Embedded, _: &Names) -> Injector {
    let network = Arc::new(Mutex::new(Some(embedded.network.clone())));
    let reachable = network.clone();
    let stop = FnService(move |call: Call, _: &_| {
        let peer: Option<PeerId> = call
            .arguments
            .first()
            .and_then(Value::as_str)
            .and_then(|id| id.parse().ok());
        let outcome = match (peer, reachable.lock().expect("never poisoned").as_ref()) {
            (Some(peer), Some(network)) => {
                network.stop(peer);
                Outcome::Empty
            }
            (None, _) => Outcome::error("faults.stop takes a peer id"),
            (_, None) => Outcome::error("the run is over"),
        };
        Reply::Ready(outcome)
    });
    embedded
        .register_service(&embedded.peers[0], "faults", Arc::new(stop))
        .expect("a fresh network has no `faults` service");
    Injector(network)
}
