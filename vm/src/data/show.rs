//! A readable view of a particle data: the trace with the values its states name, the stores,
//! the signatures and whatever is wrong with them.
//!
//! [`DataView`] resolves every CID the trace refers to once; its `Display` is the text for people
//! (`air data show`) and its serde form is the same content for tools (`air data show --json`).

use super::model::{
    CallResult, CallServiceFailed, CanonCidAggregate, CanonResult, CanonResultCidAggregate,
    ExecutedState, InterpreterData, Provenance, Sender, ServiceResultCidAggregate, Tetraplet,
    ValueRef,
};
use super::{verify, Cid, CidInfo, CidStore, Versions};

use serde::Serialize;
use serde_json::Value;

use std::collections::BTreeMap;
use std::fmt;

/// Values longer than this (as JSON text) are cut in trace lines; the value store section shows
/// them whole.
const INLINE_VALUE_CHARS: usize = 60;

/// Everything in a particle data, with the trace's references resolved.
#[derive(Debug, Clone, Serialize)]
pub struct DataView {
    data_version: String,
    interpreter_version: String,
    last_call_request_id: u32,
    trace: Vec<StateView>,
    values: BTreeMap<Cid, Value>,
    tetraplets: BTreeMap<Cid, Tetraplet>,
    canon_elements: BTreeMap<Cid, CanonCidAggregate>,
    canon_results: BTreeMap<Cid, CanonResultCidAggregate>,
    service_results: BTreeMap<Cid, ServiceResultCidAggregate>,
    signatures: Vec<SignatureView>,
    /// Whether the signatures were checked (that needs the particle id, their salt).
    signatures_checked: bool,
    errors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
struct StateView {
    position: usize,
    #[serde(flatten)]
    state: StateKind,
}

/// A trace state; references that do not resolve are `None` (and reported in the errors).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum StateKind {
    Par {
        left_size: u32,
        right_size: u32,
    },
    /// The call was handed over by `peer_id`: to its host as request `call_id`, or else by
    /// forwarding the particle to the call's peer.
    CallSent {
        peer_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        call_id: Option<u32>,
    },
    CallExecuted {
        /// The service result aggregate.
        cid: Cid,
        /// `None` for a scalar.
        #[serde(skip_serializing_if = "Option::is_none")]
        stream_generation: Option<u32>,
        value: Option<Value>,
        tetraplet: Option<Tetraplet>,
    },
    /// The result went nowhere: only its value's CID is kept.
    CallUnused {
        value_cid: Cid,
    },
    CallFailed {
        cid: Cid,
        failure: Option<CallServiceFailed>,
        tetraplet: Option<Tetraplet>,
    },
    Fold {
        iterations: Vec<FoldIteration>,
    },
    Ap {
        generations: Vec<u32>,
    },
    CanonSent {
        peer_id: String,
    },
    Canon {
        /// The canon result aggregate.
        cid: Cid,
        peer_id: Option<String>,
        values: Option<Vec<Value>>,
    },
}

#[derive(Debug, Clone, Serialize)]
struct FoldIteration {
    /// Trace position of the state that produced the iterated value.
    value_pos: u32,
    /// The states before `next`, then after it (two ranges in well-formed data).
    subtraces: Vec<Subtrace>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Subtrace {
    begin_pos: u32,
    len: u32,
}

#[derive(Debug, Clone, Serialize)]
struct SignatureView {
    /// `None` when the key is not an Ed25519 key.
    peer_id: Option<String>,
    /// Base58 of the key and of the signature, in the `fluence-keypair` encoding.
    public_key: String,
    signature: String,
}

impl DataView {
    /// The view of a decoded data.
    ///
    /// The stores are always checked against their CIDs. The signatures are checked only with
    /// the particle id, which salts them.
    pub fn new(versions: &Versions, data: &InterpreterData, particle_id: Option<&str>) -> Self {
        let mut errors = Vec::new();
        let stores = &data.cid_info;
        let trace = data
            .trace
            .iter()
            .enumerate()
            .map(|(position, state)| StateView {
                position,
                state: resolve_state(stores, position, state, &mut errors),
            })
            .collect();
        let values = stores
            .value_store
            .iter()
            .map(|(cid, raw)| {
                let value = raw.value().cloned().unwrap_or_else(|error| {
                    errors.push(format!("value {cid} is not JSON: {error}"));
                    Value::String(raw.as_str().to_owned())
                });
                (cid.clone(), value)
            })
            .collect();
        let signatures = data
            .signatures
            .iter()
            .map(|(key, signature)| {
                let public_key = bs58::encode(key.as_bytes()).into_string();
                let peer_id = key
                    .peer_id()
                    .map_err(|error| errors.push(format!("signature key {public_key}: {error}")))
                    .ok();
                SignatureView {
                    peer_id,
                    public_key,
                    signature: bs58::encode(signature.as_bytes()).into_string(),
                }
            })
            .collect();
        if let Err(error) = stores.verify() {
            errors.push(error.to_string());
        }
        // Full verification repeats the checks above and stops at the first problem, so it
        // only adds news when they found none.
        let signatures_checked = particle_id.is_some() && errors.is_empty();
        if let (Some(particle_id), true) = (particle_id, signatures_checked) {
            if let Err(error) = verify(data, particle_id) {
                errors.push(error.to_string());
            }
        }
        DataView {
            data_version: versions.data_version.to_string(),
            interpreter_version: versions.interpreter_version.to_string(),
            last_call_request_id: data.last_call_request_id,
            trace,
            values,
            tetraplets: entries(&stores.tetraplet_store),
            canon_elements: entries(&stores.canon_element_store),
            canon_results: entries(&stores.canon_result_store),
            service_results: entries(&stores.service_result_store),
            signatures,
            signatures_checked,
            errors,
        }
    }

