//! Merging the previous and the current trace while the script runs.
//!
//! A peer keeps the data of the last run (`prev`) and receives data from another peer
//! (`current`). Both are traces of the same script, possibly at different stages. The merger walks
//! both traces in step with the interpreter: each instruction that leaves a state takes the next
//! state of each trace, reconciles them, and the interpreter writes the result into the new trace.
//!
//! Traces are flat; their tree shape comes from `par` states (the lengths of the left and right
//! subtraces) and `fold` states (per iteration, the subtraces before and after `next`). Each
//! trace is read through a [`Window`]: a position and how many states remain in the subtrace being
//! executed. `par` and `fold` narrow the windows to the states of a branch or an iteration and
//! restore them when the branch or the fold ends, whatever the branch did (it may have stopped
//! early on an error caught by an outer `xor`).

use std::collections::HashMap;

use smallvec::smallvec;

use super::hashing::IntMap;

use crate::data::{
    ApResult, CallResult, CanonResult, ExecutedState, FoldResult, FoldSubTraceLore, ParResult,
    SubTraceDesc, ValueRef,
};

/// Why the traces cannot be merged; the run aborts with a trace error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError(pub String);

type MergeResult<T> = Result<T, MergeError>;

fn err<T>(message: impl Into<String>) -> MergeResult<T> {
    Err(MergeError(message.into()))
}

/// Which input trace a state came from; stream values keep their generation from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Previous,
    Current,
}

/// A view of one input trace: the next position and the states left in the current subtrace.
#[derive(Debug, Clone)]
struct Window {
    trace: Vec<ExecutedState>,
    pos: u32,
    remaining: u32,
}

impl Window {
    fn new(trace: Vec<ExecutedState>) -> Self {
        let remaining = trace.len() as u32;
        Window {
            trace,
            pos: 0,
            remaining,
        }
    }

    fn len(&self) -> u32 {
        self.trace.len() as u32
    }

    fn next_state(&mut self) -> Option<ExecutedState> {
        if self.remaining == 0 || self.pos >= self.len() {
            return None;
        }
        let state = self.trace[self.pos as usize].clone();
        self.pos += 1;
        self.remaining -= 1;
        Some(state)
    }

    fn set_position_and_len(&mut self, pos: u32, len: u32) -> MergeResult<()> {
        if len != 0 && pos.checked_add(len).is_none_or(|end| end > self.len()) {
            return err(format!(
                "subtrace of {len} states at position {pos} does not fit a trace of {} states",
                self.len()
            ));
        }
        self.pos = pos;
        self.remaining = len;
        Ok(())
    }

    fn set_len(&mut self, len: u32) -> MergeResult<()> {
        let rest = self.len().saturating_sub(self.pos);
        if rest < len {
            return err(format!(
                "subtrace of {len} states at position {} does not fit a trace of {} states",
                self.pos,
                self.len()
            ));
        }
        self.remaining = len;
        Ok(())
    }

    /// The generation recorded for the stream value at `pos`.
    fn generation_at(&self, pos: u32) -> MergeResult<u32> {
        match self.trace.get(pos as usize) {
            Some(ExecutedState::Call(CallResult::Executed(ValueRef::Stream {
                generation,
                ..
            }))) => Ok(*generation),
            Some(ExecutedState::Ap(ap)) if ap.res_generations.len() == 1 => {
                Ok(ap.res_generations[0])
            }
            Some(state) => err(format!(
                "fold refers to position {pos}, which holds {state:?}, not a stream value"
            )),
            None => err(format!(
                "fold refers to position {pos}, beyond the trace of {} states",
                self.len()
            )),
        }
    }
}

/// Where a window goes when a subgraph ends.
#[derive(Debug, Clone, Copy, Default)]
struct WindowState {
    pos: u32,
    len: u32,
}

