//! Our VM behind the [`Engine`] boundary.

use vm::data::calls::{CallResults, CallServiceResult};
use vm::data::Tetraplet as VmTetraplet;
use vm::{execute, RunParameters};

use crate::engine::{CallRequest, Engine, StepInput, StepOutcome, Tetraplet};

/// `vm::execute`, run in-process.
pub struct VmEngine;

/// The step's call results in our VM's wire format (multicodec-prefixed MessagePack).
pub fn encoded_call_results(input: &StepInput<'_>) -> Vec<u8> {
    let results: CallResults = input
        .call_results
        .iter()
        .map(|(id, answer)| {
            let result = CallServiceResult {
                ret_code: answer.ret_code,
                result: answer.result.clone(),
            };
            (*id, result)
        })
        .collect();
    vm::data::calls::encode_call_results(&results)
}

impl Engine for VmEngine {
    fn name(&self) -> &str {
        "vm"
    }

    fn step(&self, input: &StepInput<'_>) -> StepOutcome {
        let mut params = RunParameters::new(
            input.init_peer_id,
            input.current_peer_id,
            input.secret_key.to_vec(),
            input.particle_id,
        );
        params.timestamp = input.timestamp;
        params.ttl = input.ttl;
        let call_results = encoded_call_results(input);
        let outcome = execute(
            input.script,
            input.prev_data,
            input.current_data,
            &params,
            &call_results,
        );
        StepOutcome {
            ret_code: outcome.ret_code,
            error_message: outcome.error_message,
            data: outcome.data,
            next_peer_pks: outcome.next_peer_pks,
            call_requests: outcome
                .call_requests
                .into_iter()
                .map(|(id, request)| {
                    let request = CallRequest {
                        service_id: request.service_id,
                        function_name: request.function_name,
                        arguments: request.arguments,
                        tetraplets: request
                            .tetraplets
                            .into_iter()
                            .map(|ts| ts.into_iter().map(convert).collect())
                            .collect(),
                    };
                    (id, request)
                })
                .collect(),
        }
    }
}

fn convert(t: VmTetraplet) -> Tetraplet {
    Tetraplet {
        peer_pk: t.peer_pk,
        service_id: t.service_id,
        function_name: t.function_name,
        lens: t.lens,
    }
}
