//! The execution step: runs a script for one peer over the merged traces.
//!
//! The interpreter walks the script tree. Each instruction that leaves a trace state (call, ap
//! into a stream or a stream map, canon, par, fold over a stream or a stream map) asks the
//! [`trace::TraceMerger`] what the input traces recorded for it and writes the reconciled state
//! into the new trace. Completeness
//! (whether a subgraph finished, as opposed to waiting for a call or a variable) decides whether
//! `seq` continues; errors are catchable (handled by `xor`, visible as `%last_error%` and
//! `:error:`) or uncatchable (the run aborts).

/// Turns a joinable error into "wait": the subgraph is incomplete and nothing fails.
macro_rules! join {
    ($self:ident, $expr:expr) => {
        match $expr {
            Err(e) if e.is_joinable() => {
                $self.complete = false;
                return Ok(());
            }
            other => other?,
        }
    };
}

mod cids;
mod errors;
mod hashing;
mod lens;
mod maps;
mod scalars;
mod streams;
mod text;
mod trace;
mod values;

use smallvec::{smallvec, SmallVec};

use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use air::ast::{Call, Canon, CanonForm, Fail, Fold, FoldForm, Instr};
use air::{InstrId, Script, Sym, Value as AirValue, ValueId};
use serde_json::Value;

use crate::data::calls::{CallRequest, CallRequests, CallResults, CallServiceResult};
use crate::data::{
    self, ArgumentHash, CallResult, CallServiceFailed, CanonResult, Cid, CidInfo, ExecutedState,
    JsonPart, Provenance, RawValue, Sender, SharedStr, SignatureTracker, Tetraplet, ValueRef,
};

pub use errors::{Catchable, ExecError, ExecResult, Uncatchable};
use hashing::IntMap;
use maps::CanonMap;
use scalars::{found, Lookup, ScopedValues};
use streams::{Generation, StreamCursor, Streams};
use trace::{MergeError, TraceMerger};
use values::{
    ArrayElements, CanonStream, FoldedArrays, IterItem, Iterable, LazyAggregate, RecordedResult,
    ValueAggregate,
};

/// The particle facts a run sees.
#[derive(Clone, Copy)]
pub struct Particle<'a> {
    pub init_peer_id: &'a str,
    pub current_peer_id: &'a str,
    pub timestamp: u64,
    pub ttl: u32,
}

/// What the execution step needs besides the script.
pub struct ExecInput<'a> {
    pub particle: Particle<'a>,
    pub prev_trace: Vec<ExecutedState>,
    pub current_trace: Vec<ExecutedState>,
    pub cids: CidInfo,
    pub call_results: CallResults,
    pub last_call_request_id: u32,
}

/// What the execution step produced.
pub struct ExecOutput {
    /// `Err` with a catchable error: the script failed but its data is valid and goes on.
    pub result: ExecResult<()>,
    pub trace: Vec<ExecutedState>,
    pub cids: CidInfo,
    pub next_peers: Vec<String>,
    pub call_requests: CallRequests,
    pub last_call_request_id: u32,
    /// Call results the host sent that no call consumed.
    pub unprocessed_results: CallResults,
    /// The results each peer is the author of, to be signed.
    pub signatures: SignatureTracker,
}

/// Stack left below which [`Exec::run`] moves to a new stack segment.
const STACK_RED_ZONE: usize = 128 * 1024;
/// Size of each additional stack segment.
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// Runs the script and compacts stream generations.
pub fn execute(script: &Script, input: ExecInput<'_>) -> ExecOutput {
    let mut exec = Exec {
        script,
        init_peer_id: Rc::from(input.particle.init_peer_id),
        literal_tetraplet: Rc::new(Tetraplet::peer_only(input.particle.init_peer_id)),
        constant_triplets: IntMap::default(),
        literal_texts: IntMap::default(),
        resolved_texts: HashSet::default(),
        variable_triplets: IntMap::default(),
        tetraplet_cids: HashMap::default(),
        current_peer_id: Rc::from(input.particle.current_peer_id),
        timestamp: input.particle.timestamp,
        ttl: input.particle.ttl,
        merger: TraceMerger::new(input.prev_trace, input.current_trace),
        scalars: ScopedValues::default(),
        canons: ScopedValues::default(),
        canon_maps: ScopedValues::default(),
        iterables: IntMap::default(),
        streams: Streams::default(),
        maps: Streams::default(),
        complete: true,
        last_error: ErrorSlot::default(),
        error: ErrorSlot::default(),
        next_peers: Vec::new(),
        call_requests: BTreeMap::new(),
        call_results: input.call_results,
        last_call_request_id: input.last_call_request_id,
        cids: input.cids,
        signatures: SignatureTracker::default(),
        stream_folds: 0,
        array_elements: ArrayElements::default(),
        folded_arrays: FoldedArrays::default(),
    };
    let mut result = exec.run(script.root());
    if !matches!(result, Err(ExecError::Uncatchable(_))) {
        let compacted = exec
            .streams
            .compact_all(&mut exec.merger)
            .and_then(|()| exec.maps.compact_all(&mut exec.merger));
        if let Err(e) = compacted {
            result = Err(e);
        }
    }
    ExecOutput {
        result,
        trace: exec.merger.into_new_trace(),
        cids: exec.cids,
        next_peers: exec.next_peers,
        call_requests: exec.call_requests,
        last_call_request_id: exec.last_call_request_id,
        unprocessed_results: exec.call_results,
        signatures: exec.signatures,
    }
}

/// `%last_error%` or `:error:`: an error object and whether a new error may replace it.
struct ErrorSlot {
    object: Rc<Value>,
    tetraplet: Option<Rc<Tetraplet>>,
    provenance: Provenance,
    /// For `fail :error:`: the error that the enclosing `xor` caught, raised again as it was.
    original: Option<ExecError>,
    settable: bool,
}

impl Default for ErrorSlot {
    fn default() -> Self {
        ErrorSlot {
            object: Rc::new(no_error()),
            tetraplet: None,
            provenance: Provenance::Literal,
            original: None,
            settable: true,
        }
    }
}

fn no_error() -> Value {
    serde_json::json!({"error_code": 0, "message": ""})
}

fn error_object(code: i64, message: &str, instruction: &str, peer_id: Option<&str>) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("error_code".into(), code.into());
    object.insert("message".into(), message.into());
    object.insert("instruction".into(), instruction.into());
    if let Some(peer_id) = peer_id {
        object.insert("peer_id".into(), peer_id.into());
    }
    Value::Object(object)
}

/// The state of a fold: what it iterates over and where its body starts.
struct FoldState {
    iterable: Iterable,
    /// The current element, made when first used and kept until the cursor moves: the body
    /// may refer to it many times.
    item: OnceCell<IterItem>,
    /// `Some(id)` for folds over streams, whose iterations the trace records.
    stream_fold: Option<u32>,
    back_iteration_started: bool,
    body: InstrId,
    last: Option<InstrId>,
}

impl FoldState {
    fn current(&self) -> &IterItem {
        self.item.get_or_init(|| self.iterable.peek())
    }

    /// The current element's canonical JSON text, when it is still a range of its array's.
    fn current_text(&self) -> Option<&str> {
        self.iterable.current_text()
    }

    /// Moves to the next element; false at the end.
    fn advance(&mut self) -> bool {
        let moved = self.iterable.next();
        if moved {
            self.item = OnceCell::new();
        }
        moved
    }

    /// Moves back after the iterations nested in `next` returned.
    fn back(&mut self) {
        self.iterable.prev();
        self.item = OnceCell::new();
    }
}

/// A resolved value with the tetraplets of its parts (one per element for canon streams).
struct Resolved {
    value: Rc<Value>,
    /// One per value, except for a canon stream or map taken whole: one per element.
    tetraplets: SmallVec<[Rc<Tetraplet>; 1]>,
    provenance: Provenance,
}

/// How far a call's arguments are resolved.
enum Arguments {
    Resolved(Vec<Resolved>),
    /// Checked to resolve (a remote call's), not read.
    Checked,
}