impl WindowState {
    /// Restoring cannot fail in a meaningful way: the sizes only shrink and were checked when
    /// the `par` or `fold` started. A failure leaves the window as it is, as the reference does.
    fn restore(self, window: &mut Window) {
        let _ = window.set_position_and_len(self.pos, self.len);
    }
}

struct ParFrame {
    prev: ParResult,
    current: ParResult,
    /// Index of the placeholder state in the new trace.
    slot: usize,
    /// Length of the new trace when the current branch started.
    mark: usize,
    left_size: u32,
    after_left: [WindowState; 2],
    after_par: [WindowState; 2],
}

/// The iterations of a stream fold recorded in one trace, keyed by the position of their value.
#[derive(Debug, Default, Clone)]
struct ResolvedFold {
    /// Keyed by positions from the data, so with a seeded hash.
    lore: HashMap<u32, [SubTraceDesc; 2], foldhash::fast::RandomState>,
    states: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoreState {
    BeforeStarted,
    BeforeCompleted,
    AfterStarted,
    AfterCompleted,
}

/// Builds the lore of one iteration while it runs.
struct IterationRecord {
    value_pos: u32,
    before: (u32, u32),
    after: (u32, u32),
    state: LoreState,
    prev: Option<[SubTraceDesc; 2]>,
    current: Option<[SubTraceDesc; 2]>,
}

impl IterationRecord {
    fn advance(&mut self) {
        self.state = match self.state {
            LoreState::BeforeStarted => LoreState::BeforeCompleted,
            LoreState::BeforeCompleted => LoreState::AfterStarted,
            _ => LoreState::AfterCompleted,
        };
    }

    fn end_before(&mut self, at: u32) {
        self.before.1 = at;
        self.advance();
    }

    fn start_after(&mut self, at: u32) {
        self.after.0 = at;
        self.advance();
    }

    fn end_after(&mut self, at: u32) {
        self.after.1 = at;
        self.advance();
    }

    /// Closes whatever is still open: an iteration may end early (an error, a join).
    fn finish(&mut self, at: u32) {
        match self.state {
            LoreState::BeforeStarted => {
                self.end_before(at);
                self.start_after(at);
                self.end_after(at);
            }
            LoreState::BeforeCompleted => {
                self.start_after(at);
                self.end_after(at);
            }
            LoreState::AfterStarted => self.end_after(at),
            LoreState::AfterCompleted => {}
        }
    }

    fn into_lore(self) -> FoldSubTraceLore {
        FoldSubTraceLore {
            value_pos: self.value_pos,
            subtraces_desc: smallvec![
                SubTraceDesc {
                    begin_pos: self.before.0,
                    subtrace_len: self.before.1 - self.before.0,
                },
                SubTraceDesc {
                    begin_pos: self.after.0,
                    subtrace_len: self.after.1 - self.after.0,
                },
            ],
        }
    }
}

struct FoldFrame {
    prev: ResolvedFold,
    current: ResolvedFold,
    slot: usize,
    after_fold: [WindowState; 2],
    /// Iterations of the generation being executed, in order.
    iterations: Vec<IterationRecord>,
    /// How many iterations have not been walked back yet (`next` returns in reverse order).
    back_pos: usize,
    back_started: bool,
    lore: Vec<FoldSubTraceLore>,
}

impl FoldFrame {
    fn current_iteration(&mut self) -> MergeResult<&mut IterationRecord> {
        match self.back_pos.checked_sub(1) {
            Some(i) => Ok(&mut self.iterations[i]),
            None => err("fold iteration bookkeeping went out of range"),
        }
    }
}

/// A call's state found in the input traces.
pub struct MetCall {
    pub result: CallResult,
    /// Where the state goes in the new trace.
    pub trace_pos: u32,
    pub source: Source,
}

/// An `ap` state found in the input traces.
pub struct MetAp {
    pub generation: u32,
    pub source: Source,
}

/// The merger: two input windows, the new trace, and the bookkeeping of open `par`s and folds.
pub struct TraceMerger {
    windows: [Window; 2],
    new_trace: Vec<ExecutedState>,
    /// New trace position -> position in prev / current, for states taken from them
    /// ([`NOT_FROM_INPUT`] for the others): dense, as new positions are handed out in order.
    to_input: [Vec<u32>; 2],
    pars: Vec<ParFrame>,
    folds: IntMap<u32, FoldFrame>,
}

/// A new trace position whose state did not come from the input trace.
const NOT_FROM_INPUT: u32 = u32::MAX;

const PREV: usize = 0;
const CURRENT: usize = 1;

impl TraceMerger {
    pub fn new(prev: Vec<ExecutedState>, current: Vec<ExecutedState>) -> Self {
        // The new trace holds at least the longer input. A large one is sized up front: grown
        // by doubling, each copy would go to freshly mapped memory (above glibc's mmap threshold,
        // 128 KiB by default), faulted in page by page, and the freed ones handed back to the
        // kernel (`long_data`: 2,000 page faults a step). A small one grows in the heap.
        let longer = prev.len().max(current.len());
        let large = longer * std::mem::size_of::<ExecutedState>() >= 128 << 10;
        TraceMerger {
            new_trace: Vec::with_capacity(if large { longer } else { 0 }),
            to_input: [Vec::new(), Vec::new()],
            windows: [Window::new(prev), Window::new(current)],
            pars: Vec::new(),
            folds: IntMap::default(),
        }
    }

