//! Topology: where each instruction runs, and the hops that take the particle there.
//!
//! Inlining leaves `On` blocks and calls without a peer. This pass gives every call and
//! `canon` the peer of its innermost `On` and brings the particle to that peer through its
//! relays: a hop is a `canon` of an empty stream on the relay, which makes AquaVM send the
//! particle there. A block that does nothing on a peer (no call, no canon) causes no hop.
//! The last hop to a peer is left to the block's first call there, unless the block starts
//! elsewhere and the peer is itself a relay on the way (`on HOST_PEER_ID` from the client).
//! After a block, the particle comes back through the relays only if something follows.
//! A `par` branch comes back only if what it writes is read after it, and then all the way
//! to where the code after the `par` begins (which may be outside the blocks around the
//! `par`): that code has already run past the peers on the way for the particle of another
//! branch, and would not pass this one on. An error inside a block comes back the same way
//! before it is raised again, up to the last relay before where the block started (all the
//! way at the end of a `par` branch): the handler that catches it (finally the client's
//! error handler) goes on from there. With `--no-xor` only the errors that the program
//! catches come back, and a block followed by a block elsewhere (or a tried block by its
//! handler, or a `par` of blocks by the block that awaits them) goes straight there, as the
//! reference compiler does. A block that ends with a parallel loop over a stream whose
//! iterations each come back to where the next code begins needs no way back of its own: the
//! code after the loop runs only where an iteration ended.

use std::collections::HashSet;
use std::rc::Rc;

use super::op::{Data, Location, OnKind, Op, Var, Via};

/// Names of variables.
type Names = HashSet<Rc<str>>;

pub struct Topology {
    /// Whether blocks catch their errors to bring them back to the client's error handler
    /// (`--no-xor` turns it off: then only errors that the program catches come back).
    pub errors_come_back: bool,
}