struct Exec<'s> {
    script: &'s Script,
    init_peer_id: Rc<str>,
    /// The tetraplet of the script's constants, shared by all of them.
    literal_tetraplet: Rc<Tetraplet>,
    /// Tetraplets of calls whose peer, service and function are constants, by instruction: a
    /// call in a fold makes the same one at every iteration.
    constant_triplets: IntMap<InstrId, Rc<Tetraplet>>,
    /// The texts of string literals used as peers, services and functions.
    literal_texts: IntMap<Sym, Arc<str>>,
    /// The texts of variables used as peers, services and functions, shared: a fold calls the
    /// same few peers again and again.
    resolved_texts: HashSet<Arc<str>, foldhash::fast::RandomState>,
    /// Tetraplets of calls whose peer, service or function is a variable, by instruction and the
    /// addresses of the three (shared) texts.
    variable_triplets: IntMap<TripletKey, Rc<Tetraplet>>,
    /// CIDs of the tetraplets stored in this run, by content.
    tetraplet_cids: HashMap<Rc<Tetraplet>, Cid, foldhash::fast::RandomState>,
    current_peer_id: Rc<str>,
    timestamp: u64,
    ttl: u32,
    merger: TraceMerger,
    scalars: ScopedValues<LazyAggregate>,
    canons: ScopedValues<Rc<CanonStream>>,
    canon_maps: ScopedValues<Rc<CanonMap>>,
    iterables: IntMap<Sym, FoldState>,
    streams: Streams,
    /// Stream maps: streams of `{"key", "value"}` objects.
    maps: Streams,
    complete: bool,
    last_error: ErrorSlot,
    error: ErrorSlot,
    next_peers: Vec<String>,
    call_requests: CallRequests,
    call_results: CallResults,
    last_call_request_id: u32,
    cids: CidInfo,
    signatures: SignatureTracker,
    stream_folds: u32,
    /// The element ranges of large recorded arrays walked unparsed, kept for the next fold
    /// over the same array.
    array_elements: ArrayElements,
    /// The elements of arrays folded more than once.
    folded_arrays: FoldedArrays,
}

impl<'s> Exec<'s> {
    fn trace_error(&self, id: InstrId, e: MergeError) -> ExecError {
        Uncatchable::Trace {
            message: e.0,
            instruction: text::instruction(self.script, id),
        }
        .into()
    }

