//! The reference AquaVM 0.62 behind [`Engine`].
//!
//! The glue speaks the reference's host interface: call results go in as multiformat
//! MessagePack with each result as compact JSON text (what js-client sends), and call
//! requests come out in the same envelope.

use std::collections::{BTreeMap, HashMap};

use air_interpreter_interface::{
    CallArgumentsRepr, CallRequestsRepr, CallResultsRepr, CallServiceResult, TetrapletsRepr,
};
use air_interpreter_sede::{FromSerialized, ToSerialized};
use reference_air::{RunParameters, SecurityTetraplet};
use serde_json::Value;

use crate::engine::{CallRequest, Engine, StepInput, StepOutcome, Tetraplet};

/// Limits the reference uses by default (16, 64 and 32 MiB), in soft mode.
const AIR_SIZE_LIMIT: u64 = 16 << 20;
const PARTICLE_SIZE_LIMIT: u64 = 64 << 20;
const CALL_RESULT_SIZE_LIMIT: u64 = 32 << 20;

/// `fluence_keypair::KeyFormat::Ed25519` as the interface's byte.
const KEY_FORMAT_ED25519: u8 = 0;

/// `aquavm-air` 0.62.0, run in-process.
pub struct ReferenceEngine;

impl Engine for ReferenceEngine {
    fn name(&self) -> &str {
        "reference"
    }

    fn step(&self, input: &StepInput<'_>) -> StepOutcome {
        let params = RunParameters {
            init_peer_id: input.init_peer_id.to_owned(),
            current_peer_id: input.current_peer_id.to_owned(),
            timestamp: input.timestamp,
            ttl: input.ttl,
            key_format: KEY_FORMAT_ED25519,
            secret_key_bytes: input.secret_key.to_vec(),
            particle_id: input.particle_id.to_owned(),
            air_size_limit: AIR_SIZE_LIMIT,
            particle_size_limit: PARTICLE_SIZE_LIMIT,
            call_result_size_limit: CALL_RESULT_SIZE_LIMIT,
            hard_limit_enabled: false,
        };
        let results: HashMap<String, CallServiceResult> = input
            .call_results
            .iter()
            .map(|(id, answer)| {
                let result = CallServiceResult {
                    ret_code: answer.ret_code,
                    result: answer.result.clone(),
                };
                (id.to_string(), result)
            })
            .collect();
        let results = CallResultsRepr
            .serialize(&results)
            .expect("call results serialize");
        let outcome = reference_air::execute_air(
            input.script.to_owned(),
            input.prev_data.to_vec(),
            input.current_data.to_vec(),
            params,
            results,
        );
        let mut next_peer_pks = outcome.next_peer_pks;
        next_peer_pks.sort();
        StepOutcome {
            ret_code: outcome.ret_code,
            error_message: outcome.error_message,
            data: outcome.data,
            next_peer_pks,
            call_requests: decode_call_requests(&outcome.call_requests),
        }
    }
}

fn decode_call_requests(bytes: &[u8]) -> BTreeMap<u32, CallRequest> {
    if bytes.is_empty() {
        return BTreeMap::new();
    }
    let requests = CallRequestsRepr
        .deserialize(bytes)
        .expect("the reference's call requests decode");
    requests
        .into_iter()
        .map(|(id, params)| {
            let arguments: Vec<Value> = CallArgumentsRepr
                .deserialize(&params.arguments)
                .expect("call arguments decode");
            let tetraplets: Vec<Vec<SecurityTetraplet>> = TetrapletsRepr
                .deserialize(&params.tetraplets)
                .expect("tetraplets decode");
            let tetraplets = tetraplets
                .into_iter()
                .map(|list| list.into_iter().map(from_reference).collect())
                .collect();
            let request = CallRequest {
                service_id: params.service_id,
                function_name: params.function_name,
                arguments,
                tetraplets,
            };
            (id, request)
        })
        .collect()
}

fn from_reference(tetraplet: SecurityTetraplet) -> Tetraplet {
    Tetraplet {
        peer_pk: tetraplet.peer_pk,
        service_id: tetraplet.service_id,
        function_name: tetraplet.function_name,
        lens: tetraplet.lens,
    }
}
