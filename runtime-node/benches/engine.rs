//! Throughput and latency of the particle engine on the embedded network.
//!
//! `cargo bench -p runtime-node --bench engine` prints, for a 1-call script and a 10-hop
//! script:
//! - throughput: particles and hops per second with many particles in flight (the median of
//!   five batches), per core (divided by the runtime's worker threads), and per second of CPU
//!   time the process used;
//! - latency: one particle at a time, the time per hop (p50, p99);
//! - expiry: the CPU time the peers spend forgetting each particle when it expires (after the
//!   batches), and the throughput per CPU-second with that included.
//!
//! And first, the memory a kept particle costs (resident set growth per idle particle).
//!
//! Arguments filter by name: `cargo bench -p runtime-node --bench engine -- 10-hop` runs only
//! the 10-hop script (a profile of one script is easier to read), `-- memory` only the memory
//! measurement.
//!
//! A hop is one particle moving to the next peer and running its step there: a call of a
//! local service (`bench.noop`), as compiled Aqua does when it goes `on` a peer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_node::engine::{now_ms, Limits};
use runtime_node::network::{LocalNetwork, PeerSetup};
use runtime_node::service::{Call, FnService, Outcome, ParticleParams, Reply};
use runtime_node::{KeyPair, Particle, PeerId};
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

const PEERS: u32 = 5;

/// The life of the measured particles, in milliseconds: longer than a script's batches and
/// latency runs take together, so that every particle expires after them.
const TTL: u32 = 20_000;

/// The allocator of the binaries that host peers (`aquac`), so that the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Cargo passes `--bench`; the other arguments are name filters.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let wanted =
        |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        println!("engine on {threads} worker threads, {PEERS} peers");
        // First, while the allocator has not yet kept memory that the particles of the
        // scripts below freed (it would be reused, and the resident set would not grow). The
        // kept particles idle on a network of their own.
        if wanted("memory") {
            let (network, peers, _) = network();
            kept_memory(&network, &peers).await;
        }
        for (name, hops) in [("1-call", 0), ("10-hop", 10)] {
            if !wanted(name) {
                continue;
            }
            // A network of its own: the particles an earlier script left (kept until they
            // expire) would be cleaned up during this one's batches.
            let (network, peers, done) = network();
            let script = script(&peers, hops);
            let steps = hops.max(1);
            // Warm the script cache and the allocator.
            run_batch(&network, &peers, &script, 200, &done).await;
            let count = if hops == 0 { 10_000 } else { 2_000 };
            // The median of five batches: a shared machine has slow moments.
            let mut rates = Vec::new();
            let mut cpu_per_particle = Vec::new();
            for _ in 0..5 {
                let Batch { elapsed, cpu } =
                    run_batch(&network, &peers, &script, count, &done).await;
                rates.push(count as f64 / elapsed.as_secs_f64());
                cpu_per_particle.push(cpu / count as u32);
            }
            rates.sort_by(f64::total_cmp);
            cpu_per_particle.sort();
            let cpu_per_particle = cpu_per_particle[cpu_per_particle.len() / 2];
            let per_second = rates[rates.len() / 2];
            println!(
                "{name:>7} throughput: {per_second:>9.0} particles/s, {:>9.0} hops/s, {:>9.0} hops/s per core",
                per_second * steps as f64,
                per_second * steps as f64 / threads as f64
            );
            // Per core by the CPU time the process used: what a core does when it is not shared
            // with other processes, which wall-clock time on a busy machine understates.
            println!(
                "{name:>7} per CPU-second: {:>9.0} hops",
                steps as f64 / cpu_per_particle.as_secs_f64()
            );
            let mut latencies = Vec::new();
            for _ in 0..1_000 {
                let batch = run_batch(&network, &peers, &script, 1, &done).await;
                latencies.push(batch.elapsed / steps);
            }
            latencies.sort();
            println!(
                "{name:>7} latency per hop: p50 {:?}, p99 {:?}",
                latencies[latencies.len() / 2],
                latencies[latencies.len() * 99 / 100]
            );
            // Every peer a particle reached keeps it until it expires, then forgets it: work
            // that falls after the batches. Measured here while the peers are otherwise idle.
            let particles = 200 + 5 * count + 1_000;
            let expiry = forget_all(&network, &peers).await / particles as u32;
            let with_expiry = cpu_per_particle + expiry;
            println!(
                "{name:>7} expiry: {expiry:?} CPU per particle; with it, per CPU-second: {:>9.0} hops",
                steps as f64 / with_expiry.as_secs_f64()
            );
        }
    });
}

/// Counts the particles that reached `bench.done` and wakes the batch when all of its have:
/// one wake-up per batch rather than one per particle, which would be the load generator's
/// cost, not the engine's.
#[derive(Default)]
struct Done {
    finished: AtomicUsize,
    wanted: AtomicUsize,
    all: Notify,
}