    fn name(&self, sym: Sym) -> &'s str {
        self.script.str(sym)
    }

    fn literal_tetraplet(&self) -> Rc<Tetraplet> {
        Rc::clone(&self.literal_tetraplet)
    }

    /// Executes an instruction and records a catchable error in `%last_error%` and `:error:`.
    fn run(&mut self, id: InstrId) -> ExecResult<()> {
        let instr = self.script.instr(id);
        // The interpreter recurses once per nesting level and once per fold iteration; deep
        // scripts and long folds continue on stack segments allocated on the heap instead of
        // overflowing the thread's stack.
        let result =
            stacker::maybe_grow(STACK_RED_ZONE, STACK_SEGMENT, || self.dispatch(id, instr));
        if let Err(e) = &result {
            // Calls record their errors themselves, with their resolved tetraplet.
            if !matches!(instr, Instr::Call(_)) && e.is_catchable() {
                let with_peer = matches!(instr, Instr::Canon(_));
                self.set_errors(e, id, None, with_peer);
            }
        }
        result
    }

    fn set_errors(
        &mut self,
        e: &ExecError,
        id: InstrId,
        tetraplet: Option<Rc<Tetraplet>>,
        with_peer: bool,
    ) {
        let last_settable = self.last_error.settable && e.affects_last_error();
        let settable = self.error.settable && e.is_catchable();
        if last_settable || settable {
            let instruction = text::instruction(self.script, id);
            let peer: Rc<str> = match &tetraplet {
                Some(t) if with_peer => Rc::from(&*t.peer_pk),
                _ => self.current_peer_id.clone(),
            };
            let message = e.to_string();
            if last_settable {
                self.last_error = ErrorSlot {
                    object: Rc::new(error_object(e.code(), &message, &instruction, Some(&peer))),
                    tetraplet: tetraplet.clone(),
                    provenance: Provenance::Literal,
                    original: None,
                    settable: false,
                };
            }
            if settable {
                let peer = with_peer.then_some(&*peer);
                self.error = ErrorSlot {
                    object: Rc::new(error_object(e.code(), &message, &instruction, peer)),
                    tetraplet,
                    provenance: Provenance::Literal,
                    original: None,
                    settable: true,
                };
            }
        }
        self.error.settable = false;
    }

    fn dispatch(&mut self, id: InstrId, instr: Instr) -> ExecResult<()> {
        match instr {
            Instr::Call(call) => self.call(id, call),
            Instr::Canon(canon) => self.canon(id, canon),
            Instr::Ap { value, target } => self.ap(id, value, target),
            Instr::ApMap { key, value, map } => self.ap_map(id, key, value, map),
            Instr::Seq(left, right) => {
                self.complete = true;
                self.run(left)?;
                if self.complete {
                    self.run(right)?;
                }
                Ok(())
            }
            Instr::Par(left, right) => self.par(id, left, right),
            Instr::Xor(left, right) => self.xor(left, right),
            Instr::New { variable, body } => self.new_scope(id, variable, body),
            Instr::Fold(fold) => self.fold(id, fold),
            Instr::Next(iterator) => self.next(id, iterator),
            Instr::Match { left, right, body } => self.compare(left, right, body, true),
            Instr::Mismatch { left, right, body } => self.compare(left, right, body, false),
            Instr::Fail(fail) => self.fail(id, fail),
            Instr::Never => {
                self.complete = false;
                Ok(())
            }
            Instr::Null => Ok(()),
            Instr::Error => Err(Uncatchable::Trace {
                message: "the script contains an instruction that did not parse".into(),
                instruction: "error".into(),
            }
            .into()),
        }
    }

    fn par(&mut self, id: InstrId, left: InstrId, right: InstrId) -> ExecResult<()> {
        self.merger
            .par_start()
            .map_err(|e| self.trace_error(id, e))?;
        let mut completes = [false; 2];
        let mut failures: [Option<ExecError>; 2] = [None, None];
        for (i, branch) in [left, right].into_iter().enumerate() {
            // A `next` as a whole branch must not make the par complete by itself.
            self.complete = !matches!(self.script.instr(branch), Instr::Next(_));
            match self.run(branch) {
                Ok(()) => {}
                Err(e) if e.is_catchable() => {
                    self.complete = false;
                    failures[i] = Some(e);
                }
                Err(e) => {
                    self.complete = false;
                    return Err(e);
                }
            }
            let ended = if i == 0 {
                self.merger.par_left_end()
            } else {
                self.merger.par_right_end()
            };
            ended.map_err(|e| self.trace_error(id, e))?;
            completes[i] = self.complete;
        }
        self.complete = completes[0] || completes[1];
        match failures {
            [Some(_), Some(right_error)] => Err(right_error),
            _ => {
                self.last_error.settable = true;
                Ok(())
            }
        }
    }

    fn xor(&mut self, left: InstrId, right: InstrId) -> ExecResult<()> {
        self.complete = true;
        match self.run(left) {
            Err(e) if e.is_catchable() => {
                self.complete = true;
                self.last_error.settable = true;
                self.error.original = Some(e);
                self.error.settable = true;
                let result = self.run(right);
                if self.error.settable {
                    self.error = ErrorSlot::default();
                }
                if result.is_ok() {
                    self.error.settable = true;
                }
                result
            }
            other => other,
        }
    }

    fn new_scope(&mut self, id: InstrId, variable: ValueId, body: InstrId) -> ExecResult<()> {
        let span = self.script.instr_span(id);
        let var = self.script.value(variable);
        match var {
            AirValue::Stream(name) => self.streams.scope_start(name, span),
            AirValue::Scalar(name, _) => self.scalars.new_start(name),
            AirValue::Canon(name, _) => self.canons.new_start(name),
            AirValue::StreamMap(name) => self.maps.scope_start(name, span),
            AirValue::CanonMap(name, _) => self.canon_maps.new_start(name),
            _ => return Err(unexpected_form("new over this kind of variable")),
        }
        let result = self.run(body);
        let closed = match var {
            AirValue::Stream(name) => self.streams.scope_end(name, &mut self.merger),
            AirValue::Scalar(name, _) => self.scalars.new_end(name, self.name(name)),
            AirValue::Canon(name, _) => self.canons.new_end(name, self.name(name)),
            AirValue::StreamMap(name) => self.maps.scope_end(name, &mut self.merger),
            AirValue::CanonMap(name, _) => self.canon_maps.new_end(name, self.name(name)),
            _ => Ok(()),
        };
        result.and(closed)
    }

    fn compare(
        &mut self,
        left: ValueId,
        right: ValueId,
        body: InstrId,
        want_equal: bool,
    ) -> ExecResult<()> {
        let left = join!(self, self.resolve(left));
        let right = join!(self, self.resolve(right));
        let equal = left.value == right.value;
        if equal != want_equal {
            return Err(if want_equal {
                Catchable::MatchValuesNotEqual
            } else {
                Catchable::MismatchValuesEqual
            }
            .into());
        }
        self.run(body)
    }

    fn fail(&mut self, id: InstrId, fail: Fail) -> ExecResult<()> {
        match fail {
            Fail::Literal { code, message } => {
                let code = match self.script.value(code) {
                    AirValue::Int(n) => n,
                    _ => 0,
                };
                let message = match self.script.value(message) {
                    AirValue::String(s) => self.name(s),
                    _ => "",
                };
                let object = error_object(
                    code,
                    message,
                    &text::instruction(self.script, id),
                    Some(&self.init_peer_id),
                );
                let tetraplet = self.literal_tetraplet();
                self.fail_with(Rc::new(object), Some(tetraplet), Provenance::Literal)
            }
            Fail::Value(value) => match self.script.value(value) {
                AirValue::LastError(_) => {
                    let slot = &self.last_error;
                    check_error_object(&slot.object)?;
                    let (object, tetraplet, provenance) = (
                        slot.object.clone(),
                        slot.tetraplet.clone(),
                        slot.provenance.clone(),
                    );
                    self.fail_with(object, tetraplet, provenance)
                }
                AirValue::Error(_) => {
                    let slot = &self.error;
                    check_error_object(&slot.object)?;
                    let (object, tetraplet, provenance, original) = (
                        slot.object.clone(),
                        slot.tetraplet.clone(),
                        slot.provenance.clone(),
                        slot.original.clone(),
                    );
                    let raised = self.fail_with(object, tetraplet, provenance);
                    let result = match original {
                        Some(original) => Err(original),
                        None => raised,
                    };
                    self.error.settable = false;
                    result
                }
                _ => {
                    let resolved = self.resolve(value)?;
                    check_error_object(&resolved.value)?;
                    let tetraplet = resolved.tetraplets.into_iter().next();
                    self.fail_with(resolved.value, tetraplet, resolved.provenance)
                }
            },
        }
    }

    fn fail_with(
        &mut self,
        object: Rc<Value>,
        tetraplet: Option<Rc<Tetraplet>>,
        provenance: Provenance,
    ) -> ExecResult<()> {
        self.last_error = ErrorSlot {
            object: object.clone(),
            tetraplet,
            provenance,
            original: None,
            settable: false,
        };
        self.complete = false;
        Err(Catchable::UserError((*object).clone()).into())
    }

    // ---- values ----

    fn scalar_ref(&self, name: Sym) -> ExecResult<ScalarRef<'_>> {
        Ok(match self.scalar_lookup(name)? {
            ScalarSource::Value(value) => ScalarRef::Value(value.get()?),
            ScalarSource::Fold(fold) => ScalarRef::Item(fold.current()),
        })
    }

    /// Where a scalar's value is, without reading it.
    fn scalar_lookup(&self, name: Sym) -> ExecResult<ScalarSource<'_>> {
        let text = self.name(name);
        match (self.scalars.get(name), self.iterables.get(&name)) {
            (Lookup::Found(value), _) => Ok(ScalarSource::Value(value)),
            (Lookup::Cleared, _) => {
                Err(Catchable::VariableWasNotInitializedAfterNew(text.to_string()).into())
            }
            (Lookup::Missing, Some(fold)) => Ok(ScalarSource::Fold(fold)),
            (Lookup::Missing, None) => Err(Catchable::VariableNotFound(text.to_string()).into()),
        }
    }

    fn canon_stream(&self, name: Sym) -> ExecResult<Rc<CanonStream>> {
        Ok(found(self.canons.get(name), self.name(name))?.clone())
    }

    fn constant(&self, value: Value) -> Resolved {
        Resolved {
            value: Rc::new(value),
            tetraplets: smallvec![self.literal_tetraplet()],
            provenance: Provenance::Literal,
        }
    }

    /// The value of an operand, with its tetraplets and provenance.
    fn resolve(&self, id: ValueId) -> ExecResult<Resolved> {
        match self.script.value(id) {
            AirValue::InitPeerId => Ok(self.constant(Value::from(&*self.init_peer_id))),
            AirValue::Timestamp => Ok(self.constant(Value::from(self.timestamp))),
            AirValue::Ttl => Ok(self.constant(Value::from(self.ttl))),
            AirValue::EmptyArray => Ok(self.constant(Value::Array(Vec::new()))),
            AirValue::Bool(b) => Ok(self.constant(Value::Bool(b))),
            AirValue::Int(n) => Ok(self.constant(Value::from(n))),
            AirValue::Float(f) => Ok(self.constant(Value::from(f))),
            AirValue::String(s) => Ok(self.constant(Value::from(self.name(s)))),
            AirValue::LastError(lens) => self.resolve_error(&self.last_error, lens),
            AirValue::Error(lens) => self.resolve_error(&self.error, lens),
            AirValue::Scalar(name, lens) => {
                let scalar = self.scalar_ref(name)?;
                let (value, tetraplet, provenance) = scalar.parts();
                match lens {
                    None => Ok(Resolved {
                        value,
                        tetraplets: smallvec![tetraplet],
                        provenance,
                    }),
                    Some(lens) => {
                        let selected = self.apply_lens(&value, lens)?;
                        let tetraplet = self.tetraplet_with_lens(&tetraplet, lens);
                        Ok(Resolved {
                            value: Rc::new(selected),
                            tetraplets: smallvec![tetraplet],
                            provenance,
                        })
                    }
                }
            }
            AirValue::Canon(name, lens) => {
                let canon = self.canon_stream(name)?;
                let root = Provenance::Canon {
                    cid: canon.cid.clone(),
                };
                match lens {
                    None => Ok(Resolved {
                        value: Rc::new(canon.to_json()),
                        tetraplets: canon.values.iter().map(|v| v.tetraplet.clone()).collect(),
                        provenance: root,
                    }),
                    Some(lens) => self.canon_lens(&canon, lens, root),
                }
            }
            AirValue::CanonMap(name, lens) => self.resolve_canon_map(name, lens),
            AirValue::Stream(_) | AirValue::StreamMap(_) => Err(Uncatchable::Trace {
                message: "a stream cannot be used as a value; canonicalize it first".into(),
                instruction: text::value(self.script, id),
            }
            .into()),
        }
    }

    fn resolve_error(
        &self,
        slot: &ErrorSlot,
        lens: Option<air::ast::LensId>,
    ) -> ExecResult<Resolved> {
        let value = match lens {
            Some(lens) => Rc::new(self.apply_lens(&slot.object, lens)?),
            None => slot.object.clone(),
        };
        let tetraplet = slot
            .tetraplet
            .clone()
            .unwrap_or_else(|| self.literal_tetraplet());
        Ok(Resolved {
            value,
            tetraplets: smallvec![tetraplet],
            provenance: slot.provenance.clone(),
        })
    }

    fn tetraplet_with_lens(&self, tetraplet: &Tetraplet, lens: air::ast::LensId) -> Rc<Tetraplet> {
        let lens_text = text::lens(self.script, lens);
        match self.script.lens(lens) {
            air::ast::Lens::Path { .. } => Rc::new(tetraplet.with_lens_suffix(lens_text)),
            air::ast::Lens::Length => Rc::new(Tetraplet {
                lens: lens_text.into(),
                ..Tetraplet::default()
            }),
        }
    }

    /// A lens on a canon stream: `.length`, or an element chosen by its first accessor.
    fn canon_lens(
        &self,
        canon: &CanonStream,
        lens: air::ast::LensId,
        root: Provenance,
    ) -> ExecResult<Resolved> {
        match self.script.lens(lens) {
            air::ast::Lens::Length => Ok(Resolved {
                value: Rc::new(Value::from(canon.values.len())),
                tetraplets: smallvec![Rc::new(Tetraplet {
                    peer_pk: Arc::from(&*self.current_peer_id),
                    service_id: text::lens(self.script, lens).into(),
                    ..Tetraplet::default()
                })],
                provenance: root,
            }),
            air::ast::Lens::Path { accessors, .. } => {
                let (idx, rest) = self.stream_index(accessors)?;
                let Some(element) = canon.values.get(idx) else {
                    return Err(errors::LensError::CanonStreamNotHaveEnoughValues {
                        stream_size: canon.values.len(),
                        idx,
                    }
                    .into());
                };
                let value = self.apply_accessors(&element.value, rest)?;
                Ok(Resolved {
                    value: Rc::new(value),
                    tetraplets: smallvec![element.tetraplet.clone()],
                    provenance: element.provenance.clone(),
                })
            }
        }
    }

    // ---- call ----

    /// A peer, service or function name of a triplet (shared, as tetraplets keep them: a
    /// literal's text is made once per run).
    fn resolve_string(&mut self, id: ValueId) -> ExecResult<Arc<str>> {
        let value = self.script.value(id);
        match value {
            AirValue::InitPeerId => return Ok(Arc::clone(&self.literal_tetraplet.peer_pk)),
            AirValue::String(s) => {
                let script = self.script;
                let text = self
                    .literal_texts
                    .entry(s)
                    .or_insert_with(|| Arc::from(script.str(s)));
                return Ok(Arc::clone(text));
            }
            _ => {}
        }
        // A plain scalar's value is all a triplet takes of it: not its tetraplet nor where it
        // came from.
        let resolved = match value {
            AirValue::Scalar(name, None) => Rc::clone(self.scalar_ref(name)?.value()),
            _ => self.resolve(id)?.value,
        };
        match &*resolved {
            Value::String(s) => Ok(match self.resolved_texts.get(s.as_str()) {
                Some(text) => Arc::clone(text),
                None => {
                    let text: Arc<str> = Arc::from(s.as_str());
                    self.resolved_texts.insert(Arc::clone(&text));
                    text
                }
            }),
            other => Err(Catchable::NonStringValueInTripletResolution {
                variable: value
                    .variable()
                    .map(|s| self.name(s))
                    .unwrap_or("")
                    .to_string(),
                actual: other.clone(),
            }
            .into()),
        }
    }

    fn call(&mut self, id: InstrId, call: Call) -> ExecResult<()> {
        let tetraplet = match self.call_triplet(id, call) {
            Ok(t) => t,
            Err(e) if e.is_joinable() => {
                self.complete = false;
                return Ok(());
            }
            Err(e) => {
                if e.is_catchable() {
                    self.set_errors(&e, id, None, true);
                }
                return Err(e);
            }
        };
        match self.call_with(id, call, &tetraplet) {
            Err(e) if e.is_joinable() => {
                self.complete = false;
                Ok(())
            }
            Err(e) => {
                if e.is_catchable() {
                    self.set_errors(&e, id, Some(tetraplet), true);
                }
                Err(e)
            }
            ok => ok,
        }
    }

    fn call_triplet(&mut self, id: InstrId, call: Call) -> ExecResult<Rc<Tetraplet>> {
        let tetraplet = match self.constant_triplets.get(&id) {
            Some(tetraplet) => Rc::clone(tetraplet),
            None => {
                let triplet = [
                    self.resolve_string(call.peer)?,
                    self.resolve_string(call.service)?,
                    self.resolve_string(call.function)?,
                ];
                // The texts are shared (literals and resolved texts live as long as the run),
                // so their addresses name them.
                let key = TripletKey(
                    id,
                    triplet
                        .each_ref()
                        .map(|text| Arc::as_ptr(text).cast::<u8>() as usize),
                );
                let constant = [call.peer, call.service, call.function]
                    .into_iter()
                    .all(|part| {
                        matches!(
                            self.script.value(part),
                            AirValue::String(_) | AirValue::InitPeerId
                        )
                    });
                let [peer_pk, service_id, function_name] = triplet;
                let make = || {
                    Rc::new(Tetraplet {
                        peer_pk,
                        service_id,
                        function_name,
                        lens: Arc::default(),
                    })
                };
                if constant {
                    let tetraplet = make();
                    self.constant_triplets.insert(id, Rc::clone(&tetraplet));
                    tetraplet
                } else {
                    Rc::clone(self.variable_triplets.entry(key).or_insert_with(make))
                }
            }
        };
        if let Some(output) = call.output {
            if let AirValue::Scalar(name, _) = self.script.value(output) {
                match self.scalars.get(name) {
                    Lookup::Found(_) if !self.scalars.could_be_set(name) => {
                        return Err(
                            Uncatchable::ShadowingIsNotAllowed(self.name(name).to_string()).into(),
                        )
                    }
                    Lookup::Missing if self.iterables.contains_key(&name) => {
                        return Err(
                            Uncatchable::IterableShadowing(self.name(name).to_string()).into()
                        )
                    }
                    _ => {}
                }
            }
        }
        Ok(tetraplet)
    }

    /// The resolved arguments of a call, shared with the variables they come from: only a call
    /// request for the host copies them.
    fn call_arguments(&self, call: Call) -> ExecResult<Vec<Resolved>> {
        call.args.iter().map(|arg| self.resolve(arg)).collect()
    }

    /// Checks that a call's arguments resolve, with the errors of [`Exec::call_arguments`], but
    /// only looks up the plain scalars: their values are read only when the call needs them.
    fn check_arguments(&self, call: Call) -> ExecResult<()> {
        for arg in call.args.iter() {
            match self.script.value(arg) {
                AirValue::Scalar(name, None) => {
                    self.scalar_lookup(name)?;
                }
                _ => {
                    self.resolve(arg)?;
                }
            }
        }
        Ok(())
    }

    /// The hash of a call's arguments, `None` while some are not there yet.
    fn argument_hash(
        &self,
        call: Call,
        arguments: &ExecResult<Arguments>,
    ) -> ExecResult<Option<ArgumentHash>> {
        Ok(match arguments {
            Err(_) => None,
            Ok(Arguments::Resolved(resolved)) => Some(ArgumentHash::of_parts(
                resolved
                    .iter()
                    .map(|argument| JsonPart::Value(&argument.value)),
            )),
            Ok(Arguments::Checked) => Some(self.unresolved_argument_hash(call)?),
        })
    }

    /// The hash of arguments that were only checked: a plain scalar's value is read where it
    /// is (a remote call's recorded result is checked at every replay, and this is most of
    /// them), and a fold's element still in its array's canonical text is hashed as that
    /// text, unparsed; any other argument is resolved.
    fn unresolved_argument_hash(&self, call: Call) -> ExecResult<ArgumentHash> {
        enum Part<'a> {
            Text(&'a str),
            Value(Rc<Value>),
        }
        let parts = call
            .args
            .iter()
            .map(|arg| match self.script.value(arg) {
                AirValue::Scalar(name, None) => match self.scalar_lookup(name)? {
                    ScalarSource::Fold(fold) => Ok(match fold.current_text() {
                        Some(text) => Part::Text(text),
                        None => Part::Value(Rc::clone(&fold.current().value)),
                    }),
                    ScalarSource::Value(value) => Ok(Part::Value(Rc::clone(&value.get()?.value))),
                },
                _ => Ok(Part::Value(self.resolve(arg)?.value)),
            })
            .collect::<ExecResult<SmallVec<[Part; 4]>>>()?;
        Ok(ArgumentHash::of_parts(parts.iter().map(
            |part| match part {
                Part::Text(text) => JsonPart::Text(text),
                Part::Value(value) => JsonPart::Value(value),
            },
        )))
    }

    fn call_with(&mut self, id: InstrId, call: Call, tetraplet: &Rc<Tetraplet>) -> ExecResult<()> {
        let is_local = *tetraplet.peer_pk == *self.current_peer_id;
        // Arguments that are not there yet do not stop a remote call or a recorded result;
        // a local call waits for them. A remote call only checks them: a value it passes on to
        // another peer is not read here (a result from the data or the host stays unparsed).
        let arguments = if is_local {
            self.call_arguments(call).map(Arguments::Resolved)
        } else {
            self.check_arguments(call).map(|()| Arguments::Checked)
        };
        let arguments = match arguments {
            Err(e) if !e.is_joinable() => return Err(e),
            other => other,
        };
        let met = self
            .merger
            .meet_call()
            .map_err(|e| self.trace_error(id, e))?;
        let mut kept_state = None;
        if let Some(met) = met {
            match met.result {
                CallResult::Failed(cid) => {
                    let info = cids::service_info(&self.cids, &cid)?;
                    if let Some(hash) = self.argument_hash(call, &arguments)? {
                        verify_call(
                            hash,
                            tetraplet,
                            &info.aggregate.argument_hash,
                            &info.tetraplet,
                        )?;
                    }
                    let value = cids::parsed(&info.value, &info.aggregate.value_cid)?;
                    let failed = CallServiceFailed::from_value(&value)
                        .map_err(|e| Uncatchable::MalformedCallServiceFailed(e.to_string()))?;
                    self.complete = false;
                    self.record_cid(&tetraplet.peer_pk, &cid);
                    self.merger
                        .push(ExecutedState::Call(CallResult::Failed(cid)));
                    return Err(
                        Catchable::LocalServiceError(failed.ret_code, failed.message).into(),
                    );
                }
                CallResult::RequestSentBy(Sender::PeerIdWithCallId { peer_id, call_id })
                    if *peer_id == *self.current_peer_id =>
                {
                    return match self.call_results.remove(&call_id) {
                        Some(answer) => {
                            let Some(hash) = self.argument_hash(call, &arguments)? else {
                                return Err(Uncatchable::CallResultNotCorrespondToInstr(format!(
                                    "a result for call {call_id} arrived but its arguments are not known yet"
                                ))
                                .into());
                            };
                            self.accept_answer(call, tetraplet, hash, answer)
                        }
                        None => {
                            self.complete = false;
                            self.merger
                                .push(ExecutedState::Call(CallResult::RequestSentBy(
                                    Sender::PeerIdWithCallId { peer_id, call_id },
                                )));
                            Ok(())
                        }
                    };
                }
                state @ CallResult::RequestSentBy(_) => {
                    if !is_local {
                        self.complete = false;
                        self.merger.push(ExecutedState::Call(state));
                        return Ok(());
                    }
                    kept_state = Some(state);
                }
                CallResult::Executed(value) => {
                    let Some(hash) = self.argument_hash(call, &arguments)? else {
                        return Err(Uncatchable::CallResultNotCorrespondToInstr(format!(
                            "{value:?} is recorded but the call's arguments are not known yet"
                        ))
                        .into());
                    };
                    self.populate_from_data(
                        call,
                        tetraplet,
                        hash,
                        &value,
                        met.trace_pos,
                        met.source,
                    )?;
                    if let ValueRef::Scalar(cid) | ValueRef::Stream { cid, .. } = &value {
                        self.record_cid(&tetraplet.peer_pk, cid);
                    }
                    self.merger
                        .push(ExecutedState::Call(CallResult::Executed(value)));
                    return Ok(());
                }
            }
        }
        if !is_local {
            self.next_peers.push(tetraplet.peer_pk.to_string());
            self.complete = false;
            self.merger
                .push(ExecutedState::Call(CallResult::RequestSentBy(
                    Sender::PeerId(self.current_peer_id.clone()),
                )));
            return Ok(());
        }
        let arguments = match arguments {
            Ok(Arguments::Resolved(args)) => args,
            Ok(Arguments::Checked) => self.call_arguments(call)?,
            Err(join) => {
                if let Some(state) = kept_state {
                    self.merger.push(ExecutedState::Call(state));
                }
                return Err(join);
            }
        };
        self.last_call_request_id += 1;
        let call_id = self.last_call_request_id;
        self.call_requests.insert(
            call_id,
            CallRequest {
                service_id: tetraplet.service_id.to_string(),
                function_name: tetraplet.function_name.to_string(),
                arguments: arguments.iter().map(|a| Value::clone(&a.value)).collect(),
                tetraplets: arguments
                    .iter()
                    .map(|a| a.tetraplets.iter().map(|t| Tetraplet::clone(t)).collect())
                    .collect(),
            },
        );
        self.complete = false;
        self.merger
            .push(ExecutedState::Call(CallResult::RequestSentBy(
                Sender::PeerIdWithCallId {
                    peer_id: self.current_peer_id.clone(),
                    call_id,
                },
            )));
        Ok(())
    }

    fn record_cid(&mut self, peer: &str, cid: &Cid) {
        self.signatures.register(peer, cid);
    }

    /// A service answered this peer's call request.
    fn accept_answer(
        &mut self,
        call: Call,
        tetraplet: &Rc<Tetraplet>,
        argument_hash: ArgumentHash,
        mut answer: CallServiceResult,
    ) -> ExecResult<()> {
        let argument_hash = argument_hash.to_shared();
        if answer.ret_code != 0 {
            let message: Rc<str> = Rc::from(answer.result.as_str());
            let cid = self.record_failure(tetraplet, argument_hash, answer.ret_code, &message);
            self.record_cid(&tetraplet.peer_pk, &cid);
            return Err(Catchable::LocalServiceError(answer.ret_code, message).into());
        }
        let output = call.output.map(|o| (o, self.script.value(o)));
        if let Some((output, AirValue::Scalar(..) | AirValue::Stream(_))) = output {
            let text = std::mem::take(&mut answer.result);
            match RawValue::from_canonical_text(text) {
                Err(text) => answer.result = text,
                // Canonical JSON that parses: stored as it is and parsed when first read.
                Ok(stored) => {
                    let trace_pos = self.merger.trace_pos();
                    let tetraplet_cid = self.tetraplet_cid(tetraplet);
                    let cid =
                        self.cids
                            .insert_service_result_raw(stored, tetraplet_cid, argument_hash);
                    let info = cids::service_info(&self.cids, &cid)?;
                    let recorded = LazyAggregate::Recorded(RecordedResult::new(
                        info,
                        tetraplet.clone(),
                        trace_pos,
                        cid.clone(),
                    ));
                    let state = self.set_call_output(output, recorded, cid.clone())?;
                    self.record_cid(&tetraplet.peer_pk, &cid);
                    self.merger
                        .push(ExecutedState::Call(CallResult::Executed(state)));
                    return Ok(());
                }
            }
        }
        let value: Value = match serde_json::from_str(&answer.result) {
            Ok(v) => v,
            Err(e) => {
                let message = format!(
                    "call_service result '{}' can't be serialized or deserialized with an error: {e}",
                    answer
                );
                let message: Rc<str> = Rc::from(message);
                // The reference leaves this failure out of the step's signature (it is signed
                // from the next step on, as a result met in the previous data).
                self.record_failure(tetraplet, argument_hash, i32::MAX, &message);
                return Err(Catchable::LocalServiceError(i32::MAX, message).into());
            }
        };
        let trace_pos = self.merger.trace_pos();
        let value = Rc::new(value);
        let state = match output {
            Some((output, AirValue::Scalar(..) | AirValue::Stream(_))) => {
                let (cid, aggregate) =
                    self.store_result(value, answer.result, tetraplet, argument_hash, trace_pos);
                let state = self.set_call_output(output, aggregate.into(), cid.clone())?;
                self.record_cid(&tetraplet.peer_pk, &cid);
                state
            }
            _ => ValueRef::Unused(data::value_cid(&value)),
        };
        self.merger
            .push(ExecutedState::Call(CallResult::Executed(state)));
        Ok(())
    }

    /// Puts a new call result (`cid` names its service result) into the call's output, a
    /// scalar or a stream, and returns what the call's state refers to.
    fn set_call_output(
        &mut self,
        output: ValueId,
        value: LazyAggregate,
        cid: Cid,
    ) -> ExecResult<ValueRef> {
        match self.script.value(output) {
            AirValue::Scalar(name, _) => {
                self.scalars.set(name, self.name(name), value)?;
                Ok(ValueRef::Scalar(cid))
            }
            AirValue::Stream(name) => {
                let position = self.script.value_span(output).start;
                self.streams.add(name, position, value, Generation::New)?;
                Ok(ValueRef::Stream { cid, generation: 0 })
            }
            _ => Err(unexpected_form("call output into this kind of variable")),
        }
    }

    /// Stores `tetraplet` and returns its CID, computed once per distinct tetraplet of a run:
    /// the results of a call in a fold, or the elements of a canon, mostly share one.
    fn tetraplet_cid(&mut self, tetraplet: &Rc<Tetraplet>) -> Cid {
        if let Some(cid) = self.tetraplet_cids.get(tetraplet) {
            return cid.clone();
        }
        let cid = self.cids.tetraplet_store.insert(Rc::clone(tetraplet));
        self.tetraplet_cids
            .insert(Rc::clone(tetraplet), cid.clone());
        cid
    }

    /// Stores a fresh call result, `value` parsed from the host's `text`, and makes the value
    /// of the call's output from it. The text is stored as it is when it is already the
    /// value's canonical text.
    fn store_result(
        &mut self,
        value: Rc<Value>,
        text: String,
        tetraplet: &Rc<Tetraplet>,
        argument_hash: SharedStr,
        trace_pos: u32,
    ) -> (Cid, ValueAggregate) {
        let tetraplet_cid = self.tetraplet_cid(tetraplet);
        let stored = RawValue::from_host_text(text, &value);
        let cid = self
            .cids
            .insert_service_result_raw(stored, tetraplet_cid, argument_hash);
        let aggregate =
            ValueAggregate::service_result(value, tetraplet.clone(), trace_pos, cid.clone());
        (cid, aggregate)
    }

    /// Stores a failed call's result and writes its state; returns the result's CID.
    fn record_failure(
        &mut self,
        tetraplet: &Rc<Tetraplet>,
        argument_hash: SharedStr,
        ret_code: i32,
        message: &Rc<str>,
    ) -> Cid {
        let failed = CallServiceFailed {
            ret_code,
            message: message.clone(),
        };
        let tetraplet_cid = self.tetraplet_cid(tetraplet);
        let cid =
            self.cids
                .insert_service_result_of(&failed.to_value(), tetraplet_cid, argument_hash);
        self.merger
            .push(ExecutedState::Call(CallResult::Failed(cid.clone())));
        cid
    }

    /// A recorded call result, checked against the call as it resolves now: a peer cannot
    /// pass off a result as that of a call with other arguments or another service.
    fn recorded_result(
        &self,
        cid: &Cid,
        tetraplet: &Rc<Tetraplet>,
        argument_hash: ArgumentHash,
    ) -> ExecResult<cids::ServiceInfo> {
        let info = cids::service_info(&self.cids, cid)?;
        verify_call(
            argument_hash,
            tetraplet,
            &info.aggregate.argument_hash,
            &info.tetraplet,
        )?;
        Ok(info)
    }

    /// A call result recorded in the data sets the call's output again.
    fn populate_from_data(
        &mut self,
        call: Call,
        tetraplet: &Rc<Tetraplet>,
        argument_hash: ArgumentHash,
        value: &ValueRef,
        trace_pos: u32,
        source: trace::Source,
    ) -> ExecResult<()> {
        let output = call.output.map(|o| (o, self.script.value(o)));
        match (output, value) {
            (Some((_, AirValue::Scalar(name, _))), ValueRef::Scalar(cid)) => {
                let info = self.recorded_result(cid, tetraplet, argument_hash)?;
                let recorded = RecordedResult::new(info, tetraplet.clone(), trace_pos, cid.clone());
                self.scalars
                    .set(name, self.name(name), LazyAggregate::Recorded(recorded))
            }
            (Some((output, AirValue::Stream(name))), ValueRef::Stream { cid, generation }) => {
                let info = self.recorded_result(cid, tetraplet, argument_hash)?;
                let recorded = RecordedResult::new(info, tetraplet.clone(), trace_pos, cid.clone());
                let position = self.script.value_span(output).start;
                self.streams.add(
                    name,
                    position,
                    LazyAggregate::Recorded(recorded),
                    Generation::Data(source, *generation),
                )
            }
            (None, ValueRef::Unused(_)) => Ok(()),
            (_, value) => {
                Err(Uncatchable::CallResultNotCorrespondToInstr(format!("{value:?}")).into())
            }
        }
    }

    // ---- ap ----

    fn ap(&mut self, id: InstrId, value: ValueId, target: ValueId) -> ExecResult<()> {
        let target_value = self.script.value(target);
        let to_stream = matches!(target_value, AirValue::Stream(_));
        let aggregate = join!(self, self.ap_value(value, to_stream));
        match target_value {
            AirValue::Scalar(name, _) => {
                self.scalars
                    .set(name, self.name(name), LazyAggregate::Ready(aggregate))
            }
            AirValue::Stream(name) => {
                let met = self.merger.meet_ap().map_err(|e| self.trace_error(id, e))?;
                let generation = match met {
                    Some(met) => Generation::Data(met.source, met.generation),
                    None => Generation::New,
                };
                let position = self.script.value_span(target).start;
                self.streams.add(name, position, aggregate, generation)?;
                self.merger.push_ap();
                Ok(())
            }
            _ => Err(unexpected_form("ap into this kind of variable")),
        }
    }

    /// The value `ap` puts into its target, positioned at the state it is about to write.
    fn ap_value(&self, id: ValueId, to_stream: bool) -> ExecResult<ValueAggregate> {
        let pos = self.merger.trace_pos();
        match self.script.value(id) {
            AirValue::Scalar(name, None) => {
                let mut aggregate = match self.scalar_ref(name)? {
                    ScalarRef::Value(v) => v.clone(),
                    ScalarRef::Item(item) => item.to_aggregate(),
                };
                if to_stream {
                    aggregate.trace_pos = pos;
                }
                Ok(aggregate)
            }
            AirValue::Canon(name, None) => {
                let canon = self.canon_stream(name)?;
                Ok(ValueAggregate::new(
                    Rc::new(canon.to_json()),
                    canon.tetraplet.clone(),
                    pos,
                    Provenance::Canon {
                        cid: canon.cid.clone(),
                    },
                ))
            }
            AirValue::InitPeerId
            | AirValue::Timestamp
            | AirValue::Ttl
            | AirValue::EmptyArray
            | AirValue::Bool(_)
            | AirValue::Int(_)
            | AirValue::Float(_)
            | AirValue::String(_) => {
                let resolved = self.resolve(id)?;
                Ok(ValueAggregate::literal(
                    resolved.value,
                    self.literal_tetraplet(),
                    pos,
                ))
            }
            _ => {
                let resolved = self.resolve(id)?;
                let tetraplet = resolved
                    .tetraplets
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| self.literal_tetraplet());
                Ok(ValueAggregate::new(
                    resolved.value,
                    tetraplet,
                    pos,
                    resolved.provenance,
                ))
            }
        }
    }

    // ---- canon ----

    fn canon(&mut self, id: InstrId, canon: Canon) -> ExecResult<()> {
        let met = self
            .merger
            .meet_canon()
            .map_err(|e| self.trace_error(id, e))?;
        match met {
            Some(CanonResult::Executed(cid)) => {
                let peer = self.resolve_string(canon.peer)?;
                let aggregate = cids::canon_result(&self.cids, &cid)?;
                let stored = cids::tetraplet(&self.cids, &aggregate.tetraplet)?;
                let expected = Tetraplet::peer_only(peer);
                if expected != *stored {
                    return Err(Uncatchable::InstructionParametersMismatch {
                        param: "canon tetraplet",
                        expected: format!("{expected:?}"),
                        stored: format!("{stored:?}"),
                    }
                    .into());
                }
                let values = aggregate
                    .values
                    .iter()
                    .map(|cid| cids::canon_element(&self.cids, cid))
                    .collect::<ExecResult<Vec<_>>>()?;
                self.record_cid(&stored.peer_pk, &cid);
                self.finish_canon(canon, values, stored, cid)
            }
            Some(state @ CanonResult::RequestSentBy(_)) => {
                let peer = self.resolve_string(canon.peer)?;
                if *peer != *self.current_peer_id {
                    self.complete = false;
                    self.merger.push(ExecutedState::Canon(state));
                    Ok(())
                } else {
                    self.canon_here(canon, peer)
                }
            }
            None => {
                let peer = join!(self, self.resolve_string(canon.peer));
                if *peer != *self.current_peer_id {
                    self.complete = false;
                    self.next_peers.push(peer.to_string());
                    self.merger
                        .push(ExecutedState::Canon(CanonResult::RequestSentBy(
                            self.current_peer_id.clone(),
                        )));
                    Ok(())
                } else {
                    self.canon_here(canon, peer)
                }
            }
        }
    }

    /// Freezes the stream or stream map on this peer; one that was never written is empty.
    fn canon_here(&mut self, canon: Canon, peer: Arc<str>) -> ExecResult<()> {
        let tetraplet = Rc::new(Tetraplet::peer_only(peer));
        let values = match (canon.form, self.script.value(canon.source)) {
            (CanonForm::Stream, AirValue::Stream(stream)) => {
                let position = self.script.value_span(canon.source).start;
                self.streams
                    .get(stream, position)
                    .map(streams::Stream::values)
                    .transpose()?
                    .unwrap_or_default()
            }
            (CanonForm::StreamMap, AirValue::StreamMap(map)) => {
                self.stream_map_entries(map, canon.source)?
            }
            (CanonForm::StreamMapToScalar, AirValue::StreamMap(map)) => {
                vec![self.first_values_element(map, canon.source, &tetraplet)?]
            }
            _ => return Err(unexpected_form("canon of this kind of variable")),
        };
        let element_cids = values
            .iter()
            .map(|v| {
                let tetraplet_cid = self.tetraplet_cid(&v.tetraplet);
                self.cids
                    .insert_canon_element_of(&v.value, tetraplet_cid, v.provenance.clone())
            })
            .collect();
        let cid = self
            .cids
            .insert_canon_result(tetraplet.clone(), element_cids);
        self.record_cid(&tetraplet.peer_pk, &cid);
        self.finish_canon(canon, values, tetraplet, cid)
    }

    /// Sets the canon's target from the frozen values and records the canon state.
    fn finish_canon(
        &mut self,
        canon: Canon,
        values: Vec<ValueAggregate>,
        tetraplet: Rc<Tetraplet>,
        cid: Cid,
    ) -> ExecResult<()> {
        let frozen = CanonStream {
            values,
            tetraplet,
            cid: cid.clone(),
        };
        match (canon.form, self.script.value(canon.target)) {
            (CanonForm::Stream, AirValue::Canon(target, _)) => {
                self.canons
                    .set(target, self.name(target), Rc::new(frozen))?
            }
            (CanonForm::StreamMap, AirValue::CanonMap(target, _)) => {
                let map = CanonMap::new(frozen)?;
                self.canon_maps
                    .set(target, self.name(target), Rc::new(map))?
            }
            (CanonForm::StreamMapToScalar, AirValue::Scalar(target, _)) => {
                self.set_first_values(target, frozen)?
            }
            _ => return Err(unexpected_form("canon into this kind of variable")),
        }
        self.merger
            .push(ExecutedState::Canon(CanonResult::Executed(cid)));
        Ok(())
    }

    // ---- fold ----

    fn fold(&mut self, id: InstrId, fold: Fold) -> ExecResult<()> {
        let AirValue::Scalar(iterator, _) = self.script.value(fold.iterator) else {
            return Err(unexpected_form("this fold iterator"));
        };
        match fold.form {
            FoldForm::Scalar => {
                let iterable = join!(self, self.scalar_iterable(fold.iterable));
                match iterable {
                    None => Ok(()),
                    Some(iterable) => self.fold_body(iterator, iterable, None, fold),
                }
            }
            FoldForm::Stream | FoldForm::StreamMap => self.fold_stream(id, iterator, fold),
        }
    }

    /// What a fold over a scalar, a canon stream or `[]` iterates; `None` when empty.
    fn scalar_iterable(&self, id: ValueId) -> ExecResult<Option<Iterable>> {
        match self.script.value(id) {
            AirValue::EmptyArray => Ok(None),
            AirValue::Scalar(name, None) => {
                let aggregate = match self.scalar_lookup(name)? {
                    ScalarSource::Value(value) => {
                        if let LazyAggregate::Recorded(recorded) = value {
                            if let Some(elements) = recorded.unparsed_elements(&self.array_elements)
                            {
                                return Ok((elements.len() > 0).then_some(elements));
                            }
                        }
                        value.get()?.clone()
                    }
                    ScalarSource::Fold(fold) => fold.current().to_aggregate(),
                };
                match &*aggregate.value {
                    Value::Array(a) if a.is_empty() => Ok(None),
                    Value::Array(_) => Ok(Some(self.folded_arrays.iterable(aggregate))),
                    other => Err(Catchable::FoldIteratesOverNonArray(
                        other.clone(),
                        self.name(name).to_string(),
                    )
                    .into()),
                }
            }
            AirValue::Scalar(name, Some(lens)) => {
                let (value, tetraplet, provenance) = self.scalar_ref(name)?.parts();
                let selected = self.apply_lens(&value, lens)?;
                let tetraplet = self.tetraplet_with_lens(&tetraplet, lens);
                match selected {
                    Value::Array(a) if a.is_empty() => Ok(None),
                    Value::Array(values) => Ok(Some(Iterable::LensResult {
                        values,
                        tetraplet,
                        provenance,
                        cursor: 0,
                    })),
                    other => Err(Catchable::FoldIteratesOverNonArray(
                        other,
                        text::lens(self.script, lens),
                    )
                    .into()),
                }
            }
            AirValue::Canon(name, None) => {
                let canon = self.canon_stream(name)?;
                Ok(values_iterable(&canon.values))
            }
            AirValue::CanonMap(name, None) => {
                let map = self.canon_map(name)?;
                Ok(values_iterable(map.values()))
            }
            AirValue::CanonMap(name, Some(lens)) => {
                // An empty map is not folded, whatever the lens would say.
                let map = self.canon_map(name)?;
                if map.values().is_empty() {
                    return Ok(None);
                }
                let resolved = self.canon_map_lens(&map, lens)?;
                let tetraplet = self.tetraplet_with_lens(&map.canon.tetraplet, lens);
                match Rc::unwrap_or_clone(resolved.value) {
                    Value::Array(a) if a.is_empty() => Ok(None),
                    Value::Array(values) => Ok(Some(Iterable::LensResult {
                        values,
                        tetraplet,
                        provenance: resolved.provenance,
                        cursor: 0,
                    })),
                    other => Err(Catchable::FoldIteratesOverNonArray(
                        other,
                        text::lens(self.script, lens),
                    )
                    .into()),
                }
            }
            _ => Err(unexpected_form("fold over this kind of value")),
        }
    }

    /// Runs the body of a fold with `iterator` bound to the first element.
    fn fold_body(
        &mut self,
        iterator: Sym,
        iterable: Iterable,
        stream_fold: Option<u32>,
        fold: Fold,
    ) -> ExecResult<()> {
        let state = FoldState {
            iterable,
            item: OnceCell::new(),
            stream_fold,
            back_iteration_started: false,
            body: fold.body,
            last: fold.last,
        };
        self.scalars.fold_start();
        self.canons.fold_start();
        self.canon_maps.fold_start();
        if self.iterables.insert(iterator, state).is_some() {
            return Err(
                Uncatchable::MultipleIterableValues(self.name(iterator).to_string()).into(),
            );
        }
        let result = self.run(fold.body);
        self.iterables.remove(&iterator);
        self.scalars.fold_end();
        self.canons.fold_end();
        self.canon_maps.fold_end();
        result
    }

    /// A fold over a stream or a stream map: iterations follow the generations as they grow.
    fn fold_stream(&mut self, id: InstrId, iterator: Sym, fold: Fold) -> ExecResult<()> {
        let (kind, stream) = match self.script.value(fold.iterable) {
            AirValue::Stream(name) => (StreamKind::Stream, name),
            AirValue::StreamMap(name) => (StreamKind::Map, name),
            _ => return Err(unexpected_form("fold over this kind of stream")),
        };
        let position = self.script.value_span(fold.iterable).start;
        if self.streams_of(kind).get(stream, position).is_none() {
            self.complete = false;
            return Ok(());
        }
        self.stream_folds += 1;
        let fold_id = self.stream_folds;
        self.merger
            .fold_start(fold_id)
            .map_err(|e| self.trace_error(id, e))?;
        let mut cursor = StreamCursor::default();
        let mut generations = {
            let s = self.stream_mut(kind, stream, position);
            let generations = s.generations_since(cursor)?;
            cursor = s.cursor();
            if !generations.is_empty() {
                s.open_generation();
            }
            generations
        };
        let mut any_complete = false;
        while !generations.is_empty() {
            for values in generations {
                if values.is_empty() {
                    continue;
                }
                let value_pos = values[0].trace_pos;
                self.merger
                    .iteration_start(fold_id, value_pos)
                    .map_err(|e| self.trace_error(id, e))?;
                let iterable = Iterable::Values { values, cursor: 0 };
                match self.fold_body(iterator, iterable, Some(fold_id), fold) {
                    Ok(()) => {}
                    Err(e) if e.is_catchable() => {}
                    Err(e) => return Err(e),
                }
                self.merger
                    .generation_end(fold_id)
                    .map_err(|e| self.trace_error(id, e))?;
                any_complete |= self.complete;
            }
            let s = self.stream_mut(kind, stream, position);
            generations = s.generations_since(cursor)?;
            s.drop_empty_last_generation();
            cursor = s.cursor();
            s.open_generation();
        }
        self.complete = any_complete;
        self.merger
            .fold_end(fold_id)
            .map_err(|e| self.trace_error(id, e))?;
        Ok(())
    }

    fn streams_of(&mut self, kind: StreamKind) -> &mut Streams {
        match kind {
            StreamKind::Stream => &mut self.streams,
            StreamKind::Map => &mut self.maps,
        }
    }

    fn stream_mut(&mut self, kind: StreamKind, name: Sym, position: u32) -> &mut streams::Stream {
        self.streams_of(kind)
            .get_mut(name, position)
            .expect("a stream being folded exists until the fold ends")
    }

    fn next(&mut self, id: InstrId, iterator: ValueId) -> ExecResult<()> {
        let AirValue::Scalar(name, _) = self.script.value(iterator) else {
            return Err(unexpected_form("this next iterator"));
        };
        let text = self.name(name);
        let not_found = || ExecError::from(Uncatchable::FoldStateNotFound(text.to_string()));
        let state = self.iterables.get_mut(&name).ok_or_else(not_found)?;
        let stream_fold = state.stream_fold;
        if let Some(fold_id) = stream_fold {
            self.merger
                .iteration_end(fold_id)
                .map_err(|e| self.trace_error(id, e))?;
        }
        let state = self.iterables.get_mut(&name).ok_or_else(not_found)?;
        if !state.advance() {
            if let Some(fold_id) = stream_fold {
                self.merger
                    .back_iterator(fold_id)
                    .map_err(|e| self.trace_error(id, e))?;
            }
            let state = self.iterables.get_mut(&name).ok_or_else(not_found)?;
            match state.last {
                Some(last) => {
                    self.complete = true;
                    self.run(last)?;
                }
                None => {
                    if !state.back_iteration_started && stream_fold.is_some() {
                        state.back_iteration_started = true;
                        self.complete = false;
                    }
                }
            }
            return Ok(());
        }
        let body = state.body;
        if let Some(fold_id) = stream_fold {
            let value_pos = state.current().trace_pos;
            self.merger
                .iteration_start(fold_id, value_pos)
                .map_err(|e| self.trace_error(id, e))?;
        }
        self.scalars.next_before();
        self.canons.next_before();
        self.canon_maps.next_before();
        let result = self.run(body);
        self.scalars.next_after();
        self.canons.next_after();
        self.canon_maps.next_after();
        result?;
        let state = self.iterables.get_mut(&name).ok_or_else(not_found)?;
        state.back();
        if let Some(fold_id) = stream_fold {
            self.merger
                .back_iterator(fold_id)
                .map_err(|e| self.trace_error(id, e))?;
        }
        Ok(())
    }
}

