//! Writing the instruction tree as an AIR [`air::Script`].

use air::ast::{Accessor, Call, Canon, CanonForm, Fail, Fold, FoldForm};
use air::{Instr, InstrId, Script, Span, Value, ValueId};

use super::op::{Data, Op, Step, Var, VarKind};

/// The script of `op`, which must have no `On` left and every peer set.
pub fn script(op: &Op) -> Script {
    let mut script = Script::new();
    let root = instr(&mut script, op);
    script.set_root(root);
    script
}

fn var_name(var: &Var) -> String {
    match var.kind {
        VarKind::Scalar => var.name.to_string(),
        VarKind::Stream => format!("${}", var.name),
        VarKind::Canon => format!("#{}", var.name),
        VarKind::Map => format!("%{}", var.name),
        VarKind::CanonMap => format!("#%{}", var.name),
    }
}

fn lens(script: &mut Script, steps: &[Step]) -> Option<air::ast::LensId> {
    if steps.is_empty() {
        return None;
    }
    let accessors: Vec<Accessor> = steps
        .iter()
        .map(|s| match s {
            Step::Field(f) => Accessor::Field(script.intern(f)),
            Step::Index(i) => Accessor::Index(*i),
            Step::Var(v) => Accessor::Var(script.intern(v)),
        })
        .collect();
    Some(script.push_lens_path(&accessors, false))
}

fn air_value(script: &mut Script, data: &Data) -> Value {
    match data {
        Data::Int(i) => Value::Int(*i),
        Data::Float(f) => Value::Float(*f),
        Data::Str(s) => Value::String(script.intern(s)),
        Data::Bool(b) => Value::Bool(*b),
        Data::EmptyArray => Value::EmptyArray,
        Data::InitPeerId => Value::InitPeerId,
        Data::Timestamp => Value::Timestamp,
        Data::Ttl => Value::Ttl,
        Data::Error(steps) => Value::Error(lens(script, steps)),
        Data::Var(var, steps) => {
            let name = script.intern(&var_name(var));
            let lens = lens(script, steps);
            match var.kind {
                VarKind::Scalar => Value::Scalar(name, lens),
                VarKind::Canon => Value::Canon(name, lens),
                VarKind::Stream => Value::Stream(name),
                VarKind::Map => Value::StreamMap(name),
                VarKind::CanonMap => Value::CanonMap(name, lens),
            }
        }
        Data::Length(var) => {
            let name = script.intern(&var_name(var));
            let lens = Some(script.push_lens_length());
            match var.kind {
                VarKind::Canon => Value::Canon(name, lens),
                VarKind::CanonMap => Value::CanonMap(name, lens),
                _ => Value::Scalar(name, lens),
            }
        }
    }
}

fn value(script: &mut Script, data: &Data) -> ValueId {
    let v = air_value(script, data);
    script.push_value(v, Span::DUMMY)
}

fn var(script: &mut Script, v: &Var) -> ValueId {
    value(script, &v.value())
}

/// Binary instructions nest to the left, as the reference writes them.
fn chain(script: &mut Script, ops: &[Op], make: fn(InstrId, InstrId) -> Instr) -> InstrId {
    let mut acc = instr(script, &ops[0]);
    for op in &ops[1..] {
        let next = instr(script, op);
        acc = script.push_instr(make(acc, next), Span::DUMMY);
    }
    acc
}

fn peer(script: &mut Script, peer: &Option<Data>) -> ValueId {
    value(script, peer.as_ref().unwrap_or(&Data::InitPeerId))
}

fn instr(script: &mut Script, op: &Op) -> InstrId {
    crate::deep(|| instr_inner(script, op))
}

fn instr_inner(script: &mut Script, op: &Op) -> InstrId {
    let made = match op {
        Op::Seq(ops) if ops.is_empty() => Instr::Null,
        Op::Par(ops) if ops.is_empty() => Instr::Null,
        Op::Seq(ops) => return chain(script, ops, Instr::Seq),
        Op::Par(ops) => return chain(script, ops, Instr::Par),
        Op::Xor(a, b) => {
            let a = instr(script, a);
            let b = instr(script, b);
            Instr::Xor(a, b)
        }
        Op::New(v, body) => {
            let variable = var(script, v);
            let body = instr(script, body);
            Instr::New { variable, body }
        }
        Op::Call {
            peer: p,
            service,
            function,
            args,
            output,
        } => {
            let peer = peer(script, p);
            let service = value(script, service);
            let function = value(script, &Data::Str(function.clone()));
            let arg_values: Vec<(Value, Span)> = args
                .iter()
                .map(|a| (air_value(script, a), Span::DUMMY))
                .collect();
            let args = script.push_values(arg_values);
            let output = output.as_ref().map(|o| var(script, o));
            Instr::Call(Call {
                peer,
                service,
                function,
                args,
                output,
            })
        }
        Op::Canon {
            peer: p,
            source,
            target,
        } => {
            let form = match (source.kind, target.kind) {
                (VarKind::Map, VarKind::Scalar) => CanonForm::StreamMapToScalar,
                (VarKind::Map, _) => CanonForm::StreamMap,
                _ => CanonForm::Stream,
            };
            let peer = peer(script, p);
            let source = var(script, source);
            let target = var(script, target);
            Instr::Canon(Canon {
                form,
                peer,
                source,
                target,
            })
        }
        Op::Ap(data, target) => {
            let value = value(script, data);
            let target = var(script, target);
            Instr::Ap { value, target }
        }
        Op::ApMap { key, value: v, map } => {
            let key = value(script, key);
            let value = value(script, v);
            let map = var(script, map);
            Instr::ApMap { key, value, map }
        }
        Op::Fold {
            iterable,
            iterator,
            body,
            last,
        } => {
            let form = match iterable {
                Data::Var(
                    Var {
                        kind: VarKind::Stream,
                        ..
                    },
                    _,
                ) => FoldForm::Stream,
                Data::Var(
                    Var {
                        kind: VarKind::Map, ..
                    },
                    _,
                ) => FoldForm::StreamMap,
                _ => FoldForm::Scalar,
            };
            let iterable = value(script, iterable);
            let iterator = var(script, &Var::scalar(iterator.clone()));
            let body = instr(script, body);
            let last = last.as_ref().map(|l| instr(script, l));
            Instr::Fold(Fold {
                form,
                iterable,
                iterator,
                body,
                last,
            })
        }
        Op::Next(iterator) => Instr::Next(var(script, &Var::scalar(iterator.clone()))),
        Op::Match {
            left,
            right,
            body,
            negated,
        } => {
            let left = value(script, left);
            let right = value(script, right);
            let body = instr(script, body);
            if *negated {
                Instr::Mismatch { left, right, body }
            } else {
                Instr::Match { left, right, body }
            }
        }
        Op::Fail(data) => Instr::Fail(Fail::Value(value(script, data))),
        Op::Never => Instr::Never,
        Op::Null => Instr::Null,
        Op::On { body, .. } => return instr(script, body),
    };
    script.push_instr(made, Span::DUMMY)
}
