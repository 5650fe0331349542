//! Structural equality of scripts: same tree, same names and literals; spans, comments and arena
//! layout do not matter. This is the equality of the round-trip law `parse(print(s)) == s`.

use crate::ast::{Accessor, Fail, Instr, Lens, Script, Value, ValueId};

impl PartialEq for Script {
    fn eq(&self, other: &Script) -> bool {
        let mut stack = vec![(self.root(), other.root())];
        while let Some((a, b)) = stack.pop() {
            let (x, y) = (self.instr(a), other.instr(b));
            let values = |ids: &[(ValueId, ValueId)]| {
                ids.iter()
                    .all(|&(v, w)| value_eq(self, self.value(v), other, other.value(w)))
            };
            let same = match (x, y) {
                (Instr::Call(c), Instr::Call(d)) => {
                    c.args.len() == d.args.len()
                        && c.output.is_some() == d.output.is_some()
                        && values(&[
                            (c.peer, d.peer),
                            (c.service, d.service),
                            (c.function, d.function),
                        ])
                        && c.args
                            .iter()
                            .zip(d.args.iter())
                            .all(|(v, w)| values(&[(v, w)]))
                        && c.output.zip(d.output).is_none_or(|pair| values(&[pair]))
                }
                (Instr::Canon(c), Instr::Canon(d)) => {
                    c.form == d.form
                        && values(&[(c.peer, d.peer), (c.source, d.source), (c.target, d.target)])
                }
                (
                    Instr::Ap {
                        value: v1,
                        target: t1,
                    },
                    Instr::Ap {
                        value: v2,
                        target: t2,
                    },
                ) => values(&[(v1, v2), (t1, t2)]),
                (
                    Instr::ApMap {
                        key: k1,
                        value: v1,
                        map: m1,
                    },
                    Instr::ApMap {
                        key: k2,
                        value: v2,
                        map: m2,
                    },
                ) => values(&[(k1, k2), (v1, v2), (m1, m2)]),
                (Instr::New { variable: v1, .. }, Instr::New { variable: v2, .. }) => {
                    values(&[(v1, v2)])
                }
                (Instr::Fold(f), Instr::Fold(g)) => {
                    f.form == g.form
                        && f.last.is_some() == g.last.is_some()
                        && values(&[(f.iterable, g.iterable), (f.iterator, g.iterator)])
                }
                (Instr::Next(v), Instr::Next(w)) => values(&[(v, w)]),
                (
                    Instr::Match {
                        left: l1,
                        right: r1,
                        ..
                    },
                    Instr::Match {
                        left: l2,
                        right: r2,
                        ..
                    },
                )
                | (
                    Instr::Mismatch {
                        left: l1,
                        right: r1,
                        ..
                    },
                    Instr::Mismatch {
                        left: l2,
                        right: r2,
                        ..
                    },
                ) => values(&[(l1, l2), (r1, r2)]),
                (Instr::Fail(Fail::Value(v)), Instr::Fail(Fail::Value(w))) => values(&[(v, w)]),
                (
                    Instr::Fail(Fail::Literal {
                        code: c1,
                        message: m1,
                    }),
                    Instr::Fail(Fail::Literal {
                        code: c2,
                        message: m2,
                    }),
                ) => values(&[(c1, c2), (m1, m2)]),
                (Instr::Seq(..), Instr::Seq(..))
                | (Instr::Par(..), Instr::Par(..))
                | (Instr::Xor(..), Instr::Xor(..))
                | (Instr::Never, Instr::Never)
                | (Instr::Null, Instr::Null)
                | (Instr::Error, Instr::Error) => true,
                _ => false,
            };
            if !same {
                return false;
            }
            let (mut cx, mut cy) = (x.children(), y.children());
            loop {
                match (cx.next(), cy.next()) {
                    (Some(a), Some(b)) => stack.push((a, b)),
                    (None, None) => break,
                    _ => return false,
                }
            }
        }
        true
    }
}

fn value_eq(s: &Script, v: Value, t: &Script, w: Value) -> bool {
    let lens_eq = |a: Option<crate::ast::LensId>, b: Option<crate::ast::LensId>| match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => match (s.lens(a), t.lens(b)) {
            (Lens::Length, Lens::Length) => true,
            (
                Lens::Path {
                    accessors: a,
                    flatten: fa,
                },
                Lens::Path {
                    accessors: b,
                    flatten: fb,
                },
            ) => {
                fa == fb
                    && a.len() == b.len()
                    && a.iter().zip(b).all(|pair| match pair {
                        (Accessor::Field(x), Accessor::Field(y))
                        | (Accessor::Var(x), Accessor::Var(y)) => s.str(*x) == t.str(*y),
                        (Accessor::Index(x), Accessor::Index(y)) => x == y,
                        _ => false,
                    })
            }
            _ => false,
        },
        _ => false,
    };
    let sym_eq = |a, b| s.str(a) == t.str(b);
    match (v, w) {
        (Value::InitPeerId, Value::InitPeerId)
        | (Value::Timestamp, Value::Timestamp)
        | (Value::Ttl, Value::Ttl)
        | (Value::EmptyArray, Value::EmptyArray) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Int(a), Value::Int(b)) => a == b,
        (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
        (Value::String(a), Value::String(b))
        | (Value::Stream(a), Value::Stream(b))
        | (Value::StreamMap(a), Value::StreamMap(b)) => sym_eq(a, b),
        (Value::LastError(a), Value::LastError(b)) | (Value::Error(a), Value::Error(b)) => {
            lens_eq(a, b)
        }
        (Value::Scalar(a, la), Value::Scalar(b, lb))
        | (Value::Canon(a, la), Value::Canon(b, lb))
        | (Value::CanonMap(a, la), Value::CanonMap(b, lb)) => sym_eq(a, b) && lens_eq(la, lb),
        _ => false,
    }
}
