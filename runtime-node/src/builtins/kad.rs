//! `kad`: peers ordered by Kademlia distance to a key.
//!
//! Distances are those of libp2p's Kademlia, which Fluence peers use: a peer's point in the key
//! space is the SHA-256 of its peer id's bytes, a key's point is the SHA-256 of its bytes, and
//! the distance of two points is their XOR read as a big-endian 256-bit number.
//!
//! `neighborhood` orders the peers this peer knows (its routing table, without itself: the
//! reference peer looks only locally too). Its key is the base58 of some bytes, which stand
//! (as on the reference peer since 2023) for a multihash with the SHA-256 code around those
//! bytes, not hashed; with `already_hashed`, the bytes must be a whole multihash already.

use std::sync::Arc;

use multihash::Multihash;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::args::{no_such_function, Args};
use super::Host;
use crate::identity::PeerId;
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const SERVICE: &str = "kad";

/// How many peers a result has unless the call says otherwise: Kademlia's K.
const DEFAULT_COUNT: usize = 20;

/// The multihash code of SHA-256.
const SHA2_256: u64 = 0x12;

/// The largest digest a key may hold, as on the reference peer.
const MAX_DIGEST: usize = 64;

/// A point of the Kademlia key space.
type Point = [u8; 32];

pub(crate) struct Kad {
    host: Arc<Host>,
}

impl Kad {
    pub(crate) fn new(host: Arc<Host>) -> Kad {
        Kad { host }
    }

    /// The known peers closest to the key in the arguments, closest first.
    fn neighbors(&self, args: &mut Args) -> Result<Vec<PeerId>, String> {
        let key = args.next_b58("key")?;
        let already_hashed = args.next_opt::<bool>("already_hashed")?.unwrap_or(false);
        let count = args.next_opt::<usize>("count")?.unwrap_or(DEFAULT_COUNT);
        let multihash = if already_hashed {
            Multihash::<MAX_DIGEST>::from_bytes(&key)
                .map_err(|e| args.error(format_args!("the key is not a multihash: {e}")))?
        } else {
            Multihash::<MAX_DIGEST>::wrap(SHA2_256, &key).map_err(|_| {
                args.error(format_args!(
                    "the key has {} bytes, more than the {MAX_DIGEST} a key may have",
                    key.len()
                ))
            })?
        };
        let target = point(&multihash.to_bytes());
        let me = self.host.key_pair.peer_id();
        let mut peers: Vec<(Point, PeerId)> = self
            .host
            .connectivity
            .known_peers()
            .into_iter()
            .filter(|peer| *peer != me)
            .map(|peer| (distance(&target, &point(&peer.to_bytes())), peer))
            .collect();
        peers.sort_by_key(|(distance, _)| *distance);
        peers.dedup_by(|a, b| a.1 == b.1);
        Ok(peers
            .into_iter()
            .take(count)
            .map(|(_, peer)| peer)
            .collect())
    }

    fn neighborhood(&self, args: &mut Args) -> Result<Value, String> {
        let peers = self.neighbors(args)?;
        Ok(Value::from_iter(
            peers.into_iter().map(|peer| peer.to_base58()),
        ))
    }

    /// The neighbors with the addresses this peer knows for them (none if it knows none).
    fn neighbors_with_addresses(&self, args: &mut Args) -> Result<Value, String> {
        let peers = self.neighbors(args)?;
        let connectivity = &self.host.connectivity;
        Ok(Value::from_iter(peers.iter().map(|peer| {
            let addresses = connectivity
                .contact(peer)
                .map(|contact| contact.addresses)
                .unwrap_or_default();
            json!({ "peer_id": peer.to_base58(), "addresses": addresses })
        })))
    }
}

impl Service for Kad {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let outcome: Outcome = match call.function_name.as_str() {
            "neighborhood" => self.neighborhood(&mut args).into(),
            "neigh_with_addrs" => self.neighbors_with_addresses(&mut args).into(),
            "merge" => merge(&mut args).into(),
            other => no_such_function(SERVICE, other),
        };
        Reply::Ready(outcome)
    }
}

/// `merge(target, left, right, ?count)`: the base58 keys of both lists, without repetitions,
/// ordered by distance to `target` (each key's point is the SHA-256 of its decoded bytes),
/// the first `count` of them.
fn merge(args: &mut Args) -> Result<Value, String> {
    let target = point(&args.next_b58("target")?);
    let left: Vec<String> = args.next("left")?;
    let right: Vec<String> = args.next("right")?;
    let count = args.next_opt::<usize>("count")?.unwrap_or(DEFAULT_COUNT);
    let mut keys = Vec::with_capacity(left.len() + right.len());
    for key in left.into_iter().chain(right) {
        let bytes = bs58::decode(&key)
            .into_vec()
            .map_err(|e| args.error(format_args!("key {key} is not base58: {e}")))?;
        keys.push((distance(&target, &point(&bytes)), bytes));
    }
    // A stable sort puts equal keys side by side, so one pass removes repetitions.
    keys.sort_by_key(|(distance, _)| *distance);
    keys.dedup_by(|a, b| a.1 == b.1);
    Ok(Value::from_iter(
        keys.into_iter()
            .take(count)
            .map(|(_, bytes)| bs58::encode(bytes).into_string()),
    ))
}

fn point(bytes: &[u8]) -> Point {
    Sha256::digest(bytes).into()
}

/// XOR of two points; comparing the arrays compares the distances as big-endian numbers.
fn distance(a: &Point, b: &Point) -> Point {
    std::array::from_fn(|i| a[i] ^ b[i])
}
