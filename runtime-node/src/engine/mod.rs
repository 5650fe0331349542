//! The particle engine: what one peer does with the particles that reach it.
//!
//! [`Peer::ingest`] takes a particle in. It refuses, before any work, particles that are too
//! big, expired, or not signed by their init peer; then it hands the particle to the particle's
//! actor, started on its first copy. An actor (one tokio task per particle) runs the particle's
//! AquaVM steps one after the other, keeps the particle's data on this peer, makes the service
//! calls the VM asks for, feeds their results back, and sends the particle on to the next
//! peers. Different particles run in parallel. When the particle expires, its actor ends and
//! everything it kept is dropped.
//!
//! Bounds: at most [`Limits::max_queued`] particles wait for their actor ([`Peer::ingest`]
//! waits for room, [`Peer::try_ingest`] refuses), and at most [`Limits::max_actors`]
//! particles are kept at once (more are refused). Every refusal is logged and counted in the
//! [`EngineMetrics`].

mod actor;
mod metrics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

use crate::identity::{KeyPair, PeerId};
use crate::particle::Particle;
use crate::service::{ParticleParams, ServiceRegistry};
use crate::transport::Transport;

pub use metrics::{CallLabels, EngineMetrics, RejectLabels};

/// The bounds of one peer's engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest particle (script plus data) taken in, in bytes.
    pub max_particle_bytes: usize,
    /// How many particles may wait for their actor at once.
    pub max_queued: usize,
    /// How many particles the peer keeps at once (each until it expires).
    pub max_actors: usize,
}

impl Default for Limits {
    /// 64 MiB particles (AquaVM's default limit), 4096 queued, 100,000 kept.
    fn default() -> Limits {
        Limits {
            max_particle_bytes: vm::RunParameters::DEFAULT_PARTICLE_SIZE_LIMIT as usize,
            max_queued: 4096,
            max_actors: 100_000,
        }
    }
}

/// Why a particle was not taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("particle {id} is {size} bytes, more than the limit of {limit}")]
    TooLarge {
        id: String,
        size: usize,
        limit: usize,
    },
    #[error("particle {id} expired at {deadline} ms (now {now} ms)")]
    Expired { id: String, deadline: u64, now: u64 },
    #[error("{0}")]
    Signature(String),
    #[error("particle {id} refused: {queued} particles already wait on this peer")]
    Overloaded { id: String, queued: usize },
    #[error("particle {id} refused: this peer already keeps {kept} particles")]
    TooManyParticles { id: String, kept: usize },
}

impl IngestError {
    /// The metric label of the refusal.
    fn reason(&self) -> &'static str {
        match self {
            IngestError::TooLarge { .. } => "too_large",
            IngestError::Expired { .. } => "expired",
            IngestError::Signature(_) => "signature",
            IngestError::Overloaded { .. } => "overloaded",
            IngestError::TooManyParticles { .. } => "too_many_particles",
        }
    }
}

/// Called with a particle's parameters when the particle expires on this peer (e.g. to
/// remove its vault).
pub type ExpiryHook = Arc<dyn Fn(&ParticleParams) + Send + Sync>;

/// What one AquaVM step of a particle left to do on this peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepReport {
    /// The step's AquaVM return code (0 when it succeeded).
    pub ret_code: i64,
    /// How many peers the particle was sent to.
    pub next_peers: usize,
    /// Whether the particle has nothing more to do here for now: no service call is pending
    /// and no result or copy waits for another step.
    pub local_work_done: bool,
}

/// Called after every AquaVM step of a particle on this peer.
pub type StepHook = Arc<dyn Fn(&ParticleParams, &StepReport) + Send + Sync>;

