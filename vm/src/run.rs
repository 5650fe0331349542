//! One VM step: checks and decodes the inputs, executes, signs, and encodes the new data.
//!
//! Any failure before or during execution that is not a script-level (catchable) error returns
//! the previous data unchanged, with no peers and no call requests, so a bad particle never
//! damages what a peer already has.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::cache::{Cached, ScriptCache};
use crate::data::calls::{self, CallRequest, CallRequests, CallResults, CallServiceResult};
use crate::data::{self, DataError, InterpreterData, KeyPair};
use crate::exec::{self, ExecInput, Particle};

/// Size limits and run facts, as the host passes them (the reference's `RunParameters`).
#[derive(Debug, Clone)]
pub struct RunParameters {
    pub init_peer_id: String,
    pub current_peer_id: String,
    /// Particle creation time, ms since the Unix epoch.
    pub timestamp: u64,
    /// Particle time to live, ms.
    pub ttl: u32,
    /// Key format of `secret_key` (0 = Ed25519, the only one accepted).
    pub key_format: u8,
    /// The current peer's secret key: it signs the results this peer produces.
    pub secret_key: Vec<u8>,
    /// The particle id; it salts the signatures.
    pub particle_id: String,
    pub air_size_limit: u64,
    pub particle_size_limit: u64,
    pub call_result_size_limit: u64,
    /// Whether exceeding a limit fails the run (hard) or only sets a flag (soft).
    pub hard_limit_enabled: bool,
}

impl RunParameters {
    /// Default limits of the reference: AIR 16 MiB, particle 64 MiB, call results 32 MiB.
    pub const DEFAULT_AIR_SIZE_LIMIT: u64 = 16 << 20;
    pub const DEFAULT_PARTICLE_SIZE_LIMIT: u64 = 64 << 20;
    pub const DEFAULT_CALL_RESULT_SIZE_LIMIT: u64 = 32 << 20;

    /// Parameters with the default limits in hard mode.
    pub fn new(
        init_peer_id: impl Into<String>,
        current_peer_id: impl Into<String>,
        secret_key: Vec<u8>,
        particle_id: impl Into<String>,
    ) -> Self {
        RunParameters {
            init_peer_id: init_peer_id.into(),
            current_peer_id: current_peer_id.into(),
            timestamp: 0,
            ttl: 0,
            key_format: 0,
            secret_key,
            particle_id: particle_id.into(),
            air_size_limit: Self::DEFAULT_AIR_SIZE_LIMIT,
            particle_size_limit: Self::DEFAULT_PARTICLE_SIZE_LIMIT,
            call_result_size_limit: Self::DEFAULT_CALL_RESULT_SIZE_LIMIT,
            hard_limit_enabled: true,
        }
    }
}

/// What a step produced (the reference's `InterpreterOutcome`).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// 0 on success; otherwise the code of the error.
    pub ret_code: i64,
    pub error_message: String,
    /// The new particle data (the previous data when the run failed before finishing).
    pub data: Vec<u8>,
    /// Peers to send the particle to, sorted and without duplicates.
    pub next_peer_pks: Vec<String>,
    /// Service calls to make on this peer, by call id.
    pub call_requests: CallRequests,
    pub air_size_limit_exceeded: bool,
    pub particle_size_limit_exceeded: bool,
    pub call_result_size_limit_exceeded: bool,
}

impl Outcome {
    /// The call requests in the reference's wire format (multicodec-prefixed MessagePack).
    pub fn encoded_call_requests(&self) -> Vec<u8> {
        calls::encode_call_requests(&self.call_requests)
    }
}

/// Error codes of the preparation step (1-10 in the reference).
mod codes {
    pub const AIR_PARSE: i64 = 1;
    pub const DATA_DE: i64 = 2;
    pub const ENVELOPE_DE: i64 = 3;
    pub const ENVELOPE_DE_WITH_VERSIONS: i64 = 4;
    pub const CALL_RESULTS_DE: i64 = 5;
    pub const UNSUPPORTED_VERSION: i64 = 6;
    pub const MALFORMED_KEY_PAIR: i64 = 7;
    pub const CID_STORE: i64 = 8;
    pub const SIGNATURE_CHECK: i64 = 9;
    pub const SIZE_LIMITS: i64 = 10;
    /// The host sent a result for a call the script did not make.
    pub const UNPROCESSED_CALL_RESULT: i64 = 30_000;
}

