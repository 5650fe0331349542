//! The host API a module can import: call parameters, the logger and mounted binaries, in the
//! layouts of each SDK generation.

use marine_it::IValue;
use serde::{Deserialize, Serialize};

/// The particle a call belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParticleParameters {
    pub id: String,
    pub init_peer_id: String,
    pub timestamp: u64,
    pub ttl: u32,
    pub script: String,
    pub signature: Vec<u8>,
    pub token: String,
}

/// Where one argument of a call came from: the peer, service and function that produced it and
/// the lens applied to the result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecurityTetraplet {
    pub peer_pk: String,
    pub service_id: String,
    pub function_name: String,
    pub lens: String,
}

/// What a module learns about the call it is serving through `get_call_parameters`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallParameters {
    pub particle: ParticleParameters,
    pub service_id: String,
    pub service_creator_peer_id: String,
    pub host_id: String,
    pub worker_id: String,
    /// One list per argument.
    pub tetraplets: Vec<Vec<SecurityTetraplet>>,
}

fn string(s: &str) -> IValue {
    IValue::String(s.to_owned())
}

impl CallParameters {
    /// The record as the SDK of host API namespace `namespace` declares it. Records travel
    /// structurally, so only the field order and types matter, not the names.
    pub(crate) fn to_ivalue(&self, namespace: &str) -> IValue {
        let tetraplets = IValue::Array(
            self.tetraplets
                .iter()
                .map(|argument| {
                    IValue::Array(
                        argument
                            .iter()
                            .map(|t| {
                                IValue::Record(vec![
                                    string(&t.peer_pk),
                                    string(&t.service_id),
                                    string(&t.function_name),
                                    string(&t.lens),
                                ])
                            })
                            .collect(),
                    )
                })
                .collect(),
        );
        let p = &self.particle;
        match namespace {
            // SDK 0.10 and older.
            "host" => IValue::Record(vec![
                string(&p.init_peer_id),
                string(&self.service_id),
                string(&self.service_creator_peer_id),
                string(&self.host_id),
                string(&p.id),
                tetraplets,
            ]),
            // SDK 0.12: the worker id joins.
            "__marine_host_api_v1" => IValue::Record(vec![
                string(&p.init_peer_id),
                string(&self.service_id),
                string(&self.service_creator_peer_id),
                string(&self.host_id),
                string(&self.worker_id),
                string(&p.id),
                tetraplets,
            ]),
            // SDK 0.13 and 0.14: the particle becomes a record of its own.
            _ => IValue::Record(vec![
                IValue::Record(vec![
                    string(&p.id),
                    string(&p.init_peer_id),
                    IValue::U64(p.timestamp),
                    IValue::U32(p.ttl),
                    string(&p.script),
                    IValue::ByteArray(p.signature.clone()),
                    string(&p.token),
                ]),
                string(&self.service_id),
                string(&self.service_creator_peer_id),
                string(&self.host_id),
                string(&self.worker_id),
                tetraplets,
            ]),
        }
    }
}

/// The result of running a mounted binary, as the SDK's `MountedBinaryResult` record.
pub(crate) fn run_binary(path: &std::path::Path, arguments: Vec<String>) -> IValue {
    // No shell, no inherited environment, no input: the module chooses arguments only.
    let output = std::process::Command::new(path)
        .args(arguments)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output();
    let (code, error, stdout, stderr) = match output {
        Ok(output) => match output.status.code() {
            Some(code) => (code, String::new(), output.stdout, output.stderr),
            None => (
                KILLED_BY_SIGNAL,
                format!("{} was killed by a signal", path.display()),
                output.stdout,
                output.stderr,
            ),
        },
        Err(e) => (
            SPAWN_FAILED,
            format!("cannot run {}: {e}", path.display()),
            Vec::new(),
            Vec::new(),
        ),
    };
    IValue::Record(vec![
        IValue::S32(code),
        IValue::String(error),
        IValue::ByteArray(stdout),
        IValue::ByteArray(stderr),
    ])
}

/// The SDK's return codes for a binary that did not exit normally.
const KILLED_BY_SIGNAL: i32 = 100_000;
const SPAWN_FAILED: i32 = 100_001;