impl Topology {
    /// Resolves `op`, which starts at `root`.
    pub fn resolve(&self, op: Op, root: &Location) -> Op {
        let flow = Flow {
            after: false,
            branch_ends: false,
            next_at: Rc::new(root.clone()),
            caught: false,
        };
        self.walk(op, root, flow, &Names::new())
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
                let mut next_at = flow.next_at.clone();
                let mut read_later = later.clone();
                for op in ops.iter().rev() {
                    let flow = Flow {
                        after: after || effect_later,
                        branch_ends: flow.branch_ends && !effect_later,
                        next_at: next_at.clone(),
                        caught: flow.caught,
                    };
                    flows.push((flow, read_later.clone()));
                    if op.has_effect() {
                        effect_later = true;
                        next_at = Rc::new(begins_at(op, here).clone());
                    }
                    op.read(&mut read_later);
                }
                flows.reverse();
                let links = if self.errors_come_back {
                    vec![Link::default(); ops.len()]
                } else {
                    sibling_links(&ops, here, &flows)
                };
                Op::Seq(
                    ops.into_iter()
                        .zip(flows)
                        .zip(links)
                        .map(|((op, (flow, later)), link)| match op {
                            Op::On {
                                location,
                                body,
                                kind,
                            } => self.on(location, *body, kind, here, flow, &later, link),
                            op => self.walk(op, here, flow, &later),
                        })
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
                            next_at: flow.next_at.clone(),
                            caught: flow.caught,
                        };
                        // `on` blocks to other peers bring their branch back themselves;
                        // a branch that ends here is brought back after its last step.
                        let back = if awaited && ends_here(&op, &here.peer) {
                            way_to_next(here, &branch)
                        } else {
                            Vec::new()
                        };
                        let mut ops = vec![self.walk(op, here, branch, later)];
                        ops.extend(hops(&back));
                        Op::seq(ops)
                    })
                    .collect(),
            ),
            Op::Fold {
                iterable,
                iterator,
                body,
                last,
            } => {
                // The next iteration starts where the fold is: come back after each one. In
                // a parallel fold (`next` in a `par` beside the body) nothing waits for an
                // iteration but the code after the fold.
                let parallel = is_parallel(&body);
                let loops = Flow {
                    after: after || body.has_effect(),
                    branch_ends: flow.branch_ends,
                    next_at: if parallel && after {
                        flow.next_at.clone()
                    } else {
                        Rc::new(here.clone())
                    },
                    caught: flow.caught,
                };
                // What one iteration writes, the next may read.
                let mut read_later = later.clone();
                body.read(&mut read_later);
                last.iter().for_each(|l| l.read(&mut read_later));
                Op::Fold {
                    iterable,
                    iterator,
                    body: Box::new(self.walk(*body, here, loops, &read_later)),
                    last: last.map(|l| Box::new(self.walk(*l, here, flow.clone(), later))),
                }
            }
            Op::On {
                location,
                body,
                kind,
            } => self.on(location, *body, kind, here, flow, later, Link::default()),
            Op::Xor(first, handler) => {
                let tried = Flow {
                    caught: true,
                    ..flow.clone()
                };
                // Without error wrappers, an error of a block that is the whole tried part
                // goes straight to a handler that is a block elsewhere.
                let (first, handler) = match (*first, *handler) {
                    (
                        Op::On {
                            location: tried_at,
                            body: tried_body,
                            kind: OnKind::Block,
                        },
                        Op::On {
                            location,
                            body,
                            kind: OnKind::Block,
                        },
                    ) if !self.errors_come_back
                        && leaves(&tried_at, &tried_body, here)
                        && enters(&location, &body, here, &tried_at) =>
                    {
                        let link = Link {
                            errors_to: Some(location.clone()),
                            ..Link::default()
                        };
                        let first = self.on(
                            tried_at,
                            *tried_body,
                            OnKind::Block,
                            here,
                            tried,
                            later,
                            link,
                        );
                        let entered = Link {
                            entered: true,
                            ..Link::default()
                        };
                        let handler =
                            self.on(location, *body, OnKind::Block, here, flow, later, entered);
                        (first, handler)
                    }
                    (first, handler) => (
                        self.walk(first, here, tried, later),
                        self.walk(handler, here, flow, later),
                    ),
                };
                Op::Xor(Box::new(first), Box::new(handler))
            }
            // The rest run where they are, followed by what follows them.
            other => other.map_children(|child| self.walk(child, here, flow.clone(), later)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on(
        &self,
        target: Location,
        body: Op,
        kind: OnKind,
        here: &Location,
        flow: Flow,
        later: &Names,
        link: Link,
    ) -> Op {
        let after = flow.after;
        let same_peer = target.peer == here.peer;
        // A block on the peer where the particle already is changes nothing but the
        // relays of the blocks inside it.
        if !body.has_effect() || (same_peer && kind == OnKind::Block) {
            return self.walk(body, &target, flow, later);
        }
        let body = self.walk(
            body,
            &target,
            Flow {
                branch_ends: false,
                ..flow.clone()
            },
            later,
        );
        let mut enter = if same_peer || link.entered {
            Vec::new()
        } else {
            path(here, &target)
        };
        // The way in ends before the target, whose first call takes the particle there. When
        // the target is itself a relay of that way (`on HOST_PEER_ID` from a client, `on r
        // via r`) and the body does not surely start on it, the particle must still pass it:
        // the blocks inside set out from the target.
        let mut relays_on_the_way = here.via.iter().chain(&target.via);
        if !same_peer
            && !link.entered
            && relays_on_the_way.any(|via| !via.many && via.peer == target.peer)
            && !starts_on(&body, &target.peer)
        {
            enter.push(Step::to(&target.peer));
        }
        let mut ops = hops(&enter);
        // A block that ends with a loop whose every iteration comes back to where the next
        // code begins, and that goes on only where an iteration ends, is back already.
        let back_already = after && ends_in_returning_loop(&body, &flow.next_at.peer);
        ops.push(body);
        let back = match kind {
            // A `parseq` branch comes back to the last relay before where it started.
            OnKind::Parseq => path(&target, here),
            OnKind::Detached => Vec::new(),
            OnKind::Block if flow.branch_ends => way_to_next(&target, &flow),
            OnKind::Block if back_already => Vec::new(),
            OnKind::Block if after => match &link.exit_to {
                Some(next) => path(&target, next),
                None => path(&target, here),
            },
            OnKind::Block => Vec::new(),
        };
        ops.extend(hops(&back));
        let main = Op::seq(ops);
        if kind != OnKind::Block || !(self.errors_come_back || flow.caught) {
            return main;
        }
        // On an error, go back to the last relay before where the block started, then raise
        // it again: from there the handler reaches that peer, or anywhere it needs. At the
        // end of a `par` branch, the code after the `par` may already have left that relay
        // for the particle of another branch: go all the way back.
        let mut way_back = match &link.errors_to {
            Some(handler) => path(&target, handler),
            None => path(&target, here),
        };
        if link.errors_to.is_none()
            && flow.branch_ends
            && way_back.last().map(|s| &s.via.peer) != Some(&here.peer)
        {
            way_back.push(Step::to(&here.peer));
        }
        let mut error_ops = hops(&way_back);
        error_ops.push(Op::Fail(Data::Error(Vec::new())));
        Op::Xor(Box::new(main), Box::new(Op::seq(error_ops)))
    }
}

