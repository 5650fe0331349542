//! The canonical printer.
//!
//! The layout is deterministic and depends only on the tree (and its comments): leaf
//! instructions (`call`, `canon`, `ap`, `next`, `fail`, `never`, `null`) take one line;
//! `seq`, `par`, `xor`, `new`, `fold`, `match` and `mismatch` put their header on one line and
//! each child instruction on its own line, indented by two spaces, with the closing parentheses
//! at the end of the last child. Indentation stops growing after [`MAX_INDENT_DEPTH`] levels so
//! that the output of deeply nested scripts stays linear in size. Comments are printed on their
//! own line before the instruction that followed them.
//!
//! For every script, `parse(print(script))` gives the same tree back.

use std::fmt::Write as _;

use crate::ast::Instr;
use crate::ast::{Accessor, Fail, InstrId, Lens, Script, Value};

/// Nesting depth after which indentation stops growing.
pub const MAX_INDENT_DEPTH: usize = 40;

/// Prints a script in the canonical layout, ending with a newline.
pub fn print(script: &Script) -> String {
    let mut printer = Printer {
        script,
        out: String::new(),
        comments: script.comments(),
    };
    printer.script(script.root());
    printer.out
}

/// Prints one value as AIR source.
pub fn value_to_string(script: &Script, value: Value) -> String {
    let mut out = String::new();
    write_value(&mut out, script, value);
    out
}

enum Task {
    Instr(InstrId, usize),
    Text(&'static str),
}

struct Printer<'s> {
    script: &'s Script,
    out: String,
    // Comments not printed yet, in source order.
    comments: &'s [crate::ast::Comment],
}

impl Printer<'_> {
    fn script(&mut self, root: InstrId) {
        let mut tasks = vec![Task::Instr(root, 0)];
        let mut first = true;
        while let Some(task) = tasks.pop() {
            match task {
                Task::Text(text) => self.out.push_str(text),
                Task::Instr(id, depth) => {
                    if !first {
                        self.out.push('\n');
                    }
                    first = false;
                    self.comments_before(id, depth);
                    self.indent(depth);
                    self.instr(id, depth, &mut tasks);
                }
            }
        }
        self.out.push('\n');
        for comment in self.comments {
            self.out.push_str(self.script.str(comment.text));
            self.out.push('\n');
        }
    }

    fn comments_before(&mut self, id: InstrId, depth: usize) {
        let start = self.script.instr_span(id).start;
        let n = self
            .comments
            .iter()
            .take_while(|comment| comment.span.start < start)
            .count();
        let (before, rest) = self.comments.split_at(n);
        for comment in before {
            self.indent(depth);
            self.out.push_str(self.script.str(comment.text));
            self.out.push('\n');
        }
        self.comments = rest;
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth.min(MAX_INDENT_DEPTH) {
            self.out.push_str("  ");
        }
    }

    fn value(&mut self, id: crate::ast::ValueId) {
        write_value(&mut self.out, self.script, self.script.value(id));
    }

    fn instr(&mut self, id: InstrId, depth: usize, tasks: &mut Vec<Task>) {
        let script = self.script;
        let instr = script.instr(id);
        let child = depth + 1;
        // After a compound header: the children, each on its own line, then `)`. They are
        // pushed in reverse because the stack pops the first one first.
        let mut children = |children: &[InstrId]| {
            tasks.push(Task::Text(")"));
            for &c in children.iter().rev() {
                tasks.push(Task::Instr(c, child));
            }
        };
        match instr {
            Instr::Call(call) => {
                self.out.push_str("(call ");
                self.value(call.peer);
                self.out.push_str(" (");
                self.value(call.service);
                self.out.push(' ');
                self.value(call.function);
                self.out.push_str(") [");
                for (i, arg) in call.args.iter().enumerate() {
                    if i > 0 {
                        self.out.push(' ');
                    }
                    self.value(arg);
                }
                self.out.push(']');
                if let Some(output) = call.output {
                    self.out.push(' ');
                    self.value(output);
                }
                self.out.push(')');
            }
            Instr::Canon(canon) => {
                self.out.push_str("(canon ");
                self.value(canon.peer);
                self.out.push(' ');
                self.value(canon.source);
                self.out.push(' ');
                self.value(canon.target);
                self.out.push(')');
            }
            Instr::Ap { value, target } => {
                self.out.push_str("(ap ");
                self.value(value);
                self.out.push(' ');
                self.value(target);
                self.out.push(')');
            }
            Instr::ApMap { key, value, map } => {
                self.out.push_str("(ap (");
                self.value(key);
                self.out.push(' ');
                self.value(value);
                self.out.push_str(") ");
                self.value(map);
                self.out.push(')');
            }
            Instr::Seq(a, b) | Instr::Par(a, b) | Instr::Xor(a, b) => {
                self.out.push('(');
                self.out.push_str(instr.keyword());
                children(&[a, b]);
            }
            Instr::New { variable, body } => {
                self.out.push_str("(new ");
                self.value(variable);
                children(&[body]);
            }
            Instr::Fold(fold) => {
                self.out.push_str("(fold ");
                self.value(fold.iterable);
                self.out.push(' ');
                self.value(fold.iterator);
                match fold.last {
                    Some(last) => children(&[fold.body, last]),
                    None => children(&[fold.body]),
                }
            }
            Instr::Next(iterator) => {
                self.out.push_str("(next ");
                self.value(iterator);
                self.out.push(')');
            }
            Instr::Match { left, right, body } | Instr::Mismatch { left, right, body } => {
                self.out.push('(');
                self.out.push_str(instr.keyword());
                self.out.push(' ');
                self.value(left);
                self.out.push(' ');
                self.value(right);
                children(&[body]);
            }
            Instr::Fail(Fail::Value(value)) => {
                self.out.push_str("(fail ");
                self.value(value);
                self.out.push(')');
            }
            Instr::Fail(Fail::Literal { code, message }) => {
                self.out.push_str("(fail ");
                self.value(code);
                self.out.push(' ');
                self.value(message);
                self.out.push(')');
            }
            Instr::Never => self.out.push_str("(never)"),
            Instr::Null => self.out.push_str("(null)"),
            // Not valid AIR on purpose: a script with parse errors must not print as a valid one.
            Instr::Error => self.out.push_str("(<error>)"),
        }
    }
}

