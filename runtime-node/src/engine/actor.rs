//! The actor of one particle on one peer: a tokio task that owns the particle's data here.
//!
//! It waits for the next thing to do (a copy of the particle from another peer, the result
//! of a service call, or the particle's expiry), runs one AquaVM step on it, starts the calls
//! the VM asks for, and sends the particle on. Results that are ready together go into one
//! step; a copy that arrives while calls are pending is merged in its own step.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinSet;
use tracing::Instrument;
use vm::data::calls::{self, CallRequest, CallResults};

use super::{now_ms, ActorKey, IngestError, Queued, Shared, StepReport};
use crate::identity::PeerId;
use crate::particle::Particle;
use crate::service::{Call, Outcome, ParticleParams, Reply};

/// Where an actor takes its copies from; the peer keeps it in its actor map.
pub(super) struct Mailbox {
    sender: mpsc::Sender<Queued>,
    script: Arc<str>,
    timestamp: u64,
    ttl: u32,
    init_peer_id: PeerId,
}

impl Mailbox {
    pub(super) fn new(particle: &Particle, sender: mpsc::Sender<Queued>) -> Mailbox {
        Mailbox {
            sender,
            script: particle.script.as_str().into(),
            timestamp: particle.timestamp,
            ttl: particle.ttl,
            init_peer_id: particle.init_peer_id,
        }
    }

    /// Whether `particle` carries the same signed content as the actor's particle.
    pub(super) fn is_copy_of(&self, particle: &Particle) -> bool {
        particle.timestamp == self.timestamp
            && particle.ttl == self.ttl
            && particle.init_peer_id == self.init_peer_id
            && *self.script == *particle.script
    }

    /// Hands the data of `particle`, a copy of the actor's particle, to the actor.
    pub(super) fn post(
        &self,
        particle: Particle,
        place: OwnedSemaphorePermit,
    ) -> Result<(), IngestError> {
        let deadline = particle.deadline().unwrap_or(u64::MAX);
        let queued = Queued {
            data: particle.data,
            _place: place,
        };
        match self.sender.try_send(queued) {
            Ok(()) => Ok(()),
            // The mailbox holds as many copies as the queue has places, so it is never full;
            // it is closed when the actor has ended, i.e. the particle has just expired.
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => Err(IngestError::Expired {
                id: particle.id,
                deadline,
                now: now_ms(),
            }),
        }
    }
}

/// Starts the actor of `particle`, which takes its copies from `mailbox`.
pub(super) fn spawn(
    shared: Arc<Shared>,
    key: ActorKey,
    particle: &Particle,
    mailbox: mpsc::Receiver<Queued>,
) {
    let params = ParticleParams {
        id: particle.id.clone(),
        init_peer_id: particle.init_peer_id,
        timestamp: particle.timestamp,
        ttl: particle.ttl,
        signature: particle.signature.clone(),
    };
    let mut run_parameters = vm::RunParameters::new(
        init_peer_text(&particle.init_peer_id),
        shared.peer_id_text.clone(),
        shared.key_pair.secret().to_vec(),
        particle.id.clone(),
    );
    run_parameters.timestamp = particle.timestamp;
    run_parameters.ttl = particle.ttl;
    let left = params.deadline().saturating_sub(now_ms());
    let span = tracing::info_span!("particle", id = %particle.id, peer = %shared.peer_id_text);
    let actor = Actor {
        deadline: tokio::time::Instant::now() + Duration::from_millis(left),
        template: Particle {
            id: particle.id.clone(),
            init_peer_id: particle.init_peer_id,
            timestamp: particle.timestamp,
            ttl: particle.ttl,
            script: particle.script.clone(),
            signature: particle.signature.clone(),
            data: Vec::new(),
        },
        shared,
        key,
        params,
        run_parameters,
        data: Vec::new(),
        results: CallResults::new(),
        pending: PendingCalls::default(),
        to_self: Vec::new(),
    };
    tokio::spawn(actor.run(mailbox).instrument(span));
}