/// What follows an instruction.
#[derive(Clone, Debug)]
struct Flow {
    /// Something that runs on a peer comes after it.
    after: bool,
    /// It ends a `par` branch, and something comes after the `par`.
    branch_ends: bool,
    /// Where the code after it begins, when `after`.
    next_at: Rc<Location>,
    /// A handler catches its errors: it is in the first branch of a `xor`.
    caught: bool,
}

/// How a block hands the particle over to a block beside it, instead of passing through the
/// relays of where both run. The reference compiler goes from one block to the next
/// directly when its blocks have no error wrappers (`--no-xor`), and through those relays
/// otherwise; so do we.
#[derive(Clone, Debug, Default)]
struct Link {
    /// What came before already brought the particle on its way to the block's peer.
    entered: bool,
    /// The next block begins at this location: leave towards it (it enters from here).
    exit_to: Option<Location>,
    /// A handler of this block's errors is a block at this location (it enters from here).
    errors_to: Option<Location>,
}

/// The links between the ops of a sequence run at `here` (`flows` as the `Seq` walk gives
/// them): a block followed by another block goes straight to it, and so does a `par` of
/// blocks whose results the next block awaits, since each branch comes all the way to it.
fn sibling_links(ops: &[Op], here: &Location, flows: &[(Flow, Names)]) -> Vec<Link> {
    let mut links = vec![Link::default(); ops.len()];
    let effects: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].has_effect()).collect();
    for pair in effects.windows(2) {
        let (i, j) = (pair[0], pair[1]);
        let Op::On {
            location: next,
            body: next_body,
            kind: OnKind::Block,
        } = &ops[j]
        else {
            continue;
        };
        match &ops[i] {
            Op::On {
                location,
                body,
                kind: OnKind::Block,
            } if leaves(location, body, here) && enters(next, next_body, here, location) => {
                links[i].exit_to = Some(next.clone());
                links[j].entered = true;
            }
            Op::Par(branches)
                if *begins_at(&ops[j], here) == *next
                    && enters(next, next_body, here, here)
                    && branches.iter().all(|branch| {
                        let mut written = Names::new();
                        branch.written(&mut written);
                        matches!(branch, Op::On { location, body, kind: OnKind::Block }
                            if leaves(location, body, here))
                            && !written.is_disjoint(&flows[i].1)
                    }) =>
            {
                links[j].entered = true;
            }
            _ => {}
        }
    }
    links
}

/// Whether a block at `target` run from `here` leaves `here`'s peer (a block on that peer
/// runs in place, with no way in or out).
fn leaves(target: &Location, body: &Op, here: &Location) -> bool {
    target.peer != here.peer && body.has_effect()
}

/// Whether a block at `target` run from `here` may be entered straight from the block at
/// `from`: it leaves `here`, and its peer is no relay on either way (the particle must then
/// visit it even when the body starts elsewhere).
fn enters(target: &Location, body: &Op, here: &Location, from: &Location) -> bool {
    leaves(target, body, here)
        && !here
            .via
            .iter()
            .chain(&from.via)
            .chain(&target.via)
            .any(|via| !via.many && via.peer == target.peer)
}

/// The way from the end of a `par` branch at `from` all the way to where the code after the
/// `par` begins: that code may already have passed the relays and the peer on the way for
/// the particle of another branch, and would not send this one on.
fn way_to_next(from: &Location, flow: &Flow) -> Vec<Step> {
    let to = &*flow.next_at;
    if from.peer == to.peer {
        return Vec::new();
    }
    let mut steps = path(from, to);
    steps.push(Step::to(&to.peer));
    steps
}