    /// Position of the next state of the new trace.
    pub fn trace_pos(&self) -> u32 {
        self.new_trace.len() as u32
    }

    pub fn into_new_trace(self) -> Vec<ExecutedState> {
        self.new_trace
    }

    fn next_states(&mut self) -> (Option<ExecutedState>, Option<ExecutedState>) {
        let prev = self.windows[PREV].next_state();
        let current = self.windows[CURRENT].next_state();
        (prev, current)
    }

    fn record_sources(&mut self, prev: bool, current: bool) {
        let new_pos = self.new_trace.len();
        for (input, taken) in [(PREV, prev), (CURRENT, current)] {
            if taken {
                let sources = &mut self.to_input[input];
                if sources.len() <= new_pos {
                    sources.resize(new_pos + 1, NOT_FROM_INPUT);
                }
                sources[new_pos] = self.windows[input].pos - 1;
            }
        }
    }

    /// The input position the state at `new_pos` of the new trace was taken from, if any.
    fn source(&self, input: usize, new_pos: u32) -> Option<u32> {
        let pos = *self.to_input[input].get(new_pos as usize)?;
        (pos != NOT_FROM_INPUT).then_some(pos)
    }

    /// Pushes a finished state.
    pub fn push(&mut self, state: ExecutedState) {
        self.new_trace.push(state);
    }

    /// Rewrites the generation of a stream value once generations are compacted.
    pub fn set_generation(&mut self, pos: u32, generation: u32) -> Result<(), String> {
        match self.new_trace.get_mut(pos as usize) {
            Some(ExecutedState::Ap(ap)) => {
                ap.res_generations = smallvec![generation];
                Ok(())
            }
            Some(ExecutedState::Call(CallResult::Executed(ValueRef::Stream {
                generation: g,
                ..
            }))) => {
                *g = generation;
                Ok(())
            }
            Some(state) => Err(format!(
                "trace position {pos} points to {state:?}, which is not a stream value"
            )),
            None => Err(format!("trace position {pos} points to nowhere")),
        }
    }