/// What a peer is made of.
pub struct PeerConfig {
    pub key_pair: KeyPair,
    pub limits: Limits,
    /// The services that answer this peer's calls (builtins included).
    pub services: ServiceRegistry,
    /// How the peer reaches others.
    pub transport: Arc<dyn Transport>,
    /// Run when each particle expires.
    pub on_expiry: Vec<ExpiryHook>,
    /// Run after each AquaVM step.
    pub on_step: Vec<StepHook>,
    /// The AquaVM (and its script cache), which peers of one process may share.
    pub vm: Arc<vm::Vm>,
}

/// A running peer's engine. Cloning gives another handle to the same peer.
#[derive(Clone)]
pub struct Peer {
    shared: Arc<Shared>,
}

/// What the peer's actors share.
struct Shared {
    key_pair: KeyPair,
    peer_id: PeerId,
    /// `peer_id` in base58, as the VM names peers.
    peer_id_text: String,
    limits: Limits,
    services: ServiceRegistry,
    transport: Arc<dyn Transport>,
    on_expiry: Vec<ExpiryHook>,
    on_step: Vec<StepHook>,
    vm: Arc<vm::Vm>,
    metrics: EngineMetrics,
    queue: Arc<Semaphore>,
    actors: Mutex<Actors>,
}

/// The actors of the particles this peer keeps, by particle. Every copy of a particle that
/// arrives looks its actor up, and every actor removes itself when it expires: a fast keyed hash
/// (particle ids and signatures come from outside, so the keys are random per process).
type Actors = HashMap<ActorKey, actor::Mailbox, ahash::RandomState>;

/// Copies of a particle share their id and their init peer's signature; a different
/// signature makes a different particle (a replay with another script cannot join the actor).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ActorKey {
    id: String,
    signature: Vec<u8>,
}

/// A particle's data on its way to its actor, holding its place in the queue. The rest of the
/// particle is what the actor already has (the mailbox checked that it is a copy).
struct Queued {
    data: Vec<u8>,
    _place: OwnedSemaphorePermit,
}

impl Peer {
    /// Starts a peer's engine; it needs a tokio runtime to run on.
    pub fn new(config: PeerConfig) -> Peer {
        let peer_id = config.key_pair.peer_id();
        Peer {
            shared: Arc::new(Shared {
                peer_id_text: peer_id.to_base58(),
                peer_id,
                key_pair: config.key_pair,
                limits: config.limits,
                services: config.services,
                transport: config.transport,
                on_expiry: config.on_expiry,
                on_step: config.on_step,
                vm: config.vm,
                metrics: EngineMetrics::default(),
                queue: Arc::new(Semaphore::new(config.limits.max_queued)),
                actors: Mutex::new(Actors::default()),
            }),
        }
    }

    pub fn peer_id(&self) -> PeerId {
        self.shared.peer_id
    }

    /// The peer's services, to register more.
    pub fn services(&self) -> &ServiceRegistry {
        &self.shared.services
    }

    pub fn metrics(&self) -> &EngineMetrics {
        &self.shared.metrics
    }

    /// How many particles the peer keeps now.
    pub fn kept_particles(&self) -> usize {
        self.shared.actors().len()
    }

    /// Takes `particle` in, waiting while the peer's queue is full.
    pub async fn ingest(&self, particle: Particle) -> Result<(), IngestError> {
        self.admit(&particle)?;
        let place = self
            .shared
            .queue
            .clone()
            .acquire_owned()
            .await
            .expect("the queue semaphore is never closed");
        self.enqueue(particle, place)
    }

    /// Takes `particle` in, or refuses it at once if the peer's queue is full.
    pub fn try_ingest(&self, particle: Particle) -> Result<(), IngestError> {
        self.admit(&particle)?;
        match self.shared.queue.clone().try_acquire_owned() {
            Ok(place) => self.enqueue(particle, place),
            Err(_) => Err(self.refuse(IngestError::Overloaded {
                id: particle.id,
                queued: self.shared.limits.max_queued,
            })),
        }
    }