fn data_error_code(e: &DataError) -> i64 {
    match e {
        DataError::EnvelopeDeFailed { .. } => codes::ENVELOPE_DE,
        DataError::EnvelopeDeFailedWithVersions { .. } => codes::ENVELOPE_DE_WITH_VERSIONS,
        DataError::DataDeFailed { .. } => codes::DATA_DE,
        DataError::UnsupportedInterpreterVersion { .. } => codes::UNSUPPORTED_VERSION,
        DataError::CidStoreVerification(_) => codes::CID_STORE,
        DataError::DataSignatureCheck(_) => codes::SIGNATURE_CHECK,
    }
}

/// A peer's VM: executes particles and keeps the scripts it parsed for the next particles.
///
/// It can be shared between threads; each [`Vm::execute`] call is independent.
pub struct Vm {
    scripts: ScriptCache,
}

impl Vm {
    /// The default bound of the script cache: 64 MiB of script sources.
    pub const DEFAULT_SCRIPT_CACHE_BYTES: u64 = 64 << 20;

    /// The most passes one [`Vm::execute_answering`] makes, so that a long chain of local
    /// calls still returns to the host now and then (to take in copies, or to expire).
    pub const MAX_PASSES_PER_STEP: usize = 32;

    /// A VM whose script cache keeps up to [`Vm::DEFAULT_SCRIPT_CACHE_BYTES`] of sources.
    pub fn new() -> Self {
        Self::with_script_cache_bytes(Self::DEFAULT_SCRIPT_CACHE_BYTES)
    }

    /// A VM whose script cache keeps scripts whose sources total at most `bytes`.
    pub fn with_script_cache_bytes(bytes: u64) -> Self {
        Vm {
            scripts: ScriptCache::new(bytes),
        }
    }

    /// Executes one step of a particle, as [`execute`] does, parsing `air` only if this VM has
    /// not seen the same script text before.
    pub fn execute(
        &self,
        air: &str,
        prev_data: &[u8],
        current_data: &[u8],
        params: &RunParameters,
        call_results: &[u8],
    ) -> Outcome {
        self.step(air, prev_data, current_data, params, call_results, None)
    }

    /// Executes a step as [`Vm::execute`] does, and gives each call request to `answer` as
    /// it comes: `answer` returns the call's result when it is ready at once, or `None` when
    /// the host keeps the request and delivers its result in a later step.
    ///
    /// Ready results are fed back straight away: the VM runs the script again on the data it
    /// just produced, as a step with those call results would, without encoding, signing and
    /// decoding the data in between. It goes on while every new request is answered at
    /// once and the particle stays on this peer; it stops at a pass that sends the particle
    /// on, fails, asks nothing, or leaves no result ready (after at most
    /// [`Vm::MAX_PASSES_PER_STEP`] passes). The outcome is the one that the same sequence of
    /// separate steps would have ended with, and its `call_requests` are only those of the
    /// last pass that were not given to `answer`.
    pub fn execute_answering(
        &self,
        air: &str,
        prev_data: &[u8],
        current_data: &[u8],
        params: &RunParameters,
        call_results: &[u8],
        answer: &mut CallAnswerer<'_>,
    ) -> Outcome {
        self.step(
            air,
            prev_data,
            current_data,
            params,
            call_results,
            Some(answer),
        )
    }

    fn step(
        &self,
        air: &str,
        prev_data: &[u8],
        current_data: &[u8],
        params: &RunParameters,
        call_results: &[u8],
        answer: Option<&mut CallAnswerer<'_>>,
    ) -> Outcome {
        let prepare = |air: &str| self.scripts.get(air);
        step(
            air,
            prev_data,
            current_data,
            params,
            call_results,
            &prepare,
            answer,
        )
    }

    /// How many parsed scripts the cache holds.
    pub fn cached_scripts(&self) -> usize {
        self.scripts.len()
    }
}