    /// The state of a `call`, if either trace has one.
    pub fn meet_call(&mut self) -> MergeResult<Option<MetCall>> {
        use CallResult::*;
        let (prev, current) = self.next_states();
        let (result, from_prev, from_current) = match (prev, current) {
            (None, None) => return Ok(None),
            (Some(ExecutedState::Call(p)), None) => (p, true, false),
            (None, Some(ExecutedState::Call(c))) => (c, false, true),
            (Some(ExecutedState::Call(p)), Some(ExecutedState::Call(c))) => match (p, c) {
                (p @ Failed(_), c @ Failed(_)) => {
                    if p != c {
                        return err(format!(
                            "failed call states differ: {p:?} in previous data, {c:?} in current"
                        ));
                    }
                    (p, true, false)
                }
                (RequestSentBy(_), c @ Failed(_)) => (c, false, true),
                (p @ Failed(_), RequestSentBy(_)) => (p, true, false),
                (p @ RequestSentBy(_), RequestSentBy(_)) => (p, true, false),
                (RequestSentBy(_), c @ Executed(_)) => (c, false, true),
                (p @ Executed(_), RequestSentBy(_)) => (p, true, false),
                (Executed(p), Executed(c)) => {
                    let same = match (&p, &c) {
                        (ValueRef::Stream { cid: a, .. }, ValueRef::Stream { cid: b, .. }) => {
                            a == b
                        }
                        (ValueRef::Scalar(_), ValueRef::Scalar(_))
                        | (ValueRef::Unused(_), ValueRef::Unused(_)) => p == c,
                        _ => false,
                    };
                    if !same {
                        return err(format!(
                            "call results differ: {p:?} in previous data, {c:?} in current"
                        ));
                    }
                    (Executed(p), true, true)
                }
                (p, c) => {
                    return err(format!(
                        "call states are incompatible: {p:?} in previous data, {c:?} in current"
                    ))
                }
            },
            (p, c) => return err(incompatible("call", p, c)),
        };
        let trace_pos = self.trace_pos();
        self.record_sources(from_prev, from_current);
        let source = if from_prev {
            Source::Previous
        } else {
            Source::Current
        };
        Ok(Some(MetCall {
            result,
            trace_pos,
            source,
        }))
    }

    /// The state of an `ap` into a stream, if either trace has one.
    pub fn meet_ap(&mut self) -> MergeResult<Option<MetAp>> {
        let (prev, current) = self.next_states();
        let (ap, from_prev, from_current) = match (prev, current) {
            (None, None) => return Ok(None),
            (Some(ExecutedState::Ap(p)), Some(ExecutedState::Ap(_))) => (p, true, true),
            (Some(ExecutedState::Ap(p)), None) => (p, true, false),
            (None, Some(ExecutedState::Ap(c))) => (c, false, true),
            (p, c) => return err(incompatible("ap", p, c)),
        };
        self.record_sources(from_prev, from_current);
        match ap.res_generations.as_slice() {
            [generation] => Ok(Some(MetAp {
                generation: *generation,
                source: if from_prev {
                    Source::Previous
                } else {
                    Source::Current
                },
            })),
            gens => err(format!(
                "ap state must have exactly one generation, it has {}",
                gens.len()
            )),
        }
    }

    pub fn push_ap(&mut self) {
        self.push(ExecutedState::Ap(ApResult {
            res_generations: smallvec![0],
        }));
    }

    /// The state of a `canon`, if either trace has one.
    pub fn meet_canon(&mut self) -> MergeResult<Option<CanonResult>> {
        let (prev, current) = self.next_states();
        match (prev, current) {
            (None, None) => Ok(None),
            (Some(ExecutedState::Canon(p)), None) => Ok(Some(p)),
            (None, Some(ExecutedState::Canon(c))) => Ok(Some(c)),
            (Some(ExecutedState::Canon(p)), Some(ExecutedState::Canon(c))) => match (&p, &c) {
                (CanonResult::Executed(a), CanonResult::Executed(b)) if a != b => err(format!(
                    "canon results differ: {p:?} in previous data, {c:?} in current"
                )),
                (CanonResult::RequestSentBy(_), CanonResult::Executed(_)) => Ok(Some(c)),
                _ => Ok(Some(p)),
            },
            (p, c) => err(incompatible("canon", p, c)),
        }
    }

