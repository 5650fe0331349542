//! The engine's Prometheus metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Why a particle was not taken in.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub reason: &'static str,
}

/// Whether a service call succeeded.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub outcome: &'static str,
}

/// Counters and timings of one peer's engine. Cloning shares them.
#[derive(Clone)]
pub struct EngineMetrics {
    pub particles_received: Counter,
    pub particles_rejected: Family<RejectLabels, Counter>,
    pub particles_sent: Counter,
    pub particles_send_failed: Counter,
    pub interpretations: Counter,
    pub interpretation_seconds: Histogram,
    pub interpretation_failures: Counter,
    pub service_calls: Family<CallLabels, Counter>,
    pub alive_actors: Gauge,
    pub queued_particles: Gauge,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            particles_received: Counter::default(),
            particles_rejected: Family::default(),
            particles_sent: Counter::default(),
            particles_send_failed: Counter::default(),
            interpretations: Counter::default(),
            // 10 µs to about 10 s.
            interpretation_seconds: Histogram::new(exponential_buckets(1e-5, 4.0, 11)),
            interpretation_failures: Counter::default(),
            service_calls: Family::default(),
            alive_actors: Gauge::default(),
            queued_particles: Gauge::default(),
        }
    }
}

impl EngineMetrics {
    /// Adds the metrics to `registry` (under its prefix, e.g. `particle_engine`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "particles_received",
            "Particles offered to this peer",
            self.particles_received.clone(),
        );
        registry.register(
            "particles_rejected",
            "Particles refused at ingest, by reason",
            self.particles_rejected.clone(),
        );
        registry.register(
            "particles_sent",
            "Particles handed to other peers",
            self.particles_sent.clone(),
        );
        registry.register(
            "particles_send_failed",
            "Particles that could not be handed to the next peer",
            self.particles_send_failed.clone(),
        );
        registry.register(
            "interpretations",
            "AquaVM runs",
            self.interpretations.clone(),
        );
        registry.register(
            "interpretation_seconds",
            "Duration of one AquaVM run",
            self.interpretation_seconds.clone(),
        );
        registry.register(
            "interpretation_failures",
            "AquaVM runs that ended with a non-zero code",
            self.interpretation_failures.clone(),
        );
        registry.register(
            "service_calls",
            "Service calls made by particles, by outcome",
            self.service_calls.clone(),
        );
        registry.register(
            "alive_actors",
            "Particles this peer keeps (until they expire)",
            self.alive_actors.clone(),
        );
        registry.register(
            "queued_particles",
            "Particles taken in but not yet executed",
            self.queued_particles.clone(),
        );
    }

    pub(crate) fn reject(&self, reason: &'static str) {
        self.particles_rejected
            .get_or_create(&RejectLabels { reason })
            .inc();
    }
}
