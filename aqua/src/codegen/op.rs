//! The instruction tree between inlining and AIR: AIR's instructions plus `On`, which the
//! topology pass turns into hops, and calls whose peer is "wherever the code runs".

use std::collections::HashSet;
use std::rc::Rc;

/// A step of a lens.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Field(Rc<str>),
    Index(u32),
    /// An element or field chosen by the value of a scalar variable.
    Var(Rc<str>),
}

/// How an AIR variable is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    Scalar,
    /// `$name`.
    Stream,
    /// `#name`.
    Canon,
    /// `%name`.
    Map,
    /// `#%name`.
    CanonMap,
}

/// An AIR variable; the name is without its sigil.
#[derive(Clone, Debug, PartialEq)]
pub struct Var {
    pub name: Rc<str>,
    pub kind: VarKind,
}

impl Var {
    pub fn scalar(name: impl Into<Rc<str>>) -> Var {
        Var {
            name: name.into(),
            kind: VarKind::Scalar,
        }
    }

    pub fn stream(name: impl Into<Rc<str>>) -> Var {
        Var {
            name: name.into(),
            kind: VarKind::Stream,
        }
    }

    pub fn canon(name: impl Into<Rc<str>>) -> Var {
        Var {
            name: name.into(),
            kind: VarKind::Canon,
        }
    }

    pub fn map(name: impl Into<Rc<str>>) -> Var {
        Var {
            name: name.into(),
            kind: VarKind::Map,
        }
    }

    pub fn canon_map(name: impl Into<Rc<str>>) -> Var {
        Var {
            name: name.into(),
            kind: VarKind::CanonMap,
        }
    }

    pub fn value(&self) -> Data {
        Data::Var(self.clone(), Vec::new())
    }
}

/// A data value as AIR writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Int(i64),
    Float(f64),
    Str(Rc<str>),
    Bool(bool),
    /// `[]`.
    EmptyArray,
    InitPeerId,
    Timestamp,
    Ttl,
    /// `:error:` with a lens.
    Error(Vec<Step>),
    Var(Var, Vec<Step>),
    /// `x.length` of a scalar or canon variable.
    Length(Var),
}

impl Data {
    pub fn is_stream(&self) -> bool {
        matches!(
            self,
            Data::Var(
                Var {
                    kind: VarKind::Stream,
                    ..
                },
                _
            )
        )
    }

    /// Whether the value is a stream or a stream map: folds over it follow it as it grows.
    pub fn grows(&self) -> bool {
        matches!(self, Data::Var(var, _) if matches!(var.kind, VarKind::Stream | VarKind::Map))
    }

    /// The value with one more lens step, if AIR can write it.
    pub fn with_step(&self, step: Step) -> Option<Data> {
        match self {
            Data::Var(var, steps)
                if matches!(
                    var.kind,
                    VarKind::Scalar | VarKind::Canon | VarKind::CanonMap
                ) =>
            {
                let mut steps = steps.clone();
                steps.push(step);
                Some(Data::Var(var.clone(), steps))
            }
            Data::Error(steps) => {
                let mut steps = steps.clone();
                steps.push(step);
                Some(Data::Error(steps))
            }
            _ => None,
        }
    }
}

/// An instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Seq(Vec<Op>),
    Par(Vec<Op>),
    Xor(Box<Op>, Box<Op>),
    New(Var, Box<Op>),
    /// `peer: None` runs where the enclosing code runs.
    Call {
        peer: Option<Data>,
        service: Data,
        function: Rc<str>,
        args: Vec<Data>,
        output: Option<Var>,
    },
    Canon {
        peer: Option<Data>,
        source: Var,
        target: Var,
    },
    Ap(Data, Var),
    ApMap {
        key: Data,
        value: Data,
        map: Var,
    },
    Fold {
        iterable: Data,
        iterator: Rc<str>,
        body: Box<Op>,
        last: Option<Box<Op>>,
    },
    Next(Rc<str>),
    Match {
        left: Data,
        right: Data,
        body: Box<Op>,
        /// `mismatch` instead of `match`.
        negated: bool,
    },
    Fail(Data),
    Never,
    Null,
    /// Runs `body` at `location`.
    On {
        location: Location,
        body: Box<Op>,
        kind: OnKind,
    },
}

/// A relay on the way to a peer: one peer, or a collection of peers passed in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Via {
    pub peer: Data,
    pub many: bool,
}

/// Where code runs: a peer and the relays that lead to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    pub peer: Data,
    pub via: Vec<Via>,
}

/// How an `On` block is left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnKind {
    /// A block of the program: errors inside it come back and fail here.
    Block,
    /// A `parseq` branch: it returns to its relays only.
    Parseq,
    /// A branch that nothing waits for (`(par X (null))`), such as a trace event: the
    /// particle does not come back from it, and its errors stay in it.
    Detached,
}

impl Op {
    /// A sequence, without the wrapper when there is only one step.
    pub fn seq(mut ops: Vec<Op>) -> Op {
        ops.retain(|op| *op != Op::Null);
        match ops.len() {
            0 => Op::Null,
            1 => ops.pop().expect("one op"),
            _ => Op::Seq(ops),
        }
    }

