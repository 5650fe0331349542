//! Topology: where each instruction runs, and the hops that take the particle there.
//!
//! Inlining leaves `On` blocks and calls without a peer. This pass gives every call and
//! `canon` the peer of its innermost `On` and brings the particle to that peer through its
//! relays: a hop is a `canon` of an empty stream on the relay, which makes AquaVM send the
//! particle there. A block that does nothing on a peer (no call, no canon) causes no hop.
//! After a block, the particle comes back through the relays only if something follows;
//! an error inside a block comes back the same way before it is raised again, so that the
//! handlers of the enclosing code (and finally the client's error handler) see it.

use super::op::{Data, Location, OnKind, Op, Var, Via};

pub struct Topology {
    /// Whether blocks catch their errors to bring them back (`--no-xor` turns it off).
    pub errors_come_back: bool,
}

impl Topology {
    /// Resolves `op`, which starts at `root`.
    pub fn resolve(&self, op: Op, root: &Location) -> Op {
        self.walk(op, root, Flow::default())
    }

    fn walk(&self, op: Op, here: &Location, flow: Flow) -> Op {
        crate::deep(|| self.walk_inner(op, here, flow))
    }

    fn walk_inner(&self, op: Op, here: &Location, flow: Flow) -> Op {
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
                let mut flows: Vec<Flow> = Vec::with_capacity(ops.len());
                let mut effect_later = false;
                for op in ops.iter().rev() {
                    flows.push(Flow {
                        after: after || effect_later,
                        branch_ends: flow.branch_ends && !effect_later,
                    });
                    effect_later = effect_later || op.has_effect();
                }
                flows.reverse();
                Op::Seq(
                    ops.into_iter()
                        .zip(flows)
                        .map(|(op, flow)| self.walk(op, here, flow))
                        .collect(),
                )
            }
            Op::Par(ops) => {
                let branch = Flow {
                    after,
                    branch_ends: after,
                };
                Op::Par(
                    ops.into_iter()
                        .map(|op| self.walk(op, here, branch))
                        .collect(),
                )
            }
            Op::Xor(a, b) => Op::Xor(
                Box::new(self.walk(*a, here, flow)),
                Box::new(self.walk(*b, here, flow)),
            ),
            Op::New(var, body) => Op::New(var, Box::new(self.walk(*body, here, flow))),
            Op::Match {
                left,
                right,
                body,
                negated,
            } => Op::Match {
                left,
                right,
                body: Box::new(self.walk(*body, here, flow)),
                negated,
            },
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
                Op::Fold {
                    iterable,
                    iterator,
                    body: Box::new(self.walk(*body, here, loops)),
                    last: last.map(|l| Box::new(self.walk(*l, here, flow))),
                }
            }
            Op::On {
                location,
                body,
                kind,
            } => self.on(location, *body, kind, here, flow),
            other @ (Op::Ap(..)
            | Op::ApMap { .. }
            | Op::Next(_)
            | Op::Fail(_)
            | Op::Never
            | Op::Null) => other,
        }
    }

    fn on(&self, target: Location, body: Op, kind: OnKind, here: &Location, flow: Flow) -> Op {
        let after = flow.after;
        if !body.has_effect() {
            return self.walk(body, &target, flow);
        }
        let same_peer = target.peer == here.peer;
        let body = self.walk(
            body,
            &target,
            Flow {
                after,
                branch_ends: false,
            },
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
                back.push(Via {
                    peer: here.peer.clone(),
                    many: false,
                });
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
        // On an error, go back all the way to where the block started, then raise it again.
        let mut way_back = path(&target, here);
        if way_back.last().map(|v| &v.peer) != Some(&here.peer) {
            way_back.push(Via {
                peer: here.peer.clone(),
                many: false,
            });
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

fn reversed(via: &[Via]) -> Vec<Via> {
    via.iter().rev().cloned().collect()
}

/// The relays from `from` to `to`: back out through `from`'s relays, in through `to`'s,
/// without repeating a peer or passing through either end.
fn path(from: &Location, to: &Location) -> Vec<Via> {
    let mut steps: Vec<Via> = Vec::new();
    for via in reversed(&from.via)
        .into_iter()
        .chain(to.via.iter().cloned())
    {
        if let Some(seen) = steps.iter().position(|s| *s == via) {
            // Coming back to a relay already passed: the loop in between is not needed.
            steps.truncate(seen + 1);
            continue;
        }
        steps.push(via);
    }
    while steps
        .first()
        .is_some_and(|s| !s.many && s.peer == from.peer)
    {
        steps.remove(0);
    }
    while steps.last().is_some_and(|s| !s.many && s.peer == to.peer) {
        steps.pop();
    }
    steps
}

/// The instructions that take the particle through `relays`.
fn hops(relays: &[Via]) -> Vec<Op> {
    relays
        .iter()
        .map(|via| {
            if via.many {
                let iterator: std::rc::Rc<str> = "-via-peer-".into();
                Op::Fold {
                    iterable: via.peer.clone(),
                    iterator: iterator.clone(),
                    body: Box::new(Op::seq(vec![
                        hop(Var::scalar(iterator.clone()).value()),
                        Op::Next(iterator),
                    ])),
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