    /// Starts a `par`: its left branch runs next.
    pub fn par_start(&mut self) -> MergeResult<()> {
        let (prev, current) = match self.next_states() {
            (None, None) => (None, None),
            (Some(ExecutedState::Par(p)), None) => (Some(p), None),
            (None, Some(ExecutedState::Par(c))) => (None, Some(c)),
            (Some(ExecutedState::Par(p)), Some(ExecutedState::Par(c))) => (Some(p), Some(c)),
            (p, c) => return err(incompatible("par", p, c)),
        };
        let prev = prev.unwrap_or_default();
        let current = current.unwrap_or_default();
        let slot = self.new_trace.len();
        self.push(ExecutedState::Par(ParResult::default()));
        let mut after_left = [WindowState::default(); 2];
        let mut after_par = [WindowState::default(); 2];
        for (i, par) in [prev, current].into_iter().enumerate() {
            let window = &self.windows[i];
            let left_end = window.pos.checked_add(par.left_size);
            let total = par.left_size.checked_add(par.right_size);
            let (Some(left_end), Some(total)) = (left_end, total) else {
                return err(format!("par {par:?} overflows the trace position"));
            };
            let Some(par_end) = window.pos.checked_add(total) else {
                return err(format!("par {par:?} overflows the trace position"));
            };
            let Some(rest) = window.remaining.checked_sub(total) else {
                return err(format!(
                    "par {par:?} is longer than the {} states left in its subtrace",
                    window.remaining
                ));
            };
            after_left[i] = WindowState {
                pos: left_end,
                len: par.left_size,
            };
            after_par[i] = WindowState {
                pos: par_end,
                len: rest,
            };
        }
        self.windows[PREV].set_len(prev.left_size)?;
        self.windows[CURRENT].set_len(current.left_size)?;
        self.pars.push(ParFrame {
            prev,
            current,
            slot,
            mark: self.new_trace.len(),
            left_size: 0,
            after_left,
            after_par,
        });
        Ok(())
    }

    /// The left branch of the innermost `par` ended; its right branch runs next.
    pub fn par_left_end(&mut self) -> MergeResult<()> {
        let len = self.new_trace.len();
        let Some(frame) = self.pars.last_mut() else {
            return err("par branch ended outside a par");
        };
        frame.left_size = (len - frame.mark) as u32;
        frame.mark = len;
        for (i, state) in frame.after_left.iter().enumerate() {
            state.restore(&mut self.windows[i]);
        }
        let _ = self.windows[PREV].set_len(frame.prev.right_size);
        let _ = self.windows[CURRENT].set_len(frame.current.right_size);
        Ok(())
    }

    /// The right branch of the innermost `par` ended: the `par` state gets its sizes.
    pub fn par_right_end(&mut self) -> MergeResult<()> {
        let Some(frame) = self.pars.pop() else {
            return err("par branch ended outside a par");
        };
        let right_size = (self.new_trace.len() - frame.mark) as u32;
        self.new_trace[frame.slot] = ExecutedState::Par(ParResult {
            left_size: frame.left_size,
            right_size,
        });
        for (i, state) in frame.after_par.iter().enumerate() {
            state.restore(&mut self.windows[i]);
        }
        Ok(())
    }