    /// Whether the op pins the particle to a peer (a call or canon somewhere inside).
    pub fn has_effect(&self) -> bool {
        crate::deep(|| self.has_effect_inner())
    }

    fn has_effect_inner(&self) -> bool {
        match self {
            Op::Call { .. } | Op::Canon { .. } => true,
            Op::Seq(ops) | Op::Par(ops) => ops.iter().any(Op::has_effect),
            Op::Xor(a, b) => a.has_effect() || b.has_effect(),
            Op::New(_, body) | Op::Match { body, .. } | Op::On { body, .. } => body.has_effect(),
            Op::Fold { body, last, .. } => {
                body.has_effect() || last.as_ref().is_some_and(|l| l.has_effect())
            }
            Op::Ap(..) | Op::ApMap { .. } | Op::Next(_) | Op::Fail(_) | Op::Never | Op::Null => {
                false
            }
        }
    }

    /// The op with `f` applied to each of its direct child ops.
    pub fn map_children(self, mut f: impl FnMut(Op) -> Op) -> Op {
        let mut boxed = |op: Box<Op>| Box::new(f(*op));
        match self {
            Op::Seq(ops) => Op::seq(ops.into_iter().map(&mut f).collect()),
            Op::Par(ops) => Op::Par(ops.into_iter().map(&mut f).collect()),
            Op::Xor(a, b) => {
                let a = boxed(a);
                Op::Xor(a, boxed(b))
            }
            Op::New(var, body) => Op::New(var, boxed(body)),
            Op::Match {
                left,
                right,
                body,
                negated,
            } => Op::Match {
                left,
                right,
                body: boxed(body),
                negated,
            },
            Op::On {
                location,
                body,
                kind,
            } => Op::On {
                location,
                body: boxed(body),
                kind,
            },
            Op::Fold {
                iterable,
                iterator,
                body,
                last,
            } => {
                let body = boxed(body);
                Op::Fold {
                    iterable,
                    iterator,
                    body,
                    last: last.map(boxed),
                }
            }
            leaf => leaf,
        }
    }

    /// Adds the names of the variables the op writes (outputs, `ap` targets, canon results).
    pub fn written(&self, names: &mut HashSet<Rc<str>>) {
        crate::deep(|| match self {
            Op::Call { output, .. } => names.extend(output.iter().map(|v| v.name.clone())),
            Op::Canon { target, .. } => {
                names.insert(target.name.clone());
            }
            Op::Ap(_, target) | Op::ApMap { map: target, .. } => {
                names.insert(target.name.clone());
            }
            Op::Seq(ops) | Op::Par(ops) => ops.iter().for_each(|op| op.written(names)),
            Op::Xor(a, b) => {
                a.written(names);
                b.written(names);
            }
            Op::New(_, body) | Op::Match { body, .. } | Op::On { body, .. } => body.written(names),
            Op::Fold { body, last, .. } => {
                body.written(names);
                last.iter().for_each(|l| l.written(names));
            }
            Op::Next(_) | Op::Fail(_) | Op::Never | Op::Null => {}
        })
    }

    /// Adds the names of the variables the op reads.
    pub fn read(&self, names: &mut HashSet<Rc<str>>) {
        crate::deep(|| match self {
            Op::Call {
                peer,
                service,
                args,
                ..
            } => {
                peer.iter().for_each(|p| p.read(names));
                service.read(names);
                args.iter().for_each(|a| a.read(names));
            }
            Op::Canon { peer, source, .. } => {
                peer.iter().for_each(|p| p.read(names));
                names.insert(source.name.clone());
            }
            Op::Ap(value, _) => value.read(names),
            Op::ApMap { key, value, .. } => {
                key.read(names);
                value.read(names);
            }
            Op::Seq(ops) | Op::Par(ops) => ops.iter().for_each(|op| op.read(names)),
            Op::Xor(a, b) => {
                a.read(names);
                b.read(names);
            }
            Op::New(_, body) => body.read(names),
            Op::Match {
                left, right, body, ..
            } => {
                left.read(names);
                right.read(names);
                body.read(names);
            }
            Op::On { location, body, .. } => {
                location.peer.read(names);
                location.via.iter().for_each(|via| via.peer.read(names));
                body.read(names);
            }
            Op::Fold {
                iterable,
                body,
                last,
                ..
            } => {
                iterable.read(names);
                body.read(names);
                last.iter().for_each(|l| l.read(names));
            }
            Op::Fail(value) => value.read(names),
            Op::Next(_) | Op::Never | Op::Null => {}
        })
    }
}

impl Data {
    /// Adds the names of the variables the value reads.
    fn read(&self, names: &mut HashSet<Rc<str>>) {
        let steps = match self {
            Data::Var(var, steps) => {
                names.insert(var.name.clone());
                steps.as_slice()
            }
            Data::Length(var) => {
                names.insert(var.name.clone());
                &[]
            }
            Data::Error(steps) => steps.as_slice(),
            _ => &[],
        };
        for step in steps {
            if let Step::Var(name) = step {
                names.insert(name.clone());
            }
        }
    }
}