    /// The checks made before any work: size, expiry and (for the first copy) signature.
    fn admit(&self, particle: &Particle) -> Result<(), IngestError> {
        let shared = &self.shared;
        shared.metrics.particles_received.inc();
        let size = particle.script.len() + particle.data.len();
        if size > shared.limits.max_particle_bytes {
            return Err(self.refuse(IngestError::TooLarge {
                id: particle.id.clone(),
                size,
                limit: shared.limits.max_particle_bytes,
            }));
        }
        let now = now_ms();
        if particle.is_expired(now) {
            return Err(self.refuse(IngestError::Expired {
                id: particle.id.clone(),
                deadline: particle.deadline().unwrap_or(u64::MAX),
                now,
            }));
        }
        let known = shared
            .actors()
            .get(&ActorKey::of(particle))
            .is_some_and(|mailbox| mailbox.is_copy_of(particle));
        // A copy of a particle whose actor exists was checked when its first copy came:
        // same id, signature, script, timestamp and ttl mean the same signed content.
        if !known {
            verify_signature(particle)
                .map_err(|e| self.refuse(IngestError::Signature(e.to_string())))?;
        }
        Ok(())
    }

    fn enqueue(&self, particle: Particle, place: OwnedSemaphorePermit) -> Result<(), IngestError> {
        let shared = &self.shared;
        let key = ActorKey::of(&particle);
        let mut actors = shared.actors();
        if let Some(mailbox) = actors.get(&key) {
            if mailbox.is_copy_of(&particle) {
                shared.metrics.queued_particles.inc();
                return mailbox.post(particle, place);
            }
            // Same id and signature but other content: a forgery the signature check of a
            // first copy would have refused.
            drop(actors);
            return Err(self.refuse(IngestError::Signature(format!(
                "particle {}: a copy differs from the particle this peer has",
                particle.id
            ))));
        }
        if actors.len() >= shared.limits.max_actors {
            drop(actors);
            return Err(self.refuse(IngestError::TooManyParticles {
                id: particle.id,
                kept: shared.limits.max_actors,
            }));
        }
        let (sender, receiver) = mpsc::channel(shared.limits.max_queued.max(1));
        let mailbox = actor::Mailbox::new(&particle, sender);
        shared.metrics.alive_actors.inc();
        // The actor ends by removing its mailbox, under the lock held here, so it cannot end
        // before the mailbox is in the map.
        actor::spawn(self.shared.clone(), key.clone(), &particle, receiver);
        shared.metrics.queued_particles.inc();
        mailbox
            .post(particle, place)
            .expect("a new mailbox has room");
        actors.insert(key, mailbox);
        Ok(())
    }

    fn refuse(&self, error: IngestError) -> IngestError {
        self.shared.metrics.reject(error.reason());
        tracing::warn!(peer = %self.shared.peer_id_text, "refused a particle: {error}");
        error
    }
}

impl Shared {
    fn actors(&self) -> std::sync::MutexGuard<'_, Actors> {
        crate::sync::lock(&self.actors)
    }
}

impl ActorKey {
    fn of(particle: &Particle) -> ActorKey {
        ActorKey {
            id: particle.id.clone(),
            signature: particle.signature.clone(),
        }
    }
}

/// Checks the init peer's signature of `particle`, once per process: peers of one process
/// (the embedded network) pass the same particle to each other, and a signature that verified
/// verifies again.
fn verify_signature(particle: &Particle) -> Result<(), crate::particle::ParticleError> {
    static VERIFIED: OnceLock<quick_cache::sync::Cache<[u8; 32], ()>> = OnceLock::new();
    let verified = VERIFIED.get_or_init(|| quick_cache::sync::Cache::new(1 << 16));
    let mut hasher = blake3::Hasher::new();
    hasher.update(&particle.init_peer_id.to_bytes());
    hasher.update(&particle.signature);
    particle.signed_parts(|part| {
        hasher.update(part);
    });
    let checked: [u8; 32] = hasher.finalize().into();
    if verified.get(&checked).is_some() {
        return Ok(());
    }
    particle.verify()?;
    verified.insert(checked, ());
    Ok(())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
