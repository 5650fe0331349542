//! Static checks on a parsed script, with the rules of the reference AquaVM:
//!
//! - variables are defined before they are used (textually: a definition anywhere earlier in
//!   the script counts, as in the reference), [`ErrorCode::UndefinedVariable`];
//! - `next` is inside a fold over its iterator, at most once per fold
//!   ([`ErrorCode::NextOutsideFold`], [`ErrorCode::MultipleNext`]);
//! - iterators are not redefined by `new` or by a nested fold ([`ErrorCode::NewOnIterator`],
//!   [`ErrorCode::IteratorShadowing`]);
//! - nothing runs after `next` in a fold over a stream or stream map
//!   ([`ErrorCode::InstructionAfterNext`]).
//!
//! Rules that concern single tokens (float length, `fail` with code 0) are checked by the parser.
//! Where the reference does not check a use (the peer of `canon`, the value of
//! `(ap (key value) %map)`, the operand of `fail`), an undefined variable is a warning,
//! [`ErrorCode::UnresolvedJoin`]: AquaVM accepts the script, but that instruction never runs.

use std::collections::{HashMap, HashSet};

use crate::ast::{
    Accessor, Fail, FoldForm, Instr, InstrId, Lens, LensId, Script, Span, Sym, ValueId,
};
use crate::diagnostic::{Diagnostic, ErrorCode};

/// Checks a script; returns the problems found, in source order.
///
/// On a script with parse errors ([`Instr::Error`] nodes), undefined-variable errors are not
/// reported, since a broken instruction may be the missing definition.
pub fn validate(script: &Script) -> Vec<Diagnostic> {
    let track_tails = script.has_stream_folds();
    let mut validator = Validator {
        script,
        uses: Vec::new(),
        definitions: vec![None; script.n_strings()],
        open_folds: Vec::new(),
        tails: if track_tails {
            Vec::with_capacity(32)
        } else {
            Vec::new()
        },
        pending_after_next: HashMap::new(),
        after_next_disabled: false,
        reported_after_next: HashSet::new(),
        track_tails,
        has_errors: false,
        diagnostics: Vec::new(),
    };
    validator.run();
    let mut diagnostics = validator.diagnostics;
    diagnostics.sort_by_key(|d| (d.primary.span.start, d.primary.span.end));
    diagnostics
}

struct OpenFold {
    iterator: Sym,
    span: Span,
    iterator_span: Span,
    n_next: u32,
}

// What an instruction ends with, for the after-`next` rule: a `next` on some iterator, or
// anything else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    Next(Sym),
    Other,
}

// A step of the traversal: enter an instruction, or leave a compound one after its children.
// Packed into 32 bits (the top one says which), as the stack grows with the script's depth.
#[derive(Clone, Copy)]
struct Step(u32);

impl Step {
    const EXIT: u32 = 1 << 31;

    fn enter(id: InstrId) -> Step {
        let index = u32::try_from(id.index()).expect("an arena index fits 32 bits");
        assert!(index < Self::EXIT, "fewer than 2^31 instructions");
        Step(index)
    }

    fn exit(id: InstrId) -> Step {
        Step(Step::enter(id).0 | Self::EXIT)
    }

    fn id(self) -> InstrId {
        InstrId::from_index((self.0 & !Self::EXIT) as usize)
    }

    fn is_exit(self) -> bool {
        self.0 & Self::EXIT != 0
    }
}

// Whether the reference validator checks a use: an undefined variable there is an error, else a
// warning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checked {
    Yes,
    No,
}