/// Whether the particle is on `here_peer` after the last call or canon of `op` (not yet
/// resolved), which runs there.
fn ends_here(op: &Op, here_peer: &Data) -> bool {
    crate::deep(|| match op {
        Op::Call { peer, .. } | Op::Canon { peer, .. } => {
            peer.as_ref().is_none_or(|peer| peer == here_peer)
        }
        Op::Seq(ops) => ops
            .iter()
            .rev()
            .find(|op| op.has_effect())
            .is_some_and(|op| ends_here(op, here_peer)),
        Op::On {
            location,
            body,
            kind,
        } => location.peer == *here_peer && *kind == OnKind::Block && ends_here(body, here_peer),
        Op::Xor(a, b) => ends_here(a, here_peer) || ends_here(b, here_peer),
        Op::New(_, body) | Op::Match { body, .. } => ends_here(body, here_peer),
        // Each iteration of a sequential fold comes back to where the fold is; the
        // iterations of a parallel one are branches that come back on their own.
        Op::Fold { body, .. } => !is_parallel(body) && body.has_effect(),
        _ => false,
    })
}

/// Whether the resolved `op` ends with a parallel fold over a stream that goes on only where
/// an iteration completes (an empty stream waits; `never` ends the iterations), each
/// iteration ending on `peer`.
fn ends_in_returning_loop(op: &Op, peer: &Data) -> bool {
    crate::deep(|| match op {
        Op::Seq(ops) => ops
            .iter()
            .rev()
            .find(|op| op.has_effect())
            .is_some_and(|op| ends_in_returning_loop(op, peer)),
        Op::New(_, body) => ends_in_returning_loop(body, peer),
        Op::Fold {
            iterable,
            body,
            last: Some(last),
            ..
        } if iterable.is_stream() && **last == Op::Never && is_parallel(body) => {
            let Op::Par(branches) = &**body else {
                return false;
            };
            branches
                .iter()
                .filter(|branch| !matches!(branch, Op::Next(_)))
                .all(|branch| ends_here(branch, peer))
        }
        _ => false,
    })
}

/// Whether a fold with this body runs its iterations in parallel: `next` beside the body.
fn is_parallel(body: &Op) -> bool {
    matches!(body, Op::Par(ops) if ops.iter().any(|op| matches!(op, Op::Next(_))))
}

/// Where `op`, run at `here`, does its first call or canon: inside the `on` blocks it
/// starts with.
fn begins_at<'a>(op: &'a Op, here: &'a Location) -> &'a Location {
    crate::deep(|| match op {
        Op::On { location, body, .. } if body.has_effect() => begins_at(body, location),
        Op::Seq(ops) | Op::Par(ops) => ops
            .iter()
            .find(|op| op.has_effect())
            .map_or(here, |op| begins_at(op, here)),
        Op::Xor(first, _) | Op::New(_, first) => begins_at(first, here),
        _ => here,
    })
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

/// Whether the first call or canon of the resolved `op`, whichever way it goes, is on
/// `peer` (so also when it does nothing).
fn starts_on(op: &Op, peer: &Data) -> bool {
    crate::deep(|| match op {
        Op::Call { peer: p, .. } | Op::Canon { peer: p, .. } => p.as_ref() == Some(peer),
        // A `par` runs its left branch first.
        Op::Seq(ops) | Op::Par(ops) => {
            for op in ops.iter().filter(|op| op.has_effect()) {
                if !starts_on(op, peer) {
                    return false;
                }
                if surely_acts(op) {
                    return true;
                }
            }
            true
        }
        Op::Xor(a, b) => starts_on(a, peer) && starts_on(b, peer),
        Op::New(_, body) | Op::Match { body, .. } => starts_on(body, peer),
        Op::Fold { body, last, .. } => {
            starts_on(body, peer) && last.as_ref().is_none_or(|last| starts_on(last, peer))
        }
        _ => true,
    })
}

/// Whether the resolved `op` surely makes a call or canon: a match may not hold, a fold may
/// have nothing to fold, a handler may not run.
fn surely_acts(op: &Op) -> bool {
    crate::deep(|| match op {
        Op::Call { .. } | Op::Canon { .. } => true,
        Op::Seq(ops) | Op::Par(ops) => ops.iter().any(surely_acts),
        Op::Xor(a, b) => surely_acts(a) && surely_acts(b),
        Op::New(_, body) => surely_acts(body),
        _ => false,
    })
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