/// Appends a value as AIR source.
pub fn write_value(out: &mut String, script: &Script, value: Value) {
    let lens = value.lens();
    match value {
        Value::InitPeerId => out.push_str("%init_peer_id%"),
        Value::Timestamp => out.push_str("%timestamp%"),
        Value::Ttl => out.push_str("%ttl%"),
        Value::EmptyArray => out.push_str("[]"),
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Int(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f) => write_float(out, f),
        Value::String(s) => {
            out.push('"');
            out.push_str(script.str(s));
            out.push('"');
        }
        Value::LastError(_) => out.push_str("%last_error%"),
        Value::Error(_) => out.push_str(":error:"),
        Value::Scalar(name, _)
        | Value::Stream(name)
        | Value::StreamMap(name)
        | Value::Canon(name, _)
        | Value::CanonMap(name, _) => out.push_str(script.str(name)),
    }
    if let Some(lens) = lens {
        write_lens(out, script, script.lens(lens));
    }
}

fn write_lens(out: &mut String, script: &Script, lens: Lens<'_>) {
    match lens {
        Lens::Length => out.push_str(".length"),
        Lens::Path { accessors, flatten } => {
            out.push_str(".$");
            for accessor in accessors {
                match *accessor {
                    Accessor::Field(name) => {
                        out.push('.');
                        out.push_str(script.str(name));
                    }
                    Accessor::Index(index) => {
                        let _ = write!(out, ".[{index}]");
                    }
                    Accessor::Var(name) => {
                        out.push_str(".[");
                        out.push_str(script.str(name));
                        out.push(']');
                    }
                }
            }
            if flatten {
                out.push('!');
            }
        }
    }
}

// The shortest text that reads back as the same f64, with a dot so that it stays a float.
// A parsed float has at most 11 characters; when adding ".0" would exceed that, a bare
// trailing dot (`1234567890.`) keeps it within the limit.
fn write_float(out: &mut String, f: f64) {
    let mut text = format!("{f}");
    if !text.contains('.') {
        if text.len() + 2 <= crate::syntax::word::MAX_FLOAT_LEN {
            text.push_str(".0");
        } else {
            text.push('.');
        }
    }
    out.push_str(&text);
}
