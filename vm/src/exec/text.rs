//! Instructions and values as the reference prints them in error objects.
//!
//! `%last_error%.$.instruction` and `:error:.$.instruction` hold the text of the failing
//! instruction, and lenses appear in tetraplets; scripts can compare them, so this follows the
//! reference's compact one-line form (no parentheses, `call p (s f) [args] out`), which differs
//! from the canonical printer of the `air` crate.

use std::fmt::Write;

use air::ast::{Accessor, Fail, Instr, Lens, LensId};
use air::{InstrId, Script, Value, ValueId};

pub fn lens(script: &Script, id: LensId) -> String {
    match script.lens(id) {
        Lens::Length => ".length".to_string(),
        Lens::Path {
            accessors: path, ..
        } => format!(".${}", accessors(script, path)),
    }
}

/// Accessors as a lens path prints them, each after a dot: `.a.[0].[i]`.
pub fn accessors(script: &Script, path: &[Accessor]) -> String {
    let mut out = String::new();
    for accessor in path {
        out.push('.');
        match *accessor {
            Accessor::Field(name) => out.push_str(script.str(name)),
            Accessor::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
            Accessor::Var(name) => {
                let _ = write!(out, "[{}]", script.str(name));
            }
        }
    }
    out
}

pub fn value(script: &Script, id: ValueId) -> String {
    let v = script.value(id);
    let mut out = match v {
        Value::InitPeerId => "%init_peer_id%".to_string(),
        Value::Timestamp => "%timestamp%".to_string(),
        Value::Ttl => "%ttl%".to_string(),
        Value::EmptyArray => "[]".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => format!("\"{}\"", script.str(s)),
        Value::LastError(_) => "%last_error%".to_string(),
        Value::Error(_) => ":error:".to_string(),
        Value::Scalar(name, _)
        | Value::Stream(name)
        | Value::StreamMap(name)
        | Value::Canon(name, _)
        | Value::CanonMap(name, _) => script.str(name).to_string(),
    };
    if let Some(l) = v.lens() {
        out.push_str(&lens(script, l));
    }
    out
}

pub fn instruction(script: &Script, id: InstrId) -> String {
    let v = |id| value(script, id);
    match script.instr(id) {
        Instr::Call(call) => {
            let args: Vec<String> = call.args.iter().map(v).collect();
            let output = call.output.map(v).unwrap_or_default();
            format!(
                "call {} ({} {}) [{}] {}",
                v(call.peer),
                v(call.service),
                v(call.function),
                args.join(" "),
                output
            )
        }
        Instr::Canon(canon) => format!(
            "canon {} {} {}",
            v(canon.peer),
            v(canon.source),
            v(canon.target)
        ),
        Instr::Ap { value, target } => format!("ap {} {}", v(value), v(target)),
        Instr::ApMap { key, value, map } => format!("ap ({} {}) {}", v(key), v(value), v(map)),
        Instr::Seq(..) => "seq".to_string(),
        Instr::Par(..) => "par".to_string(),
        Instr::Xor(..) => "xor".to_string(),
        Instr::New { variable, .. } => format!("new {}", v(variable)),
        Instr::Fold(fold) => format!("fold {} {}", v(fold.iterable), v(fold.iterator)),
        Instr::Next(iterator) => format!("next {}", v(iterator)),
        Instr::Match { left, right, .. } => format!("match {} {}", v(left), v(right)),
        Instr::Mismatch { left, right, .. } => format!("mismatch {} {}", v(left), v(right)),
        Instr::Fail(Fail::Value(value)) => format!("fail {}", v(value)),
        Instr::Fail(Fail::Literal { code, message }) => {
            let message = match script.value(message) {
                Value::String(s) => script.str(s).to_string(),
                _ => v(message),
            };
            format!("fail {} \"{}\"", v(code), message)
        }
        Instr::Never => "never".to_string(),
        Instr::Null => "null".to_string(),
        Instr::Error => "error".to_string(),
    }
}
