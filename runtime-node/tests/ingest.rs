//! What a peer takes in and what it refuses, its bounds under a flood, and expiry.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime_node::engine::{now_ms, IngestError, Limits};
use runtime_node::network::{LocalNetwork, PeerSetup};
use runtime_node::{KeyPair, Particle};

/// A script that does nothing on the peer and goes nowhere.
const IDLE: &str = "(null)";

fn particle(key: &KeyPair, id: &str, ttl: u32) -> Particle {
    Particle::new(id.to_owned(), key, now_ms(), ttl, IDLE.to_owned())
}

fn one_peer(limits: Limits) -> (LocalNetwork, runtime_node::engine::Peer) {
    let network = LocalNetwork::new();
    let mut setup = PeerSetup::new(KeyPair::from_seed(1, 0));
    setup.limits = limits;
    let peer = network.add_server(setup);
    (network, peer)
}

fn rejected(peer: &runtime_node::engine::Peer, reason: &'static str) -> u64 {
    peer.metrics()
        .particles_rejected
        .get_or_create(&runtime_node::engine::RejectLabels { reason })
        .get()
}

#[tokio::test]
async fn refuses_expired_forged_and_oversized_particles_before_any_work() {
    let (_network, peer) = one_peer(Limits {
        max_particle_bytes: 100,
        ..Limits::default()
    });
    let key = KeyPair::from_seed(1, 9);

    let mut old = particle(&key, "old", 1000);
    old.timestamp -= 5000;
    old.sign(&key).unwrap();
    assert!(matches!(
        peer.ingest(old).await,
        Err(IngestError::Expired { .. })
    ));

    let mut forged = particle(&key, "forged", 60_000);
    forged.script = "(call %init_peer_id% (\"x\" \"y\") [])".to_owned();
    let error = peer.ingest(forged).await.unwrap_err();
    assert!(matches!(error, IngestError::Signature(_)), "{error}");

    let mut big = particle(&key, "big", 60_000);
    big.data = vec![0; 200];
    let error = peer.ingest(big).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "particle big is 206 bytes, more than the limit of 100"
    );

    assert_eq!(rejected(&peer, "expired"), 1);
    assert_eq!(rejected(&peer, "signature"), 1);
    assert_eq!(rejected(&peer, "too_large"), 1);
    assert_eq!(peer.kept_particles(), 0);
    assert_eq!(peer.metrics().interpretations.get(), 0);
}

#[tokio::test]
async fn a_copy_that_differs_from_the_kept_particle_is_refused() {
    let (_network, peer) = one_peer(Limits::default());
    let key = KeyPair::from_seed(1, 9);
    let original = particle(&key, "p", 60_000);
    let mut other = original.clone();
    other.script = "(seq (null) (null))".to_owned();
    peer.ingest(original).await.unwrap();
    let error = peer.ingest(other).await.unwrap_err();
    assert!(matches!(error, IngestError::Signature(_)), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_particle_is_kept_until_it_expires_then_forgotten() {
    let expired = Arc::new(Mutex::new(Vec::new()));
    let network = LocalNetwork::new();
    let mut setup = PeerSetup::new(KeyPair::from_seed(1, 0));
    let log = expired.clone();
    setup.on_expiry.push(Arc::new(
        move |p: &runtime_node::service::ParticleParams| log.lock().unwrap().push(p.id.clone()),
    ));
    let peer = network.add_server(setup);
    let key = KeyPair::from_seed(1, 9);
    peer.ingest(particle(&key, "short", 2_000)).await.unwrap();
    peer.ingest(particle(&key, "long", 60_000)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(peer.kept_particles(), 2);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(peer.kept_particles(), 1);
    assert_eq!(*expired.lock().unwrap(), ["short"]);
    assert_eq!(peer.metrics().alive_actors.get(), 1);
}

/// 100,000 particles offered to a peer that keeps at most 5,000 and queues at most 1,000:
/// 20,000 distinct ones, then 80,000 copies of a kept one in bursts of 10,000. What does not
/// fit is refused with its reason, the bounds hold at every step, and the peer is empty again
/// once the particles expire.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_flood_is_bounded_and_refusals_are_counted() {
    let limits = Limits {
        max_particle_bytes: 1 << 20,
        max_queued: 1_000,
        max_actors: 5_000,
    };
    let (_network, peer) = one_peer(limits);
    let key = KeyPair::from_seed(1, 9);
    let template = particle(&key, "flood", 60_000);
    let distinct = |i: u32| {
        let mut p = template.clone();
        p.id = format!("flood-{i}");
        p.sign(&key).unwrap();
        p
    };
    let copied = distinct(0);
    let mut accepted = 0;
    for i in 0..100_000u32 {
        let p = if i < 20_000 {
            distinct(i)
        } else {
            copied.clone()
        };
        match peer.try_ingest(p) {
            Ok(()) => accepted += 1,
            Err(IngestError::Overloaded { .. } | IngestError::TooManyParticles { .. }) => {}
            Err(other) => panic!("{other}"),
        }
        assert!(peer.kept_particles() <= limits.max_actors);
        assert!(peer.metrics().queued_particles.get() <= limits.max_queued as i64);
        // Distinct particles are drained one by one, copies after each burst.
        if i < 20_000 || i % 10_000 == 9_999 {
            while peer.metrics().queued_particles.get() > 0 {
                tokio::task::yield_now().await;
            }
        }
    }
    assert_eq!(rejected(&peer, "too_many_particles"), 15_000);
    assert_eq!(rejected(&peer, "overloaded"), 8 * 9_000);
    assert_eq!(accepted, 5_000 + 8 * 1_000);
    assert_eq!(peer.kept_particles(), 5_000);
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(peer.kept_particles(), 0);
    assert_eq!(peer.metrics().alive_actors.get(), 0);
}
