//! Topology: where each instruction runs, and the hops that take the particle there.
//!
//! Inlining leaves `On` blocks and calls without a peer. This pass gives every call and
//! `canon` the peer of its innermost `On` and brings the particle to that peer through its
//! relays: a hop is a `canon` of an empty stream on the relay, which makes AquaVM send the
//! particle there. A block that does nothing on a peer (no call, no canon) causes no hop.
//! After a block, the particle comes back through the relays only if something follows;
//! a `par` branch comes back only if what it writes is read after it. An error inside a
//! block comes back the same way before it is raised again, up to the last relay before
//! where the block started (all the way at the end of a `par` branch): the handler that
//! catches it (finally the client's error handler) goes on from there.

use std::collections::HashSet;
use std::rc::Rc;

use super::op::{Data, Location, OnKind, Op, Var, Via};

/// Names of variables.
type Names = HashSet<Rc<str>>;

pub struct Topology {
    /// Whether blocks catch their errors to bring them back (`--no-xor` turns it off).
    pub errors_come_back: bool,
}

impl Topology {
    /// Resolves `op`, which starts at `root`.
    pub fn resolve(&self, op: Op, root: &Location) -> Op {
        self.walk(op, root, Flow::default(), &Names::new())
    }

    /// `later` holds the variables read after `op`.
    fn walk(&self, op: Op, here: &Location, flow: Flow, later: &Names) -> Op {
        crate::deep(|| self.walk_inner(op, here, flow, later))
    }

    fn walk_inner(&self, op: Op, here: &Location, flow: Flow, later: &Names) -> Op {
        let after = flow.after;
        match op {
            Op::Call {
                peer,
                service,
                function,
                args,
                output,
            } => Op::Call {
                peer: Some(peer.unwrap_or_else(|| here.peer.clone())),
                service,
                function,
                args,
                output,
            },
            Op::Canon {
                peer,
                source,
                target,
            } => Op::Canon {
                peer: Some(peer.unwrap_or_else(|| here.peer.clone())),
                source,
                target,
            },
            Op::Seq(ops) => {
                let mut flows: Vec<(Flow, Names)> = Vec::with_capacity(ops.len());
                let mut effect_later = false;
                let mut read_later = later.clone();
                for op in ops.iter().rev() {
                    let flow = Flow {
                        after: after || effect_later,
                        branch_ends: flow.branch_ends && !effect_later,
                    };
                    flows.push((flow, read_later.clone()));
                    effect_later = effect_later || op.has_effect();
                    op.read(&mut read_later);
                }
                flows.reverse();
                Op::Seq(
                    ops.into_iter()
                        .zip(flows)
                        .map(|(op, (flow, later))| self.walk(op, here, flow, &later))
                        .collect(),
                )
            }
            Op::Par(ops) => Op::Par(
                ops.into_iter()
                    .map(|op| {
                        // A branch whose results nobody waits for need not come back.
                        let mut written = Names::new();
                        op.written(&mut written);
                        let awaited = after && !written.is_disjoint(later);
                        let branch = Flow {
                            after: awaited,
                            branch_ends: awaited,
                        };
                        self.walk(op, here, branch, later)
                    })
                    .collect(),
            ),
            Op::Fold {
                iterable,
                iterator,
                body,
                last,
            } => {
                // The next iteration starts where the fold is: come back after each one.
                let loops = Flow {
                    after: after || body.has_effect(),
                    branch_ends: flow.branch_ends,
                };
                // What one iteration writes, the next may read.
                let mut read_later = later.clone();
                body.read(&mut read_later);
                last.iter().for_each(|l| l.read(&mut read_later));
                Op::Fold {
                    iterable,
                    iterator,
                    body: Box::new(self.walk(*body, here, loops, &read_later)),
                    last: last.map(|l| Box::new(self.walk(*l, here, flow, later))),
                }
            }
            Op::On {
                location,
                body,
                kind,
            } => self.on(location, *body, kind, here, flow, later),
            // The rest run where they are, followed by what follows them.
            other => other.map_children(|child| self.walk(child, here, flow, later)),
        }
    }

