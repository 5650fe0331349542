//! The engine boundary: one particle step at one peer, as plain data.
//!
//! Both the reference AquaVM and ours sit behind [`Engine`], so the network simulation and
//! the conformance suite never see an engine's wire encoding.

use std::collections::BTreeMap;

use serde_json::Value;

/// Everything one step of an AIR interpreter reads.
#[derive(Debug, Clone)]
pub struct StepInput<'a> {
    /// The AIR script of the particle.
    pub script: &'a str,
    /// The data this peer stored after its previous step (empty at first).
    pub prev_data: &'a [u8],
    /// The data that just arrived (empty when only call results are delivered).
    pub current_data: &'a [u8],
    /// Peer id of the peer that started the particle.
    pub init_peer_id: &'a str,
    /// Peer id of the peer this step runs on.
    pub current_peer_id: &'a str,
    /// Particle creation time, milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// Particle time to live, milliseconds.
    pub ttl: u32,
    /// The particle id, also the salt of the data signatures.
    pub particle_id: &'a str,
    /// Ed25519 secret key of the current peer.
    pub secret_key: [u8; 32],
    /// Answers to the call requests of the previous step, by call id.
    pub call_results: BTreeMap<u32, ServiceAnswer>,
}

/// A service's answer to one call request.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceAnswer {
    /// 0 for success.
    pub ret_code: i32,
    /// The result as the host sends it: JSON text, or any text for a misbehaving service.
    pub result: String,
}

impl ServiceAnswer {
    /// An answer whose result is `result` as JSON text.
    pub fn json(ret_code: i32, result: &Value) -> ServiceAnswer {
        ServiceAnswer {
            ret_code,
            result: result.to_string(),
        }
    }
}

/// Everything one step of an AIR interpreter produces.
#[derive(Debug, Clone, PartialEq)]
pub struct StepOutcome {
    /// 0 for success.
    pub ret_code: i64,
    /// Why the step failed; empty on success.
    pub error_message: String,
    /// The new particle data (the previous data, unchanged, after a preparation or
    /// uncatchable error).
    pub data: Vec<u8>,
    /// Peers the particle goes to next, sorted (the reference leaves the order unspecified).
    pub next_peer_pks: Vec<String>,
    /// Service calls the host must make on the current peer, by call id.
    pub call_requests: BTreeMap<u32, CallRequest>,
}

/// A service call the interpreter asks the host to make.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRequest {
    /// The service to call.
    pub service_id: String,
    /// The function of that service.
    pub function_name: String,
    /// The argument values, in order.
    pub arguments: Vec<Value>,
    /// One list of tetraplets per argument.
    pub tetraplets: Vec<Vec<Tetraplet>>,
}

/// Where a value came from: the peer, service and function that produced it, and the lens
/// applied to the result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tetraplet {
    /// Peer id of the peer where the value was produced.
    pub peer_pk: String,
    /// The service that produced it (empty for a literal).
    pub service_id: String,
    /// The function that produced it (empty for a literal).
    pub function_name: String,
    /// The lens applied to the produced value, e.g. `.$.a`.
    pub lens: String,
}

/// An AIR interpreter: a pure function from [`StepInput`] to [`StepOutcome`].
pub trait Engine {
    /// A short name for reports, e.g. `reference`.
    fn name(&self) -> &str;
    /// Runs one step.
    fn step(&self, input: &StepInput<'_>) -> StepOutcome;

    /// Runs one step, offering each call request to `answer` as it is made; an engine that
    /// can take results during a step (our VM's `execute_answering`) goes on with those
    /// `answer` returns. The outcome lists only the requests not given to `answer`. By
    /// default the step runs as [`Engine::step`] and gives `answer` nothing.
    fn step_answering(&self, input: &StepInput<'_>, answer: &mut CallAnswer<'_>) -> StepOutcome {
        let _ = answer;
        self.step(input)
    }
}

/// Answers a call request during [`Engine::step_answering`]: `Some` when its result is
/// ready at once.
pub type CallAnswer<'a> = dyn FnMut(u32, CallRequest) -> Option<ServiceAnswer> + 'a;
