//! Gates that need not wait.
//!
//! `s[n]` on a stream compiles to a gate: a fold that waits until the stream has `n + 1`
//! values, then fixes it. Waiting only matters when values may still arrive, that is when
//! something writes the stream in parallel (a `par` branch, a fold over a stream). When all
//! the writes are sequential, every value is there once the gate is reached, and a `canon`
//! fixes the stream at once. An index past the end then fails right away, where the waiting
//! gate would wait forever.

use std::collections::HashSet;
use std::rc::Rc;

use super::op::{Op, Var, VarKind};

/// A gate as `Lower` wrote it: `(new test (seq (fold stream ...) (canon test result) (ap result gate)))`,
/// after a `math.add` into `incr` when the index is not a literal.
pub struct Gate {
    pub stream: Rc<str>,
    pub test: Rc<str>,
    pub incr: Option<Rc<str>>,
}

/// Turns the gates of `op` whose streams are only written sequentially into a `canon`.
pub fn settle(op: Op, gates: &[Gate]) -> Op {
    if gates.is_empty() {
        return op;
    }
    let mut parallel = HashSet::new();
    written_in_parallel(&op, false, &mut parallel);
    let settled: Vec<&Gate> = gates
        .iter()
        .filter(|gate| !parallel.contains(&gate.stream))
        .collect();
    if settled.is_empty() {
        return op;
    }
    rewrite(op, &settled)
}

/// Adds the streams written where other code may run meanwhile.
fn written_in_parallel(op: &Op, parallel: bool, streams: &mut HashSet<Rc<str>>) {
    crate::deep(|| {
        let mut stream_written = |var: &Var| {
            if parallel && var.kind == VarKind::Stream {
                streams.insert(var.name.clone());
            }
        };
        match op {
            Op::Call {
                output: Some(var), ..
            }
            | Op::Ap(_, var) => stream_written(var),
            Op::Par(ops) => ops
                .iter()
                .for_each(|op| written_in_parallel(op, true, streams)),
            Op::Seq(ops) => ops
                .iter()
                .for_each(|op| written_in_parallel(op, parallel, streams)),
            Op::Xor(a, b) => {
                written_in_parallel(a, parallel, streams);
                written_in_parallel(b, parallel, streams);
            }
            Op::New(_, body) | Op::Match { body, .. } | Op::On { body, .. } => {
                written_in_parallel(body, parallel, streams)
            }
            Op::Fold {
                iterable,
                body,
                last,
                ..
            } => {
                // A fold over a stream or a stream map goes on as values arrive.
                let parallel = parallel || iterable.grows();
                written_in_parallel(body, parallel, streams);
                if let Some(last) = last {
                    written_in_parallel(last, parallel, streams);
                }
            }
            Op::Call { output: None, .. }
            | Op::Canon { .. }
            | Op::ApMap { .. }
            | Op::Next(_)
            | Op::Fail(_)
            | Op::Never
            | Op::Null => {}
        }
    })
}

fn rewrite(op: Op, settled: &[&Gate]) -> Op {
    crate::deep(|| match op {
        Op::New(test, body) => match settled.iter().find(|g| g.test == test.name) {
            Some(gate) => at_once(gate, *body),
            None => Op::New(test, Box::new(rewrite(*body, settled))),
        },
        Op::Call {
            output: Some(ref var),
            ..
        } if settled.iter().any(|g| g.incr.as_ref() == Some(&var.name)) => Op::Null,
        other => other.map_children(|child| rewrite(child, settled)),
    })
}

/// The gate's body `(seq (fold ...) (canon test result) (ap result gate))` without the wait:
/// `(seq (canon stream result) (ap result gate))`.
fn at_once(gate: &Gate, body: Op) -> Op {
    let Op::Seq(mut ops) = body else {
        unreachable!("a gate is a sequence")
    };
    let ap = ops.pop().expect("a gate ends with its ap");
    let Some(Op::Canon { peer, target, .. }) = ops.pop() else {
        unreachable!("a gate fixes its test stream")
    };
    Op::Seq(vec![
        Op::Canon {
            peer,
            source: Var::stream(gate.stream.clone()),
            target,
        },
        ap,
    ])
}
