//! `sig`: signatures by this peer's key.
//!
//! `sign` speaks for the peer, so it is as narrow as on the reference peer:
//! - the particle must come from a [trusted](Host::trusts) peer (the peer itself or its
//!   management peer), or the call fails;
//! - the data must be exactly what this peer's `registry` service produced with
//!   `get_record_bytes` or `get_record_metadata_bytes` (one tetraplet, from this peer, without
//!   a lens), or the call fails: the peer signs registry records and nothing else.
//!
//! Problems with the data itself (not bytes, an unreadable tetraplet peer) give
//! `{success: false, error: [message], signature: []}`, as on the reference peer, rather than
//! a failed call.

use std::sync::Arc;

use serde_json::{json, Value};
use vm::data::Tetraplet;

use super::args::{no_such_function, Args};
use super::Host;
use crate::identity::{self, PeerId};
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const SERVICE: &str = "sig";

/// The functions whose results the peer signs.
const SIGNABLE: [(&str, &str); 2] = [
    ("registry", "get_record_bytes"),
    ("registry", "get_record_metadata_bytes"),
];

pub(crate) struct Sig {
    host: Arc<Host>,
}

impl Sig {
    pub(crate) fn new(host: Arc<Host>) -> Sig {
        Sig { host }
    }

    fn sign(
        &self,
        args: &mut Args,
        tetraplets: &[Vec<Tetraplet>],
        particle: &ParticleParams,
    ) -> Outcome {
        let me = self.host.key_pair.peer_id();
        if !self.host.trusts(&particle.init_peer_id) {
            return Outcome::Error(args.error(format_args!(
                "peer '{}' is not allowed to sign data on '{me}'",
                particle.init_peer_id
            )));
        }
        let data = match args.next::<Vec<u8>>("data") {
            Ok(data) => data,
            Err(message) => return unsigned(message),
        };
        let origin = match tetraplets.first().map(Vec::as_slice) {
            Some([origin]) => origin,
            other => {
                return Outcome::Error(args.error(format_args!(
                    "the data must come from one call, but it has {} tetraplets",
                    other.map_or(0, <[Tetraplet]>::len)
                )))
            }
        };
        let producer: PeerId = match origin.peer_pk.parse() {
            Ok(producer) => producer,
            Err(e) => {
                return unsigned(args.error(format_args!(
                    "the data comes from '{}', which is not a peer id: {e}",
                    origin.peer_pk
                )))
            }
        };
        if producer != me {
            return Outcome::Error(args.error(format_args!(
                "the data must be produced by service 'registry' on peer '{me}', but comes from peer '{producer}'"
            )));
        }
        let function = (&*origin.service_id, &*origin.function_name);
        if !SIGNABLE.contains(&function) {
            return Outcome::Error(args.error(format_args!(
                "the data must result from 'registry.get_record_bytes' or 'registry.get_record_metadata_bytes', but comes from '{}.{}'",
                origin.service_id, origin.function_name
            )));
        }
        if !origin.lens.is_empty() {
            return Outcome::Error(args.error(format_args!(
                "the data must be a whole result, but was taken with the lens '{}'",
                origin.lens
            )));
        }
        let signature = self.host.key_pair.sign(&data);
        Outcome::Value(json!({ "success": true, "error": [], "signature": [signature] }))
    }

    /// Whether the first argument is this peer's signature of the second.
    fn verify(&self, args: &mut Args) -> Result<Value, String> {
        let signature: Vec<u8> = args.next("signature")?;
        let data: Vec<u8> = args.next("data")?;
        let me = self.host.key_pair.peer_id();
        Ok(Value::Bool(
            identity::verify(&me, &data, &signature).is_ok(),
        ))
    }
}

/// A sign result that reports why nothing was signed.
fn unsigned(message: String) -> Outcome {
    Outcome::Value(json!({ "success": false, "error": [message], "signature": [] }))
}

impl Service for Sig {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let outcome = match call.function_name.as_str() {
            "sign" => self.sign(&mut args, &call.tetraplets, particle),
            "verify" => self.verify(&mut args).into(),
            "get_peer_id" => {
                Outcome::Value(Value::String(self.host.key_pair.peer_id().to_base58()))
            }
            other => no_such_function(SERVICE, other),
        };
        Reply::Ready(outcome)
    }
}