    /// What is wrong with the data: references that do not resolve, values that are not JSON,
    /// store entries that do not match their CIDs, signatures that do not verify.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

fn entries<T: Clone>(store: &CidStore<T>) -> BTreeMap<Cid, T> {
    store
        .iter()
        .map(|(cid, item)| (cid.clone(), T::clone(item)))
        .collect()
}

/// Looks `cid` up in `store`, recording an error for a state that refers to nothing.
fn lookup<'a, T>(
    store: &'a CidStore<T>,
    store_name: &str,
    cid: &Cid,
    position: usize,
    errors: &mut Vec<String>,
) -> Option<&'a T> {
    let item = store.get(cid).map(|item| &**item);
    if item.is_none() {
        errors.push(format!(
            "trace state {position} refers to {cid}, which is not in the {store_name} store"
        ));
    }
    item
}

fn resolve_state(
    stores: &CidInfo,
    position: usize,
    state: &ExecutedState,
    errors: &mut Vec<String>,
) -> StateKind {
    let value = |cid: &Cid, errors: &mut Vec<String>| {
        let raw = lookup(&stores.value_store, "value", cid, position, errors)?;
        // A value that is not JSON is reported with the value store.
        raw.value().ok().cloned()
    };
    let tetraplet = |cid: &Cid, errors: &mut Vec<String>| {
        lookup(&stores.tetraplet_store, "tetraplet", cid, position, errors).cloned()
    };
    let service_result = |cid: &Cid, errors: &mut Vec<String>| {
        lookup(
            &stores.service_result_store,
            "service result",
            cid,
            position,
            errors,
        )
    };
    match state {
        ExecutedState::Par(par) => StateKind::Par {
            left_size: par.left_size,
            right_size: par.right_size,
        },
        ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerId(peer_id))) => {
            StateKind::CallSent {
                peer_id: peer_id.to_string(),
                call_id: None,
            }
        }
        ExecutedState::Call(CallResult::RequestSentBy(Sender::PeerIdWithCallId {
            peer_id,
            call_id,
        })) => StateKind::CallSent {
            peer_id: peer_id.to_string(),
            call_id: Some(*call_id),
        },
        ExecutedState::Call(CallResult::Executed(ValueRef::Unused(cid))) => StateKind::CallUnused {
            value_cid: cid.clone(),
        },
        ExecutedState::Call(CallResult::Executed(
            value_ref @ (ValueRef::Scalar(cid) | ValueRef::Stream { cid, .. }),
        )) => {
            let result = service_result(cid, errors);
            StateKind::CallExecuted {
                cid: cid.clone(),
                stream_generation: match value_ref {
                    ValueRef::Stream { generation, .. } => Some(*generation),
                    _ => None,
                },
                value: result.and_then(|result| value(&result.value_cid, errors)),
                tetraplet: result.and_then(|result| tetraplet(&result.tetraplet_cid, errors)),
            }
        }
        ExecutedState::Call(CallResult::Failed(cid)) => {
            let result = service_result(cid, errors);
            let failure = result
                .and_then(|result| value(&result.value_cid, errors))
                .and_then(|value| match CallServiceFailed::from_value(&value) {
                    Ok(failure) => Some(failure),
                    Err(error) => {
                        errors.push(format!(
                            "trace state {position}: the failure value is not a service error: \
                             {error}"
                        ));
                        None
                    }
                });
            StateKind::CallFailed {
                cid: cid.clone(),
                failure,
                tetraplet: result.and_then(|result| tetraplet(&result.tetraplet_cid, errors)),
            }
        }
        ExecutedState::Fold(fold) => StateKind::Fold {
            iterations: fold
                .lore
                .iter()
                .map(|lore| FoldIteration {
                    value_pos: lore.value_pos,
                    subtraces: lore
                        .subtraces_desc
                        .iter()
                        .map(|desc| Subtrace {
                            begin_pos: desc.begin_pos,
                            len: desc.subtrace_len,
                        })
                        .collect(),
                })
                .collect(),
        },
        ExecutedState::Ap(ap) => StateKind::Ap {
            generations: ap.res_generations.to_vec(),
        },
        ExecutedState::Canon(CanonResult::RequestSentBy(peer_id)) => StateKind::CanonSent {
            peer_id: peer_id.to_string(),
        },
        ExecutedState::Canon(CanonResult::Executed(cid)) => {
            let result = lookup(
                &stores.canon_result_store,
                "canon result",
                cid,
                position,
                errors,
            );
            let peer_id = result
                .and_then(|result| tetraplet(&result.tetraplet, errors))
                .map(|tetraplet| tetraplet.peer_pk.to_string());
            let values = result.and_then(|result| {
                result
                    .values
                    .iter()
                    .map(|element| {
                        let element = lookup(
                            &stores.canon_element_store,
                            "canon element",
                            element,
                            position,
                            errors,
                        )?;
                        value(&element.value, errors)
                    })
                    // Every element is looked up, so that each missing one is reported.
                    .collect::<Vec<_>>()
                    .into_iter()
                    .collect::<Option<Vec<_>>>()
            });
            StateKind::Canon {
                cid: cid.clone(),
                peer_id,
                values,
            }
        }
    }
}

