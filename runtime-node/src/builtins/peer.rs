//! `peer`: the peer itself (what it runs, its clock) and its connections.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::args::{no_such_function, Args};
use super::Host;
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const SERVICE: &str = "peer";

pub(crate) struct Peer {
    host: Arc<Host>,
}

impl Peer {
    pub(crate) fn new(host: Arc<Host>) -> Peer {
        Peer { host }
    }

    fn identify(&self) -> Outcome {
        let mut info = match serde_json::to_value(&self.host.info) {
            Ok(info) => info,
            Err(e) => return Outcome::error(format!("peer.identify: {e}")),
        };
        // Peers that run virtual machines describe them here; this one runs none.
        if let Value::Object(fields) = &mut info {
            fields.insert("vm_info".to_owned(), Value::Null);
        }
        Outcome::Value(info)
    }

    fn is_connected(&self, args: &mut Args) -> Result<Value, String> {
        let peer = args.next_peer("peer_id")?;
        Ok(Value::Bool(self.host.connectivity.is_connected(&peer)))
    }

    /// The peer's contact, or nothing when this peer does not know it.
    fn get_contact(&self, args: &mut Args) -> Outcome {
        let contact = args
            .next_peer("peer_id")
            .map(|peer| self.host.connectivity.contact(&peer));
        match contact {
            Ok(Some(contact)) => match serde_json::to_value(contact) {
                Ok(contact) => Outcome::Value(contact),
                Err(e) => Outcome::error(args.error(e)),
            },
            Ok(None) => Outcome::Empty,
            Err(message) => Outcome::Error(message),
        }
    }
}

impl Service for Peer {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let outcome = match call.function_name.as_str() {
            "identify" => self.identify(),
            "timestamp_ms" => Outcome::Value(Value::from(unix_time().as_millis() as u64)),
            "timestamp_sec" => Outcome::Value(Value::from(unix_time().as_secs())),
            "is_connected" => self.is_connected(&mut args).into(),
            "get_contact" => self.get_contact(&mut args),
            "timeout" => return timeout(&mut args),
            other => no_such_function(SERVICE, other),
        };
        Reply::Ready(outcome)
    }
}

/// The wall clock, since the Unix epoch (zero if the clock is set before it).
fn unix_time() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// `timeout(duration_ms, ?message)`: answers after `duration_ms` milliseconds with the message,
/// or with nothing. The duration may be a number or a decimal string.
fn timeout(args: &mut Args) -> Reply {
    let parsed = args.next::<Value>("duration_ms").and_then(|millis| {
        let millis = match &millis {
            Value::Number(n) => n.as_u64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            args.error(format_args!(
                "argument 1 (duration_ms) must be a whole number of milliseconds, got {millis}"
            ))
        })?;
        let message: Option<String> = args.next_opt("message")?;
        Ok((Duration::from_millis(millis), message))
    });
    match parsed {
        Ok((duration, message)) => Reply::Later(Box::pin(async move {
            tokio::time::sleep(duration).await;
            message.map_or(Outcome::Empty, |m| Outcome::Value(Value::String(m)))
        })),
        Err(message) => Reply::Ready(Outcome::Error(message)),
    }
}