/// The base58 text of an init peer's id. Particles mostly come from a few clients, and the
/// text of the last one is kept per thread: encoding costs more than a hop's bookkeeping.
fn init_peer_text(peer: &PeerId) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(PeerId, String)>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some((id, text)) if id == peer => text.clone(),
        _ => last.insert((*peer, peer.to_base58())).1.clone(),
    })
}

/// Service calls whose results come later, and their call ids.
#[derive(Default)]
struct PendingCalls {
    tasks: JoinSet<Outcome>,
    call_ids: HashMap<tokio::task::Id, u32>,
}

impl PendingCalls {
    fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Starts one service call: its outcome when the service answers at once, otherwise
    /// `None`, and the call waits here.
    fn start(
        &mut self,
        shared: &Shared,
        params: &ParticleParams,
        call_id: u32,
        request: CallRequest,
    ) -> Option<Outcome> {
        let call = Call {
            service_id: request.service_id,
            function_name: request.function_name,
            arguments: request.arguments,
            tetraplets: request.tetraplets,
        };
        let reply = match shared.services.resolve(&call.service_id) {
            None => Reply::Ready(Outcome::Error(format!(
                "Service with id '{}' not found (function {})",
                call.service_id, call.function_name
            ))),
            Some(service) => {
                let what = format!("{}.{}", call.service_id, call.function_name);
                // A faulty service fails its call, not the particle or the peer.
                panic::catch_unwind(AssertUnwindSafe(|| service.call(call, params)))
                    .unwrap_or_else(|_| Reply::Ready(Outcome::Error(format!("{what} panicked"))))
            }
        };
        match reply {
            Reply::Ready(outcome) => Some(outcome),
            Reply::Later(future) => {
                let handle = self.tasks.spawn(future);
                self.call_ids.insert(handle.id(), call_id);
                None
            }
        }
    }
}

/// Logs a failed call and counts the call's outcome.
fn count_answer(shared: &Shared, call_id: u32, outcome: &Outcome) {
    let label = match outcome {
        Outcome::Error(message) => {
            tracing::debug!(call_id, "service call failed: {message}");
            "error"
        }
        Outcome::Fail(code, value) => {
            tracing::debug!(call_id, "service call failed with code {code}: {value}");
            "error"
        }
        _ => "ok",
    };
    shared
        .metrics
        .service_calls
        .get_or_create(&super::metrics::CallLabels { outcome: label })
        .inc();
}

struct Actor {
    shared: Arc<Shared>,
    key: ActorKey,
    params: ParticleParams,
    run_parameters: vm::RunParameters,
    deadline: tokio::time::Instant,
    /// The particle as this peer sends it on, without its data.
    template: Particle,
    /// The particle's data on this peer after its last step.
    data: Vec<u8>,
    /// Results of finished calls, for the next step.
    results: CallResults,
    /// Calls whose results come later, and their call ids.
    pending: PendingCalls,
    /// Data the VM sent to this very peer, to run again.
    to_self: Vec<Vec<u8>>,
}

impl Actor {
    async fn run(mut self, mut mailbox: mpsc::Receiver<Queued>) {
        // One timer for the actor's life, not one per wait: a timer made and dropped at every
        // step costs an insertion into tokio's wheel and a removal each time.
        let expiry = tokio::time::sleep_until(self.deadline);
        tokio::pin!(expiry);
        loop {
            let current = if let Some(data) = self.to_self.pop() {
                data
            } else if let Ok(queued) = mailbox.try_recv() {
                self.shared.metrics.queued_particles.dec();
                queued.data
            } else if !self.results.is_empty() {
                Vec::new()
            } else {
                tokio::select! {
                    queued = mailbox.recv() => match queued {
                        Some(queued) => {
                            self.shared.metrics.queued_particles.dec();
                            queued.data
                        }
                        None => break,
                    },
                    Some(done) = self.pending.tasks.join_next_with_id(), if !self.pending.is_empty() => {
                        self.record(done);
                        while let Some(done) = self.pending.tasks.try_join_next_with_id() {
                            self.record(done);
                        }
                        continue;
                    }
                    () = &mut expiry => break,
                }
            };
            self.step(&current).await;
        }
        self.finish(mailbox);
    }