impl Default for Vm {
    fn default() -> Self {
        Self::new()
    }
}

/// Executes one step of a particle on this peer.
///
/// `prev_data` is what this peer stored after its last step on the particle (empty at first),
/// `current_data` what arrived from another peer (empty when re-running after local calls);
/// `call_results` answers this peer's earlier call requests, in the reference's wire format.
/// The script is parsed for this call only; a peer that runs many particles uses a [`Vm`].
pub fn execute(
    air: &str,
    prev_data: &[u8],
    current_data: &[u8],
    params: &RunParameters,
    call_results: &[u8],
) -> Outcome {
    step(
        air,
        prev_data,
        current_data,
        params,
        call_results,
        &|air| Arc::new(Cached::new(air)),
        None,
    )
}

/// Answers a call request during [`Vm::execute_answering`]: `Some` result when it is ready
/// now, `None` when the host keeps the request for a later step.
pub type CallAnswerer<'a> = dyn FnMut(u32, CallRequest) -> Option<CallServiceResult> + 'a;

fn step(
    air: &str,
    prev_data: &[u8],
    current_data: &[u8],
    params: &RunParameters,
    call_results: &[u8],
    prepare: &dyn Fn(&str) -> Arc<Cached>,
    mut answer: Option<&mut CallAnswerer<'_>>,
) -> Outcome {
    let failed = |code: i64, message: String, limits: Limits| Outcome {
        ret_code: code,
        error_message: message,
        data: prev_data.to_vec(),
        air_size_limit_exceeded: limits.air,
        particle_size_limit_exceeded: limits.particle,
        call_result_size_limit_exceeded: limits.call_results,
        ..Outcome::default()
    };
    let limits = Limits {
        air: air.len() as u64 > params.air_size_limit,
        particle: current_data.len() as u64 > params.particle_size_limit,
        call_results: call_results.len() as u64 > params.call_result_size_limit,
    };
    if params.hard_limit_enabled {
        if let Some(message) = limits.describe(air, current_data, call_results, params) {
            return failed(codes::SIZE_LIMITS, message, limits);
        }
    }
    // The current data is read against the previous one, whose entries it shares.
    let decode = |bytes: &[u8], prev: Option<&InterpreterData>| {
        let decoded = match (bytes, prev) {
            ([], _) => return Ok(InterpreterData::default()),
            (bytes, None) => data::decode(bytes),
            (bytes, Some(prev)) => data::decode_received(bytes, prev),
        };
        decoded.map(|(_, data)| data)
    };
    let prev = match decode(prev_data, None) {
        Ok(d) => d,
        Err(e) => return failed(data_error_code(&e), format!("previous data: {e}"), limits),
    };
    let current = match decode(current_data, Some(&prev)) {
        Ok(d) => d,
        Err(e) => return failed(data_error_code(&e), format!("current data: {e}"), limits),
    };
    let mut signatures = match data::verify_and_merge(&prev, &current, &params.particle_id) {
        Ok(store) => store,
        Err(e) => return failed(data_error_code(&e), e.to_string(), limits),
    };
    let raw_call_results = call_results;
    let call_results = match call_results {
        [] => Ok(calls::CallResults::new()),
        bytes => calls::decode_call_results(bytes),
    };
    let call_results = match call_results {
        Ok(results) => results,
        Err(e) => {
            return failed(
                codes::CALL_RESULTS_DE,
                format!("call results cannot be read: {e}"),
                limits,
            )
        }
    };
    let keypair = match KeyPair::from_secret_key(&params.secret_key, params.key_format) {
        Ok(k) => k,
        Err(e) => return failed(codes::MALFORMED_KEY_PAIR, e.to_string(), limits),
    };
    let prepared = prepare(air);
    let script = match &prepared.script {
        Ok(script) => script,
        Err(message) => return failed(codes::AIR_PARSE, message.clone(), limits),
    };

    let mut cids = prev.cid_info;
    cids.merge(current.cid_info);
    let particle = Particle {
        init_peer_id: &params.init_peer_id,
        current_peer_id: &params.current_peer_id,
        timestamp: params.timestamp,
        ttl: params.ttl,
    };
    let mut input = ExecInput {
        particle,
        prev_trace: prev.trace,
        current_trace: current.trace,
        cids,
        call_results,
        last_call_request_id: prev.last_call_request_id,
    };
    // The results answered at once, pass after pass, to replay the passes that went well
    // should a later one fail.
    let mut answered: Vec<CallResults> = Vec::new();
    let output = loop {
        let mut output = exec::execute(script, input);
        let Some(answer) = answer.as_deref_mut() else {
            break output;
        };
        let goes_on = answered.len() + 1 < Vm::MAX_PASSES_PER_STEP
            && output.result.is_ok()
            && output.unprocessed_results.is_empty()
            && output.next_peers.is_empty()
            && !output.call_requests.is_empty();
        if !goes_on {
            break output;
        }
        let mut ready = CallResults::new();
        for (id, request) in std::mem::take(&mut output.call_requests) {
            if let Some(result) = answer(id, request) {
                ready.insert(id, result);
            }
        }
        if ready.is_empty() {
            break output;
        }
        answered.push(ready.clone());
        input = ExecInput {
            particle,
            prev_trace: output.trace,
            current_trace: Vec::new(),
            cids: output.cids,
            call_results: ready,
            last_call_request_id: output.last_call_request_id,
        };
    };
    let (ret_code, error_message) = match &output.result {
        Err(e) if !e.is_catchable() && !answered.is_empty() => {
            // A step with the last results would have failed and kept the data of the step
            // before it: replay the passes up to that one (they are deterministic), giving
            // them the results they had; the requests of the last good pass were taken.
            let last = answered.len() - 1;
            let mut replayed: CallResults = answered.drain(..last).flatten().collect();
            let kept = step(
                air,
                prev_data,
                current_data,
                params,
                raw_call_results,
                prepare,
                Some(&mut |id, _| replayed.remove(&id)),
            );
            return Outcome {
                ret_code: e.code(),
                error_message: e.to_string(),
                ..kept
            };
        }
        Err(e) if !e.is_catchable() => return failed(e.code(), e.to_string(), limits),
        Err(e) => (e.code(), e.to_string()),
        Ok(()) if !output.unprocessed_results.is_empty() => {
            let ids: Vec<String> = output
                .unprocessed_results
                .keys()
                .map(u32::to_string)
                .collect();
            (
                codes::UNPROCESSED_CALL_RESULT,
                format!(
                    "call results with ids [{}] were not consumed by the script",
                    ids.join(", ")
                ),
            )
        }
        Ok(()) => (0, String::new()),
    };
    output
        .signatures
        .sign_into(&keypair, &params.particle_id, &mut signatures);
    let mut cids = output.cids;
    cids.forget_parsed_values();
    let data = data::encode(&InterpreterData {
        trace: output.trace,
        last_call_request_id: output.last_call_request_id,
        cid_info: cids,
        signatures,
    });
    let next_peer_pks: BTreeSet<String> = output.next_peers.into_iter().collect();
    Outcome {
        ret_code,
        error_message,
        data,
        next_peer_pks: next_peer_pks.into_iter().collect(),
        call_requests: output.call_requests,
        air_size_limit_exceeded: limits.air,
        particle_size_limit_exceeded: limits.particle,
        call_result_size_limit_exceeded: limits.call_results,
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    air: bool,
    particle: bool,
    call_results: bool,
}

impl Limits {
    fn describe(
        &self,
        air: &str,
        data: &[u8],
        call_results: &[u8],
        params: &RunParameters,
    ) -> Option<String> {
        if self.air {
            Some(format!(
                "AIR script size ({} bytes) exceeds the limit of {} bytes",
                air.len(),
                params.air_size_limit
            ))
        } else if self.particle {
            Some(format!(
                "particle data size ({} bytes) exceeds the limit of {} bytes",
                data.len(),
                params.particle_size_limit
            ))
        } else if self.call_results {
            Some(format!(
                "call results size ({} bytes) exceeds the limit of {} bytes",
                call_results.len(),
                params.call_result_size_limit
            ))
        } else {
            None
        }
    }
}