/// Streams and stream maps live apart but fold alike.
#[derive(Clone, Copy)]
enum StreamKind {
    Stream,
    Map,
}

/// A fold over frozen values (a canon stream or a canon map); `None` when there are none.
fn values_iterable(values: &[ValueAggregate]) -> Option<Iterable> {
    (!values.is_empty()).then(|| Iterable::Values {
        values: values.to_vec(),
        cursor: 0,
    })
}

/// Where a scalar is: a variable (whose value may not be read yet) or a fold's iterator.
enum ScalarSource<'a> {
    Value(&'a LazyAggregate),
    Fold(&'a FoldState),
}

/// A call's triplet of texts by their addresses (see [`Exec::call_triplet`]), hashed as four
/// integers: addresses of the run's own texts are not chosen by data.
#[derive(PartialEq, Eq)]
struct TripletKey(InstrId, [usize; 3]);

impl std::hash::Hash for TripletKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.0.index());
        for &address in &self.1 {
            state.write_usize(address);
        }
    }
}

/// A scalar as seen by an instruction: a variable's value or a fold's current element.
enum ScalarRef<'a> {
    Value(&'a ValueAggregate),
    Item(&'a IterItem),
}

impl ScalarRef<'_> {
    fn value(&self) -> &Rc<Value> {
        match self {
            ScalarRef::Value(v) => &v.value,
            ScalarRef::Item(item) => &item.value,
        }
    }

    fn parts(self) -> (Rc<Value>, Rc<Tetraplet>, Provenance) {
        match self {
            ScalarRef::Value(v) => (v.value.clone(), v.tetraplet.clone(), v.provenance.clone()),
            ScalarRef::Item(item) => (
                item.value.clone(),
                item.tetraplet.clone(),
                item.provenance.clone(),
            ),
        }
    }
}