struct Validator<'s> {
    script: &'s Script,
    // Uses of undefined variables, reported at the end when no parse error was found, with
    // whether AquaVM checks that use (an error) or not (a warning).
    uses: Vec<(Sym, ValueId, Checked)>,
    // The first definition of every variable, indexed by `Sym::index`: during the walk, the
    // variables defined so far; at the end, also the definitions after an undefined use.
    definitions: Vec<Option<ValueId>>,
    // The after-`next` rule needs a summary of every instruction; it is computed only for
    // scripts with stream folds, the only ones it can reject.
    track_tails: bool,
    open_folds: Vec<OpenFold>,
    tails: Vec<Tail>,
    // Iterator -> the `seq`/`par` whose left branch ends with its `next` but whose right branch
    // does not, with the span of that right branch.
    pending_after_next: HashMap<Sym, (Span, Span)>,
    after_next_disabled: bool,
    reported_after_next: HashSet<Span>,
    has_errors: bool,
    diagnostics: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn run(&mut self) {
        let script = self.script;
        let mut steps = Vec::with_capacity(16);
        steps.push(Step::enter(script.root()));
        while let Some(step) = steps.pop() {
            let id = step.id();
            let instr = script.instr(id);
            if step.is_exit() {
                if matches!(instr, Instr::Fold(_)) {
                    self.open_folds.pop();
                }
                if self.track_tails {
                    self.exit(id, instr);
                }
                continue;
            }
            self.enter(id, instr);
            let mut children = instr.children();
            match children.next() {
                None => {
                    if self.track_tails {
                        let tail = match instr {
                            Instr::Next(iterator) => script
                                .value(iterator)
                                .variable()
                                .map_or(Tail::Other, Tail::Next),
                            _ => Tail::Other,
                        };
                        self.tails.push(tail);
                    }
                }
                Some(first) => {
                    // Leaving a compound instruction matters for the after-`next` summary and
                    // for fold scopes only.
                    if self.track_tails || matches!(instr, Instr::Fold(_)) {
                        steps.push(Step::exit(id));
                    }
                    steps.extend(children.rev().map(Step::enter));
                    steps.push(Step::enter(first));
                }
            }
        }
        if !self.has_errors {
            let uses = std::mem::take(&mut self.uses);
            for (name, id, checked) in uses {
                self.undefined(name, self.value_span(id), checked);
            }
        }
    }

    fn value_span(&self, id: ValueId) -> Span {
        self.script.value_span(id)
    }

    // Instructions in pre-order: uses first, then definitions, so that an instruction's own
    // definitions do not satisfy its uses.
    fn enter(&mut self, id: InstrId, instr: Instr) {
        let script = self.script;
        match instr {
            Instr::Call(call) => {
                for value in [call.peer, call.service, call.function]
                    .into_iter()
                    .chain(call.args.iter())
                {
                    self.use_value(value, Checked::Yes);
                }
                if let Some(output) = call.output {
                    self.define(output);
                }
            }
            Instr::Canon(canon) => {
                // The stream itself may be empty and undefined: canon is how a join ends.
                self.use_value(canon.peer, Checked::No);
                self.define(canon.target);
            }
            Instr::Ap { value, target } => {
                self.use_value(value, Checked::Yes);
                self.define(target);
            }
            Instr::ApMap { key, value, map } => {
                self.use_value(key, Checked::Yes);
                self.use_value(value, Checked::No);
                self.define(map);
            }
            Instr::Seq(..) | Instr::Par(..) | Instr::Xor(..) => {}
            Instr::New { variable, .. } => {
                let name = script.value(variable).variable();
                if let Some(fold) = name.and_then(|n| self.open_fold(n)) {
                    let fold_span = fold.span;
                    let name = name.expect("checked above");
                    self.diagnostics.push(
                        Diagnostic::new(
                            ErrorCode::NewOnIterator,
                            format!(
                                "`new` cannot redefine `{}`, the iterator of an enclosing fold",
                                script.str(name)
                            ),
                            self.value_span(variable),
                            "an iterator",
                        )
                        .with_secondary(fold_span, "the fold that defines it"),
                    );
                }
                self.define(variable);
            }
            Instr::Fold(fold) => {
                self.use_value(fold.iterable, Checked::Yes);
                let Some(iterator) = script.value(fold.iterator).variable() else {
                    return;
                };
                let iterator_span = self.value_span(fold.iterator);
                if let Some(outer) = self.open_fold(iterator) {
                    let outer_span = outer.iterator_span;
                    self.diagnostics.push(
                        Diagnostic::new(
                            ErrorCode::IteratorShadowing,
                            format!(
                                "iterator `{}` is already the iterator of an enclosing fold",
                                script.str(iterator)
                            ),
                            iterator_span,
                            "reused here",
                        )
                        .with_secondary(outer_span, "first defined here")
                        .with_hint("give the inner fold's iterator another name"),
                    );
                }
                self.define(fold.iterator);
                self.open_folds.push(OpenFold {
                    iterator,
                    span: script.instr_span(id),
                    iterator_span,
                    n_next: 0,
                });
            }
            Instr::Next(iterator) => {
                let Some(name) = script.value(iterator).variable() else {
                    return;
                };
                let next_span = script.instr_span(id);
                match self
                    .open_folds
                    .iter_mut()
                    .rev()
                    .find(|f| f.iterator == name)
                {
                    None => {
                        let mut diagnostic = Diagnostic::new(
                            ErrorCode::NextOutsideFold,
                            format!(
                                "`next {}` is not inside a fold over `{}`",
                                script.str(name),
                                script.str(name)
                            ),
                            next_span,
                            "no enclosing fold has this iterator",
                        );
                        if let Some(fold) = self.open_folds.last() {
                            diagnostic = diagnostic.with_secondary(
                                fold.iterator_span,
                                format!(
                                    "the innermost fold iterates with `{}`",
                                    script.str(fold.iterator)
                                ),
                            );
                        }
                        self.diagnostics.push(diagnostic);
                    }
                    Some(fold) => {
                        fold.n_next += 1;
                        if fold.n_next > 1 {
                            let fold_span = fold.span;
                            self.diagnostics.push(
                                Diagnostic::new(
                                    ErrorCode::MultipleNext,
                                    format!(
                                        "a second `next {}` in the same fold",
                                        script.str(name)
                                    ),
                                    next_span,
                                    "second `next`",
                                )
                                .with_secondary(fold_span, "in this fold"),
                            );
                        }
                    }
                }
            }
            Instr::Match { left, right, .. } | Instr::Mismatch { left, right, .. } => {
                self.use_value(left, Checked::Yes);
                self.use_value(right, Checked::Yes);
            }
            Instr::Fail(Fail::Value(value)) => self.use_value(value, Checked::No),
            Instr::Fail(Fail::Literal { .. }) | Instr::Never | Instr::Null => {}
            Instr::Error => self.has_errors = true,
        }
    }

    // Instructions in post-order: fold scopes close and the after-`next` summary is built.
    // A compound instruction after its children: its after-`next` summary.
    fn exit(&mut self, id: InstrId, instr: Instr) {
        let script = self.script;
        let span = script.instr_span(id);
        let tail = match instr {
            Instr::Seq(..) | Instr::Par(..) => {
                let right = self.tails.pop().unwrap_or(Tail::Other);
                let left = self.tails.pop().unwrap_or(Tail::Other);
                let right_span = instr
                    .children()
                    .nth(1)
                    .map_or(span, |r| script.instr_span(r));
                match (left, right) {
                    (Tail::Next(a), Tail::Next(b)) if a == b => Tail::Next(a),
                    (Tail::Next(a), _) => {
                        self.pending_after_next
                            .entry(a)
                            .or_insert((span, right_span));
                        Tail::Other
                    }
                    (_, right) => right,
                }
            }
            Instr::Xor(..) => {
                let right = self.tails.pop().unwrap_or(Tail::Other);
                let left = self.tails.pop().unwrap_or(Tail::Other);
                match (left, right) {
                    (Tail::Next(_), Tail::Next(_)) => {
                        // The reference stops this check for the rest of the script here.
                        self.after_next_disabled = true;
                        Tail::Other
                    }
                    (Tail::Next(a), _) | (_, Tail::Next(a)) => Tail::Next(a),
                    _ => Tail::Other,
                }
            }
            Instr::New { .. } | Instr::Match { .. } | Instr::Mismatch { .. } => {
                self.tails.pop().unwrap_or(Tail::Other)
            }
            Instr::Fold(fold) => {
                if fold.last.is_some() {
                    self.tails.pop();
                }
                let body = self.tails.pop().unwrap_or(Tail::Other);
                match (fold.form, script.value(fold.iterator).variable()) {
                    (FoldForm::Stream | FoldForm::StreamMap, Some(iterator)) => {
                        if let Some(&(_, after)) = self.pending_after_next.get(&iterator) {
                            self.after_next(iterator, after, span);
                        }
                        match body {
                            Tail::Next(name) if name == iterator => {
                                self.pending_after_next.remove(&iterator);
                                Tail::Other
                            }
                            other => other,
                        }
                    }
                    _ => Tail::Other,
                }
            }
            _ => Tail::Other,
        };
        self.tails.push(tail);
    }

    fn after_next(&mut self, iterator: Sym, after: Span, fold: Span) {
        if self.after_next_disabled || !self.reported_after_next.insert(after) {
            return;
        }
        let name = self.script.str(iterator);
        self.diagnostics.push(
            Diagnostic::new(
                ErrorCode::InstructionAfterNext,
                format!("an instruction runs after `(next {name})` in a fold over a stream"),
                after,
                format!("this runs after `(next {name})`"),
            )
            .with_secondary(fold, "in this stream fold")
            .with_hint(
                "make `next` the last instruction of its branch, e.g. `(seq body (next i))`",
            ),
        );
    }

    fn open_fold(&self, name: Sym) -> Option<&OpenFold> {
        self.open_folds.iter().rev().find(|f| f.iterator == name)
    }

    fn define(&mut self, id: ValueId) {
        if let (Some(name), _) = self.script.variable_and_lens(id) {
            self.definitions[name.index()].get_or_insert(id);
        }
    }

    // Inlined: it runs for most values, and its common case (a defined name or no name) is
    // a row read and a table lookup.
    #[inline(always)]
    fn use_value(&mut self, id: ValueId, checked: Checked) {
        let (name, lens) = self.script.variable_and_lens(id);
        if let Some(name) = name {
            if self.definitions[name.index()].is_none() {
                self.undefined_use(name, id, checked);
            }
        }
        if let Some(lens) = lens {
            self.use_lens(id, lens, checked);
        }
    }

    // Scalars named inside a lens (`x.$.[i]`) are uses too. Lenses of `%last_error%` and
    // `:error:` are not checked, as in the reference (`variable_and_lens` leaves them out).
    fn use_lens(&mut self, id: ValueId, lens: LensId, checked: Checked) {
        if let Lens::Path { accessors, .. } = self.script.lens(lens) {
            for accessor in accessors {
                if let Accessor::Var(name) = *accessor {
                    if self.definitions[name.index()].is_none() {
                        self.undefined_use(name, id, checked);
                    }
                }
            }
        }
    }

    // Reported at the end, when the definitions after the use are known too.
    #[cold]
    fn undefined_use(&mut self, name: Sym, id: ValueId, checked: Checked) {
        self.uses.push((name, id, checked));
    }

    fn undefined(&mut self, name: Sym, span: Span, checked: Checked) {
        let script = self.script;
        let text = script.str(name);
        let mut diagnostic = match checked {
            Checked::Yes => Diagnostic::new(
                ErrorCode::UndefinedVariable,
                format!("variable `{text}` is not defined before this use"),
                span,
                "used here",
            ),
            Checked::No => Diagnostic::new(
                ErrorCode::UnresolvedJoin,
                format!(
                    "variable `{text}` is not defined before this use, so this instruction waits for it forever"
                ),
                span,
                "used here",
            ),
        };
        match self.definitions[name.index()] {
            Some(defined_at) => {
                diagnostic = diagnostic
                    .with_secondary(self.value_span(defined_at), "defined only later, here")
                    .with_hint("a variable must be defined earlier in the script than its uses");
            }
            None => {
                let defined = self
                    .definitions
                    .iter()
                    .enumerate()
                    .filter(|(_, span)| span.is_some())
                    .filter_map(|(index, _)| script.sym_at(index));
                let closest = defined
                    .map(|candidate| {
                        (
                            strsim::damerau_levenshtein(text, script.str(candidate)),
                            candidate,
                        )
                    })
                    .filter(|&(distance, candidate)| {
                        distance <= 2 && distance < script.str(candidate).len()
                    })
                    .min_by_key(|&(distance, candidate)| (distance, script.str(candidate)));
                if let Some((_, candidate)) = closest {
                    diagnostic =
                        diagnostic.with_hint(format!("did you mean `{}`?", script.str(candidate)));
                } else {
                    diagnostic = diagnostic.with_hint(
                        "define it first: as a call's output, with `ap`, `canon` or `new`, or as a fold iterator",
                    );
                }
            }
        }
        self.diagnostics.push(diagnostic);
    }
}
