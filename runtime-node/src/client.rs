//! The client peer: calls a compiled top-level Aqua function from outside the network.
//!
//! A compiled function is AIR that its caller starts, as its init peer, connected to one relay.
//! The script asks its caller for what it needs through three services, which the client
//! serves per particle, as the Fluence JS client does:
//! - `getDataSrv`: `-relay-` gives the relay's peer id, any other function the argument of
//!   that name;
//! - `callbackSrv.response`: the function's results (none, one, or several values);
//! - `errorHandlingSrv.error`: the error that ended the function.
//!
//! The client is a full peer engine; only its services and its single link differ.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::engine::{now_ms, IngestError, Peer};
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

/// The message of an Aqua error value: its `message` field, followed by the peer it happened
/// on when the value names one.
pub fn aqua_error_message(error: &Value) -> String {
    let message = match error.get("message") {
        Some(Value::String(message)) => message.clone(),
        _ => error.to_string(),
    };
    match error.get("peer_id") {
        Some(Value::String(peer)) if !peer.is_empty() => format!("{message} (on peer {peer})"),
        _ => message,
    }
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
    relay: String,
    finished: Option<oneshot::Sender<Result<Value, Value>>>,
}

impl Client {
    /// Adds a client peer made from `setup` to `network`, linked to `relay`; the client's
    /// services join those of `setup`.
    pub fn join(network: &LocalNetwork, setup: PeerSetup, relay: PeerId) -> Client {
        let calls = Calls::default();
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
    /// for its result: the value it returned (`null` for none, an array for several).
    pub async fn call(
        &self,
        script: String,
        arguments: HashMap<String, Value>,
        ttl: Duration,
    ) -> Result<Value, CallError> {
        let ttl_ms = u32::try_from(ttl.as_millis()).unwrap_or(u32::MAX);
        let particle = Particle::new(
            uuid::Uuid::new_v4().to_string(),
            &self.key_pair,
            now_ms(),
            ttl_ms,
            script,
        );
        let (finished, result) = oneshot::channel();
        let id = particle.id.clone();
        lock(&self.calls).insert(
            id.clone(),
            CallState {
                arguments,
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

impl Service for ClientService {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
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