fn verify_call(
    expected_hash: ArgumentHash,
    expected_tetraplet: &Tetraplet,
    stored_hash: &str,
    stored_tetraplet: &Tetraplet,
) -> ExecResult<()> {
    if !expected_hash.is(stored_hash) {
        return Err(Uncatchable::InstructionParametersMismatch {
            param: "call argument_hash",
            expected: expected_hash.to_shared().to_string(),
            stored: stored_hash.to_string(),
        }
        .into());
    }
    if expected_tetraplet != stored_tetraplet {
        return Err(Uncatchable::InstructionParametersMismatch {
            param: "call tetraplet",
            expected: format!("{expected_tetraplet:?}"),
            stored: format!("{stored_tetraplet:?}"),
        }
        .into());
    }
    Ok(())
}

fn check_error_object(value: &Value) -> ExecResult<()> {
    use errors::ErrorObjectError as E;
    let invalid = |e| ExecError::from(Catchable::InvalidErrorObject(e));
    let Value::Object(fields) = value else {
        return Err(invalid(E::ScalarMustBeObject(value.clone())));
    };
    let field = |name| {
        fields.get(name).ok_or_else(|| {
            invalid(E::ScalarMustContainField {
                scalar: value.clone(),
                field_name: name,
            })
        })
    };
    match field("error_code")? {
        Value::Number(n) if n.is_i64() || n.is_u64() => {
            if n.as_i64() == Some(0) {
                return Err(invalid(E::ErrorCodeMustBeNonZero));
            }
        }
        _ => {
            return Err(invalid(E::ScalarFieldIsWrongType {
                scalar: value.clone(),
                field_name: "error_code",
                expected_type: "integer",
            }))
        }
    }
    if !field("message")?.is_string() {
        return Err(invalid(E::ScalarFieldIsWrongType {
            scalar: value.clone(),
            field_name: "message",
            expected_type: "string",
        }));
    }
    Ok(())
}

/// A combination of forms that the AST can express but the parser never produces (such as `ap`
/// into a literal); reached only with a hand-built script, it aborts the run.
fn unexpected_form(what: &str) -> ExecError {
    Uncatchable::Trace {
        message: format!("{what} cannot occur in a parsed script"),
        instruction: String::new(),
    }
    .into()
}