impl fmt::Display for DataView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "data format {}, written by interpreter {}",
            self.data_version, self.interpreter_version
        )?;
        writeln!(f, "last call request id: {}", self.last_call_request_id)?;

        writeln!(f, "\n{}", count(self.trace.len(), "trace state"))?;
        let width = self.trace.len().saturating_sub(1).to_string().len();
        for state in &self.trace {
            write!(f, "  {:>width$}  ", state.position)?;
            state.state.fmt(f)?;
            writeln!(f)?;
        }

        writeln!(f, "\n{}", count(self.values.len(), "value"))?;
        for (cid, value) in &self.values {
            writeln!(f, "  {cid}  {value}")?;
        }
        writeln!(f, "\n{}", count(self.tetraplets.len(), "tetraplet"))?;
        for (cid, tetraplet) in &self.tetraplets {
            writeln!(f, "  {cid}  {}", ShowTetraplet(tetraplet))?;
        }
        writeln!(f, "\n{}", count(self.canon_elements.len(), "canon element"))?;
        for (cid, element) in &self.canon_elements {
            write!(
                f,
                "  {cid}  value {}, tetraplet {}, ",
                element.value, element.tetraplet
            )?;
            match &element.provenance {
                Provenance::Literal => writeln!(f, "from a literal")?,
                Provenance::ServiceResult { cid } => writeln!(f, "from service result {cid}")?,
                Provenance::Canon { cid } => writeln!(f, "from canon {cid}")?,
            }
        }
        writeln!(f, "\n{}", count(self.canon_results.len(), "canon result"))?;
        for (cid, result) in &self.canon_results {
            write!(f, "  {cid}  tetraplet {}, elements [", result.tetraplet)?;
            for (index, element) in result.values.iter().enumerate() {
                let separator = if index == 0 { "" } else { ", " };
                write!(f, "{separator}{element}")?;
            }
            writeln!(f, "]")?;
        }
        writeln!(
            f,
            "\n{}",
            count(self.service_results.len(), "service result")
        )?;
        for (cid, result) in &self.service_results {
            writeln!(
                f,
                "  {cid}  value {}, tetraplet {}, argument hash {}",
                result.value_cid, result.tetraplet_cid, result.argument_hash
            )?;
        }

        let checked = if self.signatures_checked {
            "checked"
        } else if self.errors.is_empty() {
            "not checked: the particle id is needed"
        } else {
            "not checked: the data has errors"
        };
        let signatures = count(self.signatures.len(), "signature");
        writeln!(f, "\n{signatures} ({checked})")?;
        for signature in &self.signatures {
            let peer_id = signature.peer_id.as_deref().unwrap_or("<invalid key>");
            writeln!(
                f,
                "  {peer_id}  key {}, signature {}",
                signature.public_key, signature.signature
            )?;
        }

        writeln!(f, "\n{}", count(self.errors.len(), "error"))?;
        for error in &self.errors {
            writeln!(f, "  {error}")?;
        }
        Ok(())
    }
}