impl Done {
    fn one(&self) {
        let finished = self.finished.fetch_add(1, Ordering::AcqRel) + 1;
        if finished == self.wanted.load(Ordering::Acquire) {
            // A permit is stored if the batch is not waiting yet.
            self.all.notify_one();
        }
    }
}

/// `PEERS` servers, each serving `bench.noop` and `bench.done` (which counts in `Done`).
fn network() -> (LocalNetwork, Vec<PeerId>, Arc<Done>) {
    let network = LocalNetwork::new();
    let done = Arc::new(Done::default());
    let peers = (0..PEERS)
        .map(|index| {
            let mut setup = PeerSetup::new(KeyPair::from_seed(42, index));
            setup.limits = Limits {
                max_actors: 1_000_000,
                ..Limits::default()
            };
            let peer = network.add_server(setup);
            let done = done.clone();
            let service = FnService(move |call: Call, _: &ParticleParams| {
                if call.function_name == "done" {
                    done.one();
                }
                Reply::Ready(Outcome::Empty)
            });
            peer.services()
                .register("bench", Arc::new(service), peer.peer_id())
                .expect("a new registry");
            peer.peer_id()
        })
        .collect();
    (network, peers, done)
}

/// A script that makes `hops` hops round the peers (starting on the first), or for 0 hops a
/// single call on the first peer; its last call is `bench.done`.
fn script(peers: &[PeerId], hops: u32) -> String {
    let call = |index: u32, function: &str| {
        format!(
            r#"(call "{}" ("bench" "{function}") [])"#,
            peers[(index as usize) % peers.len()].to_base58()
        )
    };
    if hops == 0 {
        return call(0, "done");
    }
    let mut script = call(hops, "done");
    for index in (1..hops).rev() {
        script = format!("(seq {} {script})", call(index, "noop"));
    }
    script
}

/// What running a batch took, from the first particle sent to the last one done; the
/// particles are made (and signed by their client) before.
struct Batch {
    elapsed: Duration,
    /// The CPU time of the whole process.
    cpu: Duration,
}

/// Runs `count` particles of `script` at once from the first peer, and waits for them all.
async fn run_batch(
    network: &LocalNetwork,
    peers: &[PeerId],
    script: &str,
    count: usize,
    done: &Done,
) -> Batch {
    let key = KeyPair::from_seed(42, 1_000);
    let particles: Vec<Particle> = (0..count)
        .map(|_| {
            Particle::new(
                uuid::Uuid::new_v4().to_string(),
                &key,
                now_ms(),
                TTL,
                script.to_owned(),
            )
        })
        .collect();
    let entry = network.peer(&peers[0]).expect("the first peer");
    // Every particle of the batch before finished (it was waited for).
    done.finished.store(0, Ordering::Release);
    done.wanted.store(count, Ordering::Release);
    let cpu_before = process_cpu_time();
    let started = Instant::now();
    for particle in particles {
        entry
            .ingest(particle)
            .await
            .expect("the particle is taken in");
    }
    done.all.notified().await;
    Batch {
        elapsed: started.elapsed(),
        cpu: process_cpu_time() - cpu_before,
    }
}

/// Waits until the peers have forgotten every particle (they expire `TTL` after they were
/// made); returns the CPU time the process spent meanwhile.
async fn forget_all(network: &LocalNetwork, peers: &[PeerId]) -> Duration {
    let cpu_before = process_cpu_time();
    loop {
        let alive: i64 = peers
            .iter()
            .map(|peer| {
                let peer = network.peer(peer).expect("a peer of the network");
                peer.metrics().alive_actors.get()
            })
            .sum();
        if alive == 0 {
            return process_cpu_time() - cpu_before;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Resident memory growth per particle kept by a peer (idle, until it expires).
async fn kept_memory(network: &LocalNetwork, peers: &[PeerId]) {
    const KEPT: usize = 20_000;
    let key = KeyPair::from_seed(42, 1_001);
    let particles: Vec<Particle> = (0..KEPT)
        .map(|i| {
            Particle::new(
                format!("kept-{i}"),
                &key,
                now_ms(),
                600_000,
                "(null)".into(),
            )
        })
        .collect();
    let peer = network.peer(&peers[1]).expect("a peer");
    let before = resident_bytes();
    for particle in particles {
        peer.ingest(particle)
            .await
            .expect("the particle is taken in");
    }
    while peer.metrics().queued_particles.get() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = resident_bytes();
    match (before, after) {
        (Some(before), Some(after)) => println!(
            "memory per kept particle: {} bytes ({KEPT} particles, script and data included)",
            after.saturating_sub(before) / KEPT as u64
        ),
        _ => println!("memory per kept particle: not measured (no /proc/self/statm)"),
    }
}

/// The CPU time the whole process has used, on all its threads.
fn process_cpu_time() -> Duration {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `time` is a valid timespec for the call to fill.
    let status = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut time) };
    assert_eq!(status, 0, "the process CPU clock is readable");
    Duration::new(time.tv_sec as u64, time.tv_nsec as u32)
}

/// The process's resident set size, on Linux.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