    /// One AquaVM step on `current` (data from another peer, or empty) and the results so far.
    async fn step(&mut self, current: &[u8]) {
        let shared = self.shared.clone();
        let call_results = calls::encode_call_results(&self.results);
        self.results.clear();
        let started = Instant::now();
        // Calls answered at once (builtins, most host services) feed the same step.
        let outcome = shared.vm.execute_answering(
            &self.template.script,
            &self.data,
            current,
            &self.run_parameters,
            &call_results,
            &mut |call_id, request| {
                let outcome = self
                    .pending
                    .start(&self.shared, &self.params, call_id, request)?;
                count_answer(&self.shared, call_id, &outcome);
                Some(outcome.into_call_result())
            },
        );
        shared.metrics.interpretations.inc();
        shared
            .metrics
            .interpretation_seconds
            .observe(started.elapsed().as_secs_f64());
        if outcome.ret_code != 0 {
            shared.metrics.interpretation_failures.inc();
            tracing::warn!(code = outcome.ret_code, "AquaVM: {}", outcome.error_message);
        }
        self.data = outcome.data;
        for (call_id, request) in outcome.call_requests {
            self.call(call_id, request);
        }
        let mut sent = 0;
        for next in outcome.next_peer_pks {
            if next == shared.peer_id_text {
                self.to_self.push(self.data.clone());
            } else {
                self.send(&next).await;
                sent += 1;
            }
        }
        if !shared.on_step.is_empty() {
            let report = StepReport {
                ret_code: outcome.ret_code,
                next_peers: sent,
                local_work_done: self.results.is_empty()
                    && self.pending.is_empty()
                    && self.to_self.is_empty(),
            };
            for hook in &shared.on_step {
                hook(&self.params, &report);
            }
        }
    }

    /// Starts one service call; its outcome goes to `results` now or to `pending`.
    fn call(&mut self, call_id: u32, request: CallRequest) {
        if let Some(outcome) = self
            .pending
            .start(&self.shared, &self.params, call_id, request)
        {
            self.answer(call_id, outcome);
        }
    }

    fn record(&mut self, done: Result<(tokio::task::Id, Outcome), tokio::task::JoinError>) {
        let (task, outcome) = match done {
            Ok((task, outcome)) => (task, outcome),
            Err(error) => (error.id(), Outcome::error("the service call panicked")),
        };
        if let Some(call_id) = self.pending.call_ids.remove(&task) {
            self.answer(call_id, outcome);
        }
    }

    fn answer(&mut self, call_id: u32, outcome: Outcome) {
        count_answer(&self.shared, call_id, &outcome);
        self.results.insert(call_id, outcome.into_call_result());
    }

    /// Sends the particle with this peer's data to `next`, waiting for room at most until
    /// the particle expires.
    async fn send(&self, next: &str) {
        let metrics = &self.shared.metrics;
        let peer: PeerId = match next.parse() {
            Ok(peer) => peer,
            Err(e) => {
                metrics.particles_send_failed.inc();
                tracing::warn!("the script names `{next}` as a next peer, not a peer id: {e}");
                return;
            }
        };
        let particle = Particle {
            data: self.data.clone(),
            ..self.template.clone()
        };
        let send = self.shared.transport.send(&peer, particle);
        match tokio::time::timeout_at(self.deadline, send).await {
            Ok(Ok(())) => {
                metrics.particles_sent.inc();
            }
            Ok(Err(e)) => {
                metrics.particles_send_failed.inc();
                tracing::warn!("could not send the particle on: {e}");
            }
            Err(_) => {
                metrics.particles_send_failed.inc();
                tracing::warn!("the particle expired while waiting to reach {next}");
            }
        }
    }

    /// The particle has expired: forget it, and release what waited for it.
    fn finish(self, mut mailbox: mpsc::Receiver<Queued>) {
        let shared = &self.shared;
        shared.actors().remove(&self.key);
        mailbox.close();
        while mailbox.try_recv().is_ok() {
            shared.metrics.queued_particles.dec();
        }
        shared.metrics.alive_actors.dec();
        for hook in &shared.on_expiry {
            hook(&self.params);
        }
        tracing::debug!("expired");
    }
}