    fn resolve_fold(&self, fold: &FoldResult, which: usize) -> MergeResult<ResolvedFold> {
        let window = &self.windows[which];
        // A fold state records, per iteration, the states before and after `next`, not counting
        // the states of nested iterations. Within one generation the iterations nest, so the
        // window of iteration i spans the states of every later iteration of its generation.
        let mut lens: Vec<(u32, u32)> = Vec::with_capacity(fold.lore.len());
        let mut total: u32 = 0;
        let mut group_start = 0;
        let mut group_generation = None;
        let mut after_sum: u32 = 0;
        for (i, lore) in fold.lore.iter().enumerate() {
            let [before, after] = lore.subtraces_desc.as_slice() else {
                return err(format!(
                    "fold iteration must have 2 subtraces, it has {}",
                    lore.subtraces_desc.len()
                ));
            };
            let generation = window.generation_at(lore.value_pos)?;
            if group_generation != Some(generation) {
                if i > 0 {
                    close_group(&mut lens, group_start, i - 1);
                }
                group_generation = Some(generation);
                group_start = i;
                after_sum = 0;
            }
            total = total
                .checked_add(before.subtrace_len)
                .and_then(|t| t.checked_add(after.subtrace_len))
                .ok_or_else(|| MergeError(format!("fold {fold:?} overflows its length")))?;
            after_sum += after.subtrace_len;
            lens.push((before.subtrace_len, after_sum));
        }
        if !fold.lore.is_empty() {
            close_group(&mut lens, group_start, fold.lore.len() - 1);
        }
        let mut resolved = ResolvedFold {
            lore: HashMap::with_capacity_and_hasher(fold.lore.len(), Default::default()),
            states: total,
        };
        for (lore, (before_len, after_len)) in fold.lore.iter().zip(lens) {
            let descs = [
                SubTraceDesc {
                    begin_pos: lore.subtraces_desc[0].begin_pos,
                    subtrace_len: before_len,
                },
                SubTraceDesc {
                    begin_pos: lore.subtraces_desc[1].begin_pos,
                    subtrace_len: after_len,
                },
            ];
            if resolved.lore.insert(lore.value_pos, descs).is_some() {
                return err(format!(
                    "fold has several iterations for the value at position {}",
                    lore.value_pos
                ));
            }
        }
        Ok(resolved)
    }

    /// Starts a fold over a stream.
    pub fn fold_start(&mut self, fold_id: u32) -> MergeResult<()> {
        let (prev, current) = match self.next_states() {
            (None, None) => (None, None),
            (Some(ExecutedState::Fold(p)), None) => (Some(p), None),
            (None, Some(ExecutedState::Fold(c))) => (None, Some(c)),
            (Some(ExecutedState::Fold(p)), Some(ExecutedState::Fold(c))) => (Some(p), Some(c)),
            (p, c) => return err(incompatible("fold", p, c)),
        };
        let prev = match prev {
            Some(fold) => self.resolve_fold(&fold, PREV)?,
            None => ResolvedFold::default(),
        };
        let current = match current {
            Some(fold) => self.resolve_fold(&fold, CURRENT)?,
            None => ResolvedFold::default(),
        };
        let slot = self.new_trace.len();
        self.push(ExecutedState::Par(ParResult::default()));
        let mut after_fold = [WindowState::default(); 2];
        for (i, fold) in [&prev, &current].into_iter().enumerate() {
            let window = &self.windows[i];
            let pos = window.pos.checked_add(fold.states);
            let len = window.remaining.checked_sub(fold.states);
            let (Some(pos), Some(len)) = (pos, len) else {
                return err(format!(
                    "fold of {} states does not fit the {} states left in its subtrace",
                    fold.states, window.remaining
                ));
            };
            after_fold[i] = WindowState { pos, len };
        }
        self.folds.insert(
            fold_id,
            FoldFrame {
                prev,
                current,
                slot,
                after_fold,
                iterations: Vec::new(),
                back_pos: 0,
                back_started: false,
                lore: Vec::new(),
            },
        );
        Ok(())
    }

    fn fold(&mut self, fold_id: u32) -> MergeResult<&mut FoldFrame> {
        match self.folds.get_mut(&fold_id) {
            Some(frame) => Ok(frame),
            None => err(format!("fold {fold_id} is not being executed")),
        }
    }

    /// An iteration over the stream value at `value_pos` (a new-trace position) starts.
    pub fn iteration_start(&mut self, fold_id: u32, value_pos: u32) -> MergeResult<()> {
        let prev_pos = self.source(PREV, value_pos);
        let current_pos = self.source(CURRENT, value_pos);
        let start = self.trace_pos();
        let frame = self.folds.get_mut(&fold_id);
        let Some(frame) = frame else {
            return err(format!("fold {fold_id} is not being executed"));
        };
        let prev = prev_pos.and_then(|pos| frame.prev.lore.remove(&pos));
        let current = current_pos.and_then(|pos| frame.current.lore.remove(&pos));
        frame.iterations.push(IterationRecord {
            value_pos,
            before: (start, 0),
            after: (0, 0),
            state: LoreState::BeforeStarted,
            prev,
            current,
        });
        frame.back_pos += 1;
        self.apply_lore(prev, current, 0)
    }