/// The trace line of a state, after its position.
impl fmt::Display for StateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateKind::Par {
                left_size,
                right_size,
            } => write!(f, "par {left_size} + {right_size}"),
            StateKind::CallSent {
                peer_id,
                call_id: Some(call_id),
            } => write!(f, "call sent by {peer_id} to its host as request {call_id}"),
            StateKind::CallSent {
                peer_id,
                call_id: None,
            } => write!(f, "call sent by {peer_id} to the call's peer"),
            StateKind::CallExecuted {
                cid,
                stream_generation,
                value,
                tetraplet,
            } => {
                match stream_generation {
                    Some(generation) => write!(f, "call executed, stream generation {generation}")?,
                    None => write!(f, "call executed, scalar")?,
                }
                write!(f, " = {}", ShowValue(value.as_ref()))?;
                if let Some(tetraplet) = tetraplet {
                    write!(f, " from {}", ShowTetraplet(tetraplet))?;
                }
                write!(f, " ({cid})")
            }
            StateKind::CallUnused { value_cid } => {
                write!(f, "call executed, result unused (value {value_cid})")
            }
            StateKind::CallFailed {
                cid,
                failure,
                tetraplet,
            } => {
                write!(f, "call failed")?;
                if let Some(failure) = failure {
                    write!(
                        f,
                        ", ret_code {}, message {}",
                        failure.ret_code,
                        Shortened(&failure.message)
                    )?;
                }
                if let Some(tetraplet) = tetraplet {
                    write!(f, " from {}", ShowTetraplet(tetraplet))?;
                }
                write!(f, " ({cid})")
            }
            StateKind::Fold { iterations } => {
                write!(f, "fold, {}", count(iterations.len(), "iteration"))?;
                for iteration in iterations {
                    write!(f, "; value at {}:", iteration.value_pos)?;
                    for (index, subtrace) in iteration.subtraces.iter().enumerate() {
                        let part = match index {
                            0 => "before next",
                            1 => "after next",
                            _ => "extra subtrace",
                        };
                        let end = u64::from(subtrace.begin_pos) + u64::from(subtrace.len);
                        let separator = if index == 0 { "" } else { "," };
                        write!(f, "{separator} {part} {}..{end}", subtrace.begin_pos)?;
                    }
                }
                Ok(())
            }
            StateKind::Ap { generations } => {
                write!(f, "ap into generation")?;
                for (index, generation) in generations.iter().enumerate() {
                    let separator = if index == 0 { " " } else { ", " };
                    write!(f, "{separator}{generation}")?;
                }
                Ok(())
            }
            StateKind::CanonSent { peer_id } => {
                write!(f, "canon sent by {peer_id} to the canon's peer")
            }
            StateKind::Canon {
                cid,
                peer_id,
                values,
            } => {
                write!(f, "canon")?;
                if let Some(peer_id) = peer_id {
                    write!(f, " on {peer_id}")?;
                }
                match values {
                    Some(values) => {
                        let array = Value::Array(values.clone());
                        write!(f, " = {}", ShowValue(Some(&array)))?;
                    }
                    None => write!(f, " = {}", ShowValue(None))?,
                }
                write!(f, " ({cid})")
            }
        }
    }
}

/// `peer/service.function` and the lens, if any.
struct ShowTetraplet<'a>(&'a Tetraplet);

impl fmt::Display for ShowTetraplet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tetraplet = self.0;
        write!(f, "{}", tetraplet.peer_pk)?;
        if !tetraplet.service_id.is_empty() || !tetraplet.function_name.is_empty() {
            write!(f, "/{}.{}", tetraplet.service_id, tetraplet.function_name)?;
        }
        if !tetraplet.lens.is_empty() {
            write!(f, " lens {}", tetraplet.lens)?;
        }
        Ok(())
    }
}

/// A value in a trace line: its JSON text, shortened, or `<missing>`.
struct ShowValue<'a>(Option<&'a Value>);

impl fmt::Display for ShowValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => Shortened(&value.to_string()).fmt(f),
            None => f.write_str("<missing>"),
        }
    }
}

/// Text cut to [`INLINE_VALUE_CHARS`] characters, with `…` when cut.
struct Shortened<'a>(&'a str);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(INLINE_VALUE_CHARS) {
            Some((end, _)) => write!(f, "{}…", &self.0[..end]),
            None => f.write_str(self.0),
        }
    }
}

/// `1 value`, `2 values`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
