//! The client peer: calls a compiled top-level Aqua function from outside the network.
//!
//! A compiled function is AIR that its caller starts, as its init peer, connected to one relay.
//! The script asks its caller for what it needs through three services, which the client
//! serves per particle, as the Fluence JS client does:
//! - `getDataSrv`: `-relay-` gives the relay's peer id, any other function the argument of
//!   that name;
//! - `callbackSrv.response`: the function's results (none, one, or several values);
//! - `callbackSrv.<name>`: the arrow argument `name`, answered by the service the caller
//!   gives for it ([`FunctionCall::callbacks`]);
//! - `errorHandlingSrv.error`: the error that ended the function.
//!
//! The client is a full peer engine; only its services and its single link differ.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::engine::{now_ms, IngestError, Peer, StepReport};
use crate::identity::{KeyPair, PeerId};
use crate::network::{LocalNetwork, PeerSetup};
use crate::particle::Particle;
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

/// How a function call ended, when it did not return.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The script reported an error through `errorHandlingSrv`.
    #[error("{}", aqua_error_message(.0))]
    Aqua(Value),
    #[error("the function did not finish within its ttl of {ttl_ms} ms")]
    Timeout { ttl_ms: u32, particle_id: String },
    #[error("the client could not start the particle: {0}")]
    Refused(#[from] IngestError),
}

/// The message of an Aqua error value (`{error_code, instruction, message, peer_id}`), with
/// where it happened: the service function that failed and the peer, when the value says.
pub fn aqua_error_message(error: &Value) -> String {
    let mut message = match error.get("message") {
        Some(Value::String(message)) => service_message(message).unwrap_or(message.clone()),
        _ => error.to_string(),
    };
    let called = error
        .get("instruction")
        .and_then(Value::as_str)
        .and_then(called_function);
    let peer = error
        .get("peer_id")
        .and_then(Value::as_str)
        .filter(|peer| !peer.is_empty());
    let place = match (called, peer) {
        (Some(function), Some(peer)) => format!("{function} on peer {peer}"),
        (Some(function), None) => function,
        (None, Some(peer)) => format!("on peer {peer}"),
        (None, None) => return message,
    };
    if let Some(code) = error.get("error_code").and_then(Value::as_i64) {
        message = format!("{message} (code {code})");
    }
    format!("{place}: {message}")
}