    fn on(
        &self,
        target: Location,
        body: Op,
        kind: OnKind,
        here: &Location,
        flow: Flow,
        later: &Names,
    ) -> Op {
        let after = flow.after;
        if !body.has_effect() {
            return self.walk(body, &target, flow, later);
        }
        let same_peer = target.peer == here.peer;
        let body = self.walk(
            body,
            &target,
            Flow {
                after,
                branch_ends: false,
            },
            later,
        );
        if same_peer && target.via == here.via {
            return body;
        }
        let enter = if same_peer {
            Vec::new()
        } else {
            path(here, &target)
        };
        let mut ops = hops(&enter);
        ops.push(body);
        let back = match kind {
            // A `parseq` branch comes back to the last relay before where it started.
            OnKind::Parseq => path(&target, here),
            OnKind::Detached => Vec::new(),
            // A parallel branch that ends here must bring the particle all the way back:
            // the code after the `par` may wait for it on this peer.
            OnKind::Block if flow.branch_ends && !same_peer => {
                let mut back = path(&target, here);
                back.push(Step::to(&here.peer));
                back
            }
            OnKind::Block if after && !same_peer => path(&target, here),
            OnKind::Block => Vec::new(),
        };
        ops.extend(hops(&back));
        let main = Op::seq(ops);
        if kind != OnKind::Block || !self.errors_come_back || same_peer {
            return main;
        }
        // On an error, go back to the last relay before where the block started, then raise
        // it again: from there the handler reaches that peer, or anywhere it needs. At the
        // end of a `par` branch, the code after the `par` may already have left that relay
        // for the particle of another branch: go all the way back.
        let mut way_back = path(&target, here);
        if flow.branch_ends && way_back.last().map(|s| &s.via.peer) != Some(&here.peer) {
            way_back.push(Step::to(&here.peer));
        }
        let mut error_ops = hops(&way_back);
        error_ops.push(Op::Fail(Data::Error(Vec::new())));
        Op::Xor(Box::new(main), Box::new(Op::seq(error_ops)))
    }
}

/// What follows an instruction.
#[derive(Clone, Copy, Debug, Default)]
struct Flow {
    /// Something that runs on a peer comes after it.
    after: bool,
    /// It ends a `par` branch, and something comes after the `par`.
    branch_ends: bool,
}

/// A relay on a path, and whether the path goes back out through it: a collection of relays
/// is then passed in reverse order.
#[derive(Clone, Debug)]
struct Step {
    via: Via,
    backwards: bool,
}

impl Step {
    fn to(peer: &Data) -> Step {
        Step {
            via: Via {
                peer: peer.clone(),
                many: false,
            },
            backwards: false,
        }
    }
}

/// The relays from `from` to `to`: back out through `from`'s relays, in through `to`'s,
/// without repeating a peer or passing through either end.
fn path(from: &Location, to: &Location) -> Vec<Step> {
    let out = from.via.iter().rev().map(|via| Step {
        via: via.clone(),
        backwards: true,
    });
    let into = to.via.iter().map(|via| Step {
        via: via.clone(),
        backwards: false,
    });
    let mut steps: Vec<Step> = Vec::new();
    for step in out.chain(into) {
        if let Some(seen) = steps.iter().position(|s| s.via == step.via) {
            // Coming back to a relay already passed: the loop in between is not needed.
            steps.truncate(seen + 1);
            continue;
        }
        steps.push(step);
    }
    let is_end = |s: &Step, end: &Data| !s.via.many && s.via.peer == *end;
    while steps.first().is_some_and(|s| is_end(s, &from.peer)) {
        steps.remove(0);
    }
    while steps.last().is_some_and(|s| is_end(s, &to.peer)) {
        steps.pop();
    }
    steps
}

/// The instructions that take the particle through `steps`.
fn hops(steps: &[Step]) -> Vec<Op> {
    steps
        .iter()
        .map(|Step { via, backwards }| {
            if via.many {
                let iterator: std::rc::Rc<str> = "-via-peer-".into();
                let here = hop(Var::scalar(iterator.clone()).value());
                let next = Op::Next(iterator.clone());
                // Hopping after `next` visits the elements last to first.
                let body = if *backwards {
                    vec![next, here]
                } else {
                    vec![here, next]
                };
                Op::Fold {
                    iterable: via.peer.clone(),
                    iterator,
                    body: Box::new(Op::seq(body)),
                    last: Some(Box::new(Op::Null)),
                }
            } else {
                hop(via.peer.clone())
            }
        })
        .collect()
}

/// Sends the particle to `peer` and nothing else: a `canon` of an empty stream there.
fn hop(peer: Data) -> Op {
    let stream = Var::stream("-hop-");
    let canon = Var::canon("-hopc-");
    Op::New(
        stream.clone(),
        Box::new(Op::New(
            canon.clone(),
            Box::new(Op::Canon {
                peer: Some(peer),
                source: stream,
                target: canon,
            }),
        )),
    )
}
