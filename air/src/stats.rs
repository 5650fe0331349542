//! Figures about a script, for people debugging a big one: how many of each instruction, how
//! deep, which variables, which services and peers it calls.

use std::collections::BTreeMap;
use std::fmt;

use crate::ast::{Instr, InstrId, Script, Value};
use crate::visit::{walk, Visitor};

/// Figures about a script; see [`stats`]. `Display` prints a report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Number of instructions.
    pub instructions: usize,
    /// Instructions by keyword (`ap` into a map counts as `ap`).
    pub by_keyword: BTreeMap<&'static str, usize>,
    /// Deepest nesting of instructions (a lone `(null)` has depth 1).
    pub max_depth: usize,
    /// Number of values (arguments, operands, outputs).
    pub values: usize,
    /// Variables by kind ("scalar", "stream", ...): name -> times defined.
    pub variables: BTreeMap<&'static str, BTreeMap<String, usize>>,
    /// Calls by `service.function`, for literal service ids and function names; others are
    /// grouped under `<variable>`.
    pub calls: BTreeMap<String, usize>,
    /// Calls by peer, as written (`%init_peer_id%`, `"12D3..."`, `-relay-`, ...).
    pub peers: BTreeMap<String, usize>,
    /// Number of comments.
    pub comments: usize,
}

/// Computes the figures of a script.
pub fn stats(script: &Script) -> Stats {
    let mut collector = Collector {
        stats: Stats {
            comments: script.comments().len(),
            ..Stats::default()
        },
        depth: 0,
    };
    walk(script, &mut collector);
    collector.stats
}

struct Collector {
    stats: Stats,
    depth: usize,
}

fn kind_name(value: Value) -> Option<&'static str> {
    Some(match value {
        Value::Scalar(..) => "scalar",
        Value::Stream(_) => "stream",
        Value::StreamMap(_) => "stream map",
        Value::Canon(..) => "canon stream",
        Value::CanonMap(..) => "canon stream map",
        _ => return None,
    })
}

impl Collector {
    fn define(&mut self, script: &Script, id: crate::ast::ValueId) {
        let value = script.value(id);
        if let (Some(kind), Some(name)) = (kind_name(value), value.variable()) {
            *self
                .stats
                .variables
                .entry(kind)
                .or_default()
                .entry(script.str(name).to_string())
                .or_default() += 1;
        }
    }
}

impl Visitor for Collector {
    fn enter(&mut self, script: &Script, id: InstrId) {
        self.depth += 1;
        let stats = &mut self.stats;
        stats.max_depth = stats.max_depth.max(self.depth);
        stats.instructions += 1;
        let instr = script.instr(id);
        *stats.by_keyword.entry(instr.keyword()).or_default() += 1;
        let text = |id| crate::print::value_to_string(script, script.value(id));
        match instr {
            Instr::Call(call) => {
                stats.values += 3 + call.args.len() + usize::from(call.output.is_some());
                let name = match (script.value(call.service), script.value(call.function)) {
                    (Value::String(s), Value::String(f)) => {
                        format!("{}.{}", script.str(s), script.str(f))
                    }
                    _ => "<variable>".to_string(),
                };
                *stats.calls.entry(name).or_default() += 1;
                *stats.peers.entry(text(call.peer)).or_default() += 1;
                if let Some(output) = call.output {
                    self.define(script, output);
                }
            }
            Instr::Canon(canon) => {
                stats.values += 3;
                self.define(script, canon.target);
            }
            Instr::Ap { target, .. } => {
                stats.values += 2;
                self.define(script, target);
            }
            Instr::ApMap { map, .. } => {
                stats.values += 3;
                self.define(script, map);
            }
            Instr::New { variable, .. } => {
                stats.values += 1;
                self.define(script, variable);
            }
            Instr::Fold(fold) => {
                stats.values += 2;
                self.define(script, fold.iterator);
            }
            Instr::Next(_) => stats.values += 1,
            Instr::Match { .. } | Instr::Mismatch { .. } => stats.values += 2,
            Instr::Fail(crate::ast::Fail::Value(_)) => stats.values += 1,
            Instr::Fail(crate::ast::Fail::Literal { .. }) => stats.values += 2,
            Instr::Seq(..) | Instr::Par(..) | Instr::Xor(..) | Instr::Never | Instr::Null => {}
            Instr::Error => {}
        }
    }

    fn exit(&mut self, _: &Script, _: InstrId) {
        self.depth -= 1;
    }
}

fn top(f: &mut fmt::Formatter<'_>, title: &str, map: &BTreeMap<String, usize>) -> fmt::Result {
    const SHOWN: usize = 15;
    if map.is_empty() {
        return Ok(());
    }
    writeln!(f, "{title}:")?;
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (name, count) in entries.iter().take(SHOWN) {
        writeln!(f, "  {count:>8}  {name}")?;
    }
    if entries.len() > SHOWN {
        writeln!(f, "  ... and {} more", entries.len() - SHOWN)?;
    }
    Ok(())
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "instructions: {}", self.instructions)?;
        let mut by_count: Vec<_> = self.by_keyword.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (keyword, count) in by_count {
            writeln!(f, "  {count:>8}  {keyword}")?;
        }
        writeln!(f, "max depth: {}", self.max_depth)?;
        writeln!(f, "values: {}", self.values)?;
        writeln!(f, "comments: {}", self.comments)?;
        let n_variables: usize = self.variables.values().map(BTreeMap::len).sum();
        writeln!(f, "variables: {n_variables}")?;
        for (kind, names) in &self.variables {
            writeln!(f, "  {:>8}  {kind}", names.len())?;
        }
        for (kind, names) in &self.variables {
            top(
                f,
                &format!("most defined {kind}s (name, definitions)"),
                names,
            )?;
        }
        top(f, "calls by service.function", &self.calls)?;
        top(f, "calls by peer", &self.peers)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_depth_and_variables() {
        let parsed = crate::parse(
            r#"(seq (call %init_peer_id% ("op" "noop") [] x) (seq (ap x $s) (fold $s i (next i))))"#,
        );
        assert!(parsed.diagnostics.is_empty());
        let stats = super::stats(&parsed.script);
        assert_eq!(stats.instructions, 6);
        assert_eq!(stats.max_depth, 4);
        assert_eq!(stats.by_keyword["seq"], 2);
        assert_eq!(stats.calls["op.noop"], 1);
        assert_eq!(stats.variables["stream"]["$s"], 1);
        assert_eq!(stats.variables["scalar"]["i"], 1);
    }
}