/// The service's own message out of AquaVM's wording of a failed call,
/// `Local service error, ret_code is N, error message is '<JSON>'`.
fn service_message(message: &str) -> Option<String> {
    let quoted = message
        .strip_prefix("Local service error, ret_code is ")?
        .split_once(", error message is '")?
        .1
        .strip_suffix('\'')?;
    match serde_json::from_str(quoted).ok()? {
        Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

/// `service.function` of an AIR call instruction, `call peer ("service" "function") ...`.
fn called_function(instruction: &str) -> Option<String> {
    let rest = instruction.trim_start().strip_prefix("call ")?;
    let triplet = &rest[rest.find("(\"")? + 2..];
    let (service, rest) = triplet.split_once("\" \"")?;
    let (function, _) = rest.split_once("\")")?;
    Some(format!("{service}.{function}"))
}

/// A client peer of a [`LocalNetwork`].
#[derive(Clone)]
pub struct Client {
    peer: Peer,
    key_pair: KeyPair,
    relay: PeerId,
    calls: Calls,
}

/// The calls in progress, by particle id.
type Calls = Arc<Mutex<HashMap<String, CallState>>>;

struct CallState {
    arguments: HashMap<String, Value>,
    callbacks: HashMap<String, Arc<dyn Service>>,
    /// Whether the function returns anything; one that does not is done when the client's
    /// own work on it is (it has sent the particle on), as for the Fluence JS client.
    returns: bool,
    relay: String,
    finished: Option<oneshot::Sender<Result<Value, Value>>>,
}

impl Client {
    /// Adds a client peer made from `setup` to `network`, linked to `relay`; the client's
    /// services join those of `setup`.
    pub fn join(network: &LocalNetwork, setup: PeerSetup, relay: PeerId) -> Client {
        let calls = Calls::default();
        let mut setup = setup;
        let finished_calls = calls.clone();
        setup.on_step.push(Arc::new(
            move |particle: &ParticleParams, step: &StepReport| {
                if !step.local_work_done {
                    return;
                }
                if let Some(state) = lock(&finished_calls).get_mut(&particle.id) {
                    if !state.returns {
                        finish(state, Ok(Value::Null));
                    }
                }
            },
        ));
        for kind in [Kind::GetData, Kind::Callback, Kind::ErrorHandling] {
            setup.services.add_builtin(
                kind.service_id(),
                Arc::new(ClientService {
                    kind,
                    calls: calls.clone(),
                }),
            );
        }
        let key_pair = setup.key_pair.clone();
        let peer = network.add_client(setup, relay);
        Client {
            peer,
            key_pair,
            relay,
            calls,
        }
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer.peer_id()
    }

    pub fn relay(&self) -> PeerId {
        self.relay
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Starts `script` (a compiled top-level function) with `arguments` by name, and waits
    /// for its result: the value it returned (an array for several). `returns` says whether
    /// the function returns anything; when it does not, the result is `null` as soon as the
    /// client has done its part.
    pub async fn call(
        &self,
        script: String,
        arguments: HashMap<String, Value>,
        returns: bool,
        ttl: Duration,
    ) -> Result<Value, CallError> {
        self.call_function(FunctionCall {
            script,
            arguments,
            callbacks: HashMap::new(),
            returns,
            ttl,
        })
        .await
    }

    /// Starts a function call and waits for its result, as [`Client::call`] does; the
    /// function's arrow arguments are served by `call.callbacks`.
    pub async fn call_function(&self, call: FunctionCall) -> Result<Value, CallError> {
        let ttl = call.ttl;
        let ttl_ms = u32::try_from(ttl.as_millis()).unwrap_or(u32::MAX);
        let particle = Particle::new(
            uuid::Uuid::new_v4().to_string(),
            &self.key_pair,
            now_ms(),
            ttl_ms,
            call.script,
        );
        let (finished, result) = oneshot::channel();
        let id = particle.id.clone();
        lock(&self.calls).insert(
            id.clone(),
            CallState {
                arguments: call.arguments,
                callbacks: call.callbacks,
                returns: call.returns,
                relay: self.relay.to_base58(),
                finished: Some(finished),
            },
        );
        let outcome = match self.peer.ingest(particle).await {
            Err(e) => Err(CallError::Refused(e)),
            Ok(()) => match tokio::time::timeout(ttl, result).await {
                Ok(Ok(Ok(value))) => Ok(value),
                Ok(Ok(Err(error))) => Err(CallError::Aqua(error)),
                // The sender is only dropped with the call state, which this call removes.
                Ok(Err(_)) | Err(_) => Err(CallError::Timeout {
                    ttl_ms,
                    particle_id: id.clone(),
                }),
            },
        };
        lock(&self.calls).remove(&id);
        outcome
    }
}

/// One call of a compiled top-level function by a [`Client`].
pub struct FunctionCall {
    /// The function's AIR.
    pub script: String,
    /// The arguments by name, as `getDataSrv` gives them.
    pub arguments: HashMap<String, Value>,
    /// What answers the arrow arguments: the script calls an arrow argument `cb` as
    /// `callbackSrv.cb` on the client, which `callbacks["cb"]` answers.
    pub callbacks: HashMap<String, Arc<dyn Service>>,
    /// Whether the function returns anything (see [`Client::call`]).
    pub returns: bool,
    /// The particle's time to live, and so the longest the call may take.
    pub ttl: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    GetData,
    Callback,
    ErrorHandling,
}

impl Kind {
    fn service_id(self) -> &'static str {
        match self {
            Kind::GetData => "getDataSrv",
            Kind::Callback => "callbackSrv",
            Kind::ErrorHandling => "errorHandlingSrv",
        }
    }
}

struct ClientService {
    kind: Kind,
    calls: Calls,
}

impl ClientService {
    /// The service answering `callbackSrv.<name>` for an arrow argument of the call.
    fn callback(&self, call: &Call, particle: &ParticleParams) -> Option<Arc<dyn Service>> {
        if !matches!(self.kind, Kind::Callback) || call.function_name == "response" {
            return None;
        }
        lock(&self.calls)
            .get(&particle.id)?
            .callbacks
            .get(&call.function_name)
            .cloned()
    }
}

impl Service for ClientService {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        if let Some(callback) = self.callback(&call, particle) {
            // Called without the lock: a callback may take its time, or call back in.
            return callback.call(call, particle);
        }
        let mut calls = lock(&self.calls);
        let Some(state) = calls.get_mut(&particle.id) else {
            return Outcome::error(format!(
                "{}.{}: particle {} is not a call of this client",
                call.service_id, call.function_name, particle.id
            ))
            .into();
        };
        let outcome = match (self.kind, call.function_name.as_str()) {
            (Kind::GetData, "-relay-") => Outcome::Value(Value::String(state.relay.clone())),
            (Kind::GetData, name) => match state.arguments.get(name) {
                Some(value) => Outcome::Value(value.clone()),
                None => Outcome::error(format!("the function has no argument named `{name}`")),
            },
            (Kind::Callback, "response") => {
                let mut values = call.arguments;
                let result = match values.len() {
                    0 => Value::Null,
                    1 => values.pop().expect("one value"),
                    _ => Value::Array(values),
                };
                finish(state, Ok(result));
                Outcome::Empty
            }
            (Kind::Callback, name) => Outcome::error(format!(
                "callbackSrv.{name}: this client serves no arrow argument `{name}`"
            )),
            (Kind::ErrorHandling, "error") => {
                let error = call.arguments.into_iter().next().unwrap_or(Value::Null);
                finish(state, Err(error));
                Outcome::Empty
            }
            (Kind::ErrorHandling, name) => {
                Outcome::error(format!("errorHandlingSrv has no function `{name}`"))
            }
        };
        outcome.into()
    }
}

/// The first result or error of a call is the one its caller gets.
fn finish(state: &mut CallState, result: Result<Value, Value>) {
    if let Some(finished) = state.finished.take() {
        // The caller may have given up (timed out) already; then nobody waits.
        let _ = finished.send(result);
    }
}