    fn apply_lore(
        &mut self,
        prev: Option<[SubTraceDesc; 2]>,
        current: Option<[SubTraceDesc; 2]>,
        part: usize,
    ) -> MergeResult<()> {
        for (i, lore) in [prev, current].into_iter().enumerate() {
            match lore {
                Some(descs) => self.windows[i]
                    .set_position_and_len(descs[part].begin_pos, descs[part].subtrace_len)?,
                None => self.windows[i].set_len(0)?,
            }
        }
        Ok(())
    }

    /// `next` is reached in the current iteration.
    pub fn iteration_end(&mut self, fold_id: u32) -> MergeResult<()> {
        let at = self.trace_pos();
        self.fold(fold_id)?.current_iteration()?.end_before(at);
        Ok(())
    }

    /// Control returns from `next` into the part of an iteration after it.
    pub fn back_iterator(&mut self, fold_id: u32) -> MergeResult<()> {
        let at = self.trace_pos();
        let frame = self.fold(fold_id)?;
        let (prev, current) = if !frame.back_started {
            let record = frame.current_iteration()?;
            if record.state == LoreState::BeforeStarted {
                record.end_before(at);
            }
            record.start_after(at);
            let lore = (record.prev, record.current);
            frame.back_started = true;
            lore
        } else {
            frame.current_iteration()?.end_after(at);
            frame.back_pos -= 1;
            let record = frame.current_iteration()?;
            record.start_after(at);
            (record.prev, record.current)
        };
        self.apply_lore(prev, current, 1)
    }

    /// All iterations of one generation are done.
    pub fn generation_end(&mut self, fold_id: u32) -> MergeResult<()> {
        let at = self.trace_pos();
        let frame = self.fold(fold_id)?;
        for record in &mut frame.iterations {
            record.finish(at);
        }
        frame.back_pos = 0;
        frame.back_started = false;
        let lore = frame.iterations.drain(..).map(IterationRecord::into_lore);
        frame.lore.extend(lore);
        Ok(())
    }

    /// The fold ends: its state is written and the windows move past its states.
    pub fn fold_end(&mut self, fold_id: u32) -> MergeResult<()> {
        let Some(frame) = self.folds.remove(&fold_id) else {
            return err(format!("fold {fold_id} is not being executed"));
        };
        self.new_trace[frame.slot] = ExecutedState::Fold(FoldResult { lore: frame.lore });
        for (i, state) in frame.after_fold.iter().enumerate() {
            state.restore(&mut self.windows[i]);
        }
        Ok(())
    }
}

/// Within one generation, iteration i's window before `next` spans its own states, the states
/// of all later iterations and the after-parts that close them.
fn close_group(lens: &mut [(u32, u32)], start: usize, end: usize) {
    let tail_after = lens[end].1;
    let mut cumulative = 0;
    for i in (start..=end).rev() {
        cumulative += lens[i].0;
        lens[i].0 = cumulative + tail_after;
    }
}

/// The reference's message for states that do not fit the instruction (or each other).
fn incompatible(
    expected: &str,
    prev: Option<ExecutedState>,
    current: Option<ExecutedState>,
) -> String {
    match (prev, current) {
        (Some(prev), Some(current)) => {
            format!("previous and current data have incompatible states: '{prev:?}' '{current:?}'")
        }
        (Some(state), None) => {
            format!("state from previous `{state:?}` is incompatible with expected {expected}")
        }
        (None, Some(state)) => {
            format!("state from current `{state:?}` is incompatible with expected {expected}")
        }
        (None, None) => format!("expected {expected} state, found none"),
    }
}
