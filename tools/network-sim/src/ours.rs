//! Our VM behind the [`Engine`] boundary.

use std::sync::LazyLock;
use vm::data::calls::{CallResults, CallServiceResult};
use vm::data::Tetraplet as VmTetraplet;

use vm::{execute, RunParameters, Vm};

use crate::engine::{CallAnswer, CallRequest, Engine, StepInput, StepOutcome, Tetraplet};

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

/// Our VM, taking results during a step: a peer's run goes on with the results its local
/// services have ready, as the peer runtime's engine runs it (`Vm::execute_answering`).
pub struct VmAnsweringEngine;

static ANSWERING_VM: LazyLock<Vm> = LazyLock::new(Vm::new);

fn run_parameters(input: &StepInput<'_>) -> RunParameters {
    let mut params = RunParameters::new(
        input.init_peer_id,
        input.current_peer_id,
        input.secret_key.to_vec(),
        input.particle_id,
    );
    params.timestamp = input.timestamp;
    params.ttl = input.ttl;
    params
}

fn step_outcome(outcome: vm::Outcome) -> StepOutcome {
    StepOutcome {
        ret_code: outcome.ret_code,
        error_message: outcome.error_message,
        data: outcome.data,
        next_peer_pks: outcome.next_peer_pks,
        call_requests: outcome
            .call_requests
            .into_iter()
            .map(|(id, request)| (id, call_request(request)))
            .collect(),
    }
}

/// A call request of our VM as the engine boundary has it.
pub fn call_request(request: vm::data::calls::CallRequest) -> CallRequest {
    CallRequest {
        service_id: request.service_id,
        function_name: request.function_name,
        arguments: request.arguments,
        tetraplets: request
            .tetraplets
            .into_iter()
            .map(|ts| ts.into_iter().map(convert).collect())
            .collect(),
    }
}

impl Engine for VmEngine {
    fn name(&self) -> &str {
        "vm"
    }

    fn step(&self, input: &StepInput<'_>) -> StepOutcome {
        let outcome = execute(
            input.script,
            input.prev_data,
            input.current_data,
            &run_parameters(input),
            &encoded_call_results(input),
        );
        step_outcome(outcome)
    }
}

impl Engine for VmAnsweringEngine {
    fn name(&self) -> &str {
        "vm-answering"
    }

    fn step(&self, input: &StepInput<'_>) -> StepOutcome {
        VmEngine.step(input)
    }

    fn step_answering(&self, input: &StepInput<'_>, answer: &mut CallAnswer<'_>) -> StepOutcome {
        let outcome = ANSWERING_VM.execute_answering(
            input.script,
            input.prev_data,
            input.current_data,
            &run_parameters(input),
            &encoded_call_results(input),
            &mut |id, request| {
                answer(id, call_request(request)).map(|answer| CallServiceResult {
                    ret_code: answer.ret_code,
                    result: answer.result,
                })
            },
        );
        step_outcome(outcome)
    }
}

fn convert(t: VmTetraplet) -> Tetraplet {
    Tetraplet {
        peer_pk: t.peer_pk.to_string(),
        service_id: t.service_id.to_string(),
        function_name: t.function_name.to_string(),
        lens: t.lens.to_string(),
    }
}
