//! The optimizer: rewrites a script into a smaller one with the same behaviour.
//!
//! "The same behaviour" means the same service calls with the same arguments on the same
//! peers, the same results and the same errors reaching the same handlers. Two things may
//! change: the particle may take fewer network hops, and the `instruction` field of an error
//! (the AIR text of the instruction that failed) may name another instruction.
//!
//! The rewrites, repeated until nothing changes:
//! - **Hops.** A `canon` of a stream that nothing writes, into a canon stream that nothing
//!   reads, only sends the particle to its peer. Compilers use it to route the particle
//!   through relays. Such a hop is dropped when the particle is already on its peer, when
//!   the next thing the particle does happens on that peer anyway (a `call` there sends the
//!   particle there itself), and a whole run of hops is dropped when it leads back to the
//!   peer the particle is on. What comes next is worked out along the normal flow and, for
//!   hops before a `fail`, along the error flow to the handler that catches it. The hops
//!   that stay are written as one `canon` each, without the two `new` scopes around it.
//! - `(xor A (fail :error:))` (or `%last_error%`) is `A`: the handler only raises again the
//!   error it caught.
//! - `(null)` in a `seq` is dropped, and `new` of a variable that its body never mentions.
//!
//! Routing assumes the network of the Fluence peers: every peer reaches every other, except
//! peers behind relays (clients), which only their relays reach. A dropped hop never makes
//! the particle go to a client from another peer than the one it came from before.

use std::collections::HashSet;

use crate::ast::{Accessor, Sym, Value, ValueId};
use crate::ast::{Canon, CanonForm, Fail, Fold, FoldForm, Instr, InstrId, Lens, Script, Span};
use crate::print::value_to_string;

/// Rewrites `script` into a smaller script with the same behaviour (see the
/// [module documentation](self)). Comments are not kept.
///
/// ```
/// let parsed = air::parse(
///     r#"(xor
///          (seq
///            (new $s (new #c (canon "relay" $s #c)))
///            (call "relay" ("peer" "identify") [] info))
///          (fail :error:))"#,
/// );
/// let optimized = air::optimize(&parsed.script);
/// assert_eq!(
///     air::print(&optimized),
///     "(call \"relay\" (\"peer\" \"identify\") [] info)\n"
/// );
/// ```
pub fn optimize(script: &Script) -> Script {
    let mut tree = Tree::read(script);
    let facts = Facts::gather(script);
    let mut out = script.without_instrs();
    // Each round can open the way for another (a handler left with only `fail` after its
    // hops went); a handful of rounds reaches the fixed point on real scripts.
    tree.root = tree.simplify(tree.root, script, &facts);
    for _ in 0..4 {
        let before = tree.size(tree.root);
        let root = tree.root;
        let mut router = Router {
            tree: &mut tree,
            script,
            facts: &facts,
        };
        router.walk(root, Place::Unknown, Place::Unknown, Place::Unknown);
        let root = tree.simplify(tree.root, script, &facts);
        tree.root = root;
        if tree.size(tree.root) == before {
            break;
        }
    }
    let hops = HopNames::new(script);
    let root = tree.write(tree.root, script, &facts, &hops, &mut out);
    out.set_root(root);
    out
}

type NodeId = usize;

/// The script as a tree that is cheap to rewrite: `seq` chains are flattened into lists.
enum Node {
    /// An instruction without child instructions, as in the source script.
    Leaf(Instr),
    Seq(Vec<NodeId>),
    Par(NodeId, NodeId),
    Xor(NodeId, NodeId),
    New(ValueId, NodeId),
    Match {
        left: ValueId,
        right: ValueId,
        negated: bool,
        body: NodeId,
    },
    Fold {
        form: FoldForm,
        iterable: ValueId,
        iterator: ValueId,
        body: NodeId,
        last: Option<NodeId>,
    },
}

struct Tree {
    nodes: Vec<Node>,
    root: NodeId,
}

fn deep<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, f)
}

impl Tree {
    fn read(script: &Script) -> Tree {
        let mut tree = Tree {
            nodes: Vec::with_capacity(script.n_instrs()),
            root: 0,
        };
        tree.root = tree.read_instr(script, script.root());
        tree
    }

    fn push(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn read_instr(&mut self, script: &Script, id: InstrId) -> NodeId {
        deep(|| {
            let node = match script.instr(id) {
                Instr::Seq(..) => {
                    // Left- and right-nested chains alike become one list.
                    let mut items = Vec::new();
                    let mut pending = vec![id];
                    while let Some(id) = pending.pop() {
                        match script.instr(id) {
                            Instr::Seq(a, b) => {
                                pending.push(b);
                                pending.push(a);
                            }
                            _ => items.push(self.read_instr(script, id)),
                        }
                    }
                    Node::Seq(items)
                }
                Instr::Par(a, b) => {
                    Node::Par(self.read_instr(script, a), self.read_instr(script, b))
                }
                Instr::Xor(a, b) => {
                    Node::Xor(self.read_instr(script, a), self.read_instr(script, b))
                }
                Instr::New { variable, body } => Node::New(variable, self.read_instr(script, body)),
                Instr::Match { left, right, body } => Node::Match {
                    left,
                    right,
                    negated: false,
                    body: self.read_instr(script, body),
                },
                Instr::Mismatch { left, right, body } => Node::Match {
                    left,
                    right,
                    negated: true,
                    body: self.read_instr(script, body),
                },
                Instr::Fold(fold) => Node::Fold {
                    form: fold.form,
                    iterable: fold.iterable,
                    iterator: fold.iterator,
                    body: self.read_instr(script, fold.body),
                    last: fold.last.map(|last| self.read_instr(script, last)),
                },
                leaf => Node::Leaf(leaf),
            };
            self.push(node)
        })
    }

    /// Number of AIR instructions the node stands for.
    fn size(&self, id: NodeId) -> usize {
        deep(|| match &self.nodes[id] {
            Node::Leaf(_) => 1,
            Node::Seq(items) => {
                items.len().saturating_sub(1) + items.iter().map(|&i| self.size(i)).sum::<usize>()
            }
            Node::Par(a, b) | Node::Xor(a, b) => 1 + self.size(*a) + self.size(*b),
            Node::New(_, body) | Node::Match { body, .. } => 1 + self.size(*body),
            Node::Fold { body, last, .. } => {
                1 + self.size(*body) + last.map_or(0, |last| self.size(last))
            }
        })
    }

    fn is_null(&self, id: NodeId) -> bool {
        matches!(self.nodes[id], Node::Leaf(Instr::Null))
    }

    /// `(fail :error:)` or `(fail %last_error%)`: raises again the error being handled.
    fn is_rethrow(&self, id: NodeId, script: &Script) -> bool {
        match &self.nodes[id] {
            Node::Leaf(Instr::Fail(Fail::Value(value))) => matches!(
                script.value(*value),
                Value::Error(None) | Value::LastError(None)
            ),
            Node::Seq(items) => items.len() == 1 && self.is_rethrow(items[0], script),
            _ => false,
        }
    }

    /// The local rewrites: rethrowing handlers, `null` in `seq`, single-item `seq`, and `new`
    /// of unmentioned variables. Returns the node that replaces `id`.
    fn simplify(&mut self, id: NodeId, script: &Script, facts: &Facts) -> NodeId {
        deep(|| {
            match std::mem::replace(&mut self.nodes[id], Node::Leaf(Instr::Null)) {
                Node::Seq(items) => {
                    let mut kept = Vec::with_capacity(items.len());
                    for item in items {
                        let item = self.simplify(item, script, facts);
                        if !self.is_null(item) {
                            kept.push(item);
                        }
                    }
                    let items = kept;
                    match items.as_slice() {
                        [] => return id,
                        [single] => return *single,
                        _ => self.nodes[id] = Node::Seq(items),
                    }
                }
                Node::Par(a, b) => {
                    let (a, b) = (
                        self.simplify(a, script, facts),
                        self.simplify(b, script, facts),
                    );
                    self.nodes[id] = Node::Par(a, b);
                }
                Node::Xor(a, b) => {
                    let a = self.simplify(a, script, facts);
                    let b = self.simplify(b, script, facts);
                    if self.is_rethrow(b, script) {
                        return a;
                    }
                    self.nodes[id] = Node::Xor(a, b);
                }
                Node::New(variable, body) => {
                    let body = self.simplify(body, script, facts);
                    let name = script.value(variable).variable();
                    if name.is_some_and(|name| !self.mentions(body, script, facts, name)) {
                        return body;
                    }
                    self.nodes[id] = Node::New(variable, body);
                }
                Node::Match {
                    left,
                    right,
                    negated,
                    body,
                } => {
                    let body = self.simplify(body, script, facts);
                    self.nodes[id] = Node::Match {
                        left,
                        right,
                        negated,
                        body,
                    };
                }
                Node::Fold {
                    form,
                    iterable,
                    iterator,
                    body,
                    last,
                } => {
                    let body = self.simplify(body, script, facts);
                    let last = last.map(|last| self.simplify(last, script, facts));
                    self.nodes[id] = Node::Fold {
                        form,
                        iterable,
                        iterator,
                        body,
                        last,
                    };
                }
                leaf @ Node::Leaf(_) => self.nodes[id] = leaf,
            }
            id
        })
    }

    /// Whether the node mentions the variable `name` anywhere (in operands or lenses). The
    /// stream and canon of a hop do not count: hops get names of their own.
    fn mentions(&self, id: NodeId, script: &Script, facts: &Facts, name: Sym) -> bool {
        deep(|| match &self.nodes[id] {
            Node::Leaf(Instr::Canon(canon)) if facts.is_hop(script, canon) => {
                value_mentions(script, canon.peer, name)
            }
            Node::Leaf(instr) => operands(instr)
                .into_iter()
                .any(|value| value_mentions(script, value, name)),
            Node::Seq(items) => items.iter().any(|&i| self.mentions(i, script, facts, name)),
            Node::Par(a, b) | Node::Xor(a, b) => {
                self.mentions(*a, script, facts, name) || self.mentions(*b, script, facts, name)
            }
            Node::New(variable, body) => {
                value_mentions(script, *variable, name) || self.mentions(*body, script, facts, name)
            }
            Node::Match {
                left, right, body, ..
            } => {
                value_mentions(script, *left, name)
                    || value_mentions(script, *right, name)
                    || self.mentions(*body, script, facts, name)
            }
            Node::Fold {
                iterable,
                iterator,
                body,
                last,
                ..
            } => {
                value_mentions(script, *iterable, name)
                    || value_mentions(script, *iterator, name)
                    || self.mentions(*body, script, facts, name)
                    || last.is_some_and(|last| self.mentions(last, script, facts, name))
            }
        })
    }

    /// Writes the node into `out`, which shares the values of `script`.
    fn write(
        &self,
        id: NodeId,
        script: &Script,
        facts: &Facts,
        hops: &HopNames,
        out: &mut Script,
    ) -> InstrId {
        deep(|| {
            let instr = match &self.nodes[id] {
                Node::Leaf(Instr::Canon(canon)) if facts.is_hop(script, canon) => {
                    Instr::Canon(hops.rename(canon, out))
                }
                Node::Leaf(instr) => *instr,
                Node::Seq(items) => {
                    let mut items = items.iter();
                    let first = items.next().expect("a seq has items");
                    let mut acc = self.write(*first, script, facts, hops, out);
                    for item in items {
                        let next = self.write(*item, script, facts, hops, out);
                        acc = out.push_instr(Instr::Seq(acc, next), Span::default());
                    }
                    return acc;
                }
                Node::Par(a, b) => Instr::Par(
                    self.write(*a, script, facts, hops, out),
                    self.write(*b, script, facts, hops, out),
                ),
                Node::Xor(a, b) => Instr::Xor(
                    self.write(*a, script, facts, hops, out),
                    self.write(*b, script, facts, hops, out),
                ),
                Node::New(variable, body) => Instr::New {
                    variable: *variable,
                    body: self.write(*body, script, facts, hops, out),
                },
                Node::Match {
                    left,
                    right,
                    negated,
                    body,
                } => {
                    let body = self.write(*body, script, facts, hops, out);
                    let (left, right) = (*left, *right);
                    if *negated {
                        Instr::Mismatch { left, right, body }
                    } else {
                        Instr::Match { left, right, body }
                    }
                }
                Node::Fold {
                    form,
                    iterable,
                    iterator,
                    body,
                    last,
                } => Instr::Fold(Fold {
                    form: *form,
                    iterable: *iterable,
                    iterator: *iterator,
                    body: self.write(*body, script, facts, hops, out),
                    last: last.map(|last| self.write(last, script, facts, hops, out)),
                }),
            };
            out.push_instr(instr, Span::default())
        })
    }
}

/// The values an instruction without child instructions takes.
fn operands(instr: &Instr) -> Vec<ValueId> {
    match *instr {
        Instr::Call(call) => {
            let mut values = vec![call.peer, call.service, call.function];
            values.extend(call.args.iter());
            values.extend(call.output);
            values
        }
        Instr::Canon(canon) => vec![canon.peer, canon.source, canon.target],
        Instr::Ap { value, target } => vec![value, target],
        Instr::ApMap { key, value, map } => vec![key, value, map],
        Instr::Next(iterator) => vec![iterator],
        Instr::Fail(Fail::Value(value)) => vec![value],
        Instr::Fail(Fail::Literal { code, message }) => vec![code, message],
        _ => Vec::new(),
    }
}

/// The scalars that a value's lens reads (`.[i]`).
fn lens_variables(script: &Script, value: Value) -> Vec<Sym> {
    match value.lens().map(|lens| script.lens(lens)) {
        Some(Lens::Path { accessors, .. }) => accessors
            .iter()
            .filter_map(|accessor| match accessor {
                Accessor::Var(name) => Some(*name),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn value_mentions(script: &Script, id: ValueId, name: Sym) -> bool {
    let value = script.value(id);
    value.variable() == Some(name) || lens_variables(script, value).contains(&name)
}

/// What the whole script does with its streams and canon streams.
struct Facts {
    /// Streams that something puts values into.
    written_streams: HashSet<Sym>,
    /// Canon streams that something reads.
    read_canons: HashSet<Sym>,
}

impl Facts {
    fn gather(script: &Script) -> Facts {
        let mut facts = Facts {
            written_streams: HashSet::new(),
            read_canons: HashSet::new(),
        };
        for id in script.preorder() {
            let instr = script.instr(id);
            let (written, canon_target) = match instr {
                Instr::Call(call) => (call.output, None),
                Instr::Ap { target, .. } => (Some(target), None),
                Instr::Canon(canon) => (None, Some(canon.target)),
                _ => (None, None),
            };
            if let Some(Value::Stream(name)) = written.map(|w| script.value(w)) {
                facts.written_streams.insert(name);
            }
            let mut values = operands(&instr);
            match instr {
                Instr::Match { left, right, .. } | Instr::Mismatch { left, right, .. } => {
                    values.extend([left, right])
                }
                Instr::Fold(fold) => values.push(fold.iterable),
                _ => {}
            }
            for value in values {
                if Some(value) == canon_target {
                    continue;
                }
                if let Value::Canon(name, _) = script.value(value) {
                    facts.read_canons.insert(name);
                }
            }
        }
        facts
    }

    /// Whether `canon` only moves the particle: nothing writes its stream, nothing reads its
    /// result.
    fn is_hop(&self, script: &Script, canon: &Canon) -> bool {
        canon.form == CanonForm::Stream
            && matches!(script.value(canon.source), Value::Stream(s) if !self.written_streams.contains(&s))
            && matches!(script.value(canon.target), Value::Canon(c, None) if !self.read_canons.contains(&c))
    }
}

/// Names for the hops that stay: one stream that nothing writes and, since a canon stream
/// cannot be defined twice in a scope, a canon stream per hop.
struct HopNames {
    stream: String,
    canon_prefix: String,
    next: std::cell::Cell<usize>,
}

impl HopNames {
    fn new(script: &Script) -> HopNames {
        let names: Vec<&str> = (0..script.n_strings())
            .filter_map(|i| script.sym_at(i))
            .map(|sym| script.str(sym))
            .collect();
        // `base` is free when no name of the script is `base` or `base-<number>`, the names
        // the hops get.
        let taken = |base: &str| {
            names.iter().any(|name| {
                name.strip_prefix(base).is_some_and(|rest| {
                    rest.is_empty()
                        || rest
                            .strip_prefix('-')
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
            })
        };
        let fresh = |base: &str| {
            (0..)
                .map(|n| match n {
                    0 => base.to_string(),
                    n => format!("{base}{n}"),
                })
                .find(|name| !taken(name))
                .expect("some name is free")
        };
        HopNames {
            stream: fresh("$-hop"),
            canon_prefix: fresh("#-hop"),
            next: std::cell::Cell::new(0),
        }
    }

    fn rename(&self, canon: &Canon, out: &mut Script) -> Canon {
        let n = self.next.get();
        self.next.set(n + 1);
        let stream = out.intern(&self.stream);
        let target = out.intern(&format!("{}-{n}", self.canon_prefix));
        let span = Span::default();
        // `push_instr` copies the three operands next to each other.
        Canon {
            form: CanonForm::Stream,
            peer: canon.peer,
            source: out.push_value(Value::Stream(stream), span),
            target: out.push_value(Value::Canon(target, None), span),
        }
    }
}

/// Where the particle is, or will next do something.
#[derive(Clone, Debug, PartialEq)]
enum Place {
    /// Nowhere: the instruction does nothing on any peer.
    Nothing,
    /// On this peer (an AIR value, as text) and the variables the text reads.
    At(String, Vec<Sym>),
    /// Not known.
    Unknown,
}

impl Place {
    fn peer(&self) -> Option<&str> {
        match self {
            Place::At(peer, _) => Some(peer),
            _ => None,
        }
    }

    /// The place as seen inside `(new VARIABLE ...)`, which hides the outer variable.
    fn inside_new(&self, name: Option<Sym>) -> Place {
        match (self, name) {
            (Place::At(_, vars), Some(name)) if vars.contains(&name) => Place::Unknown,
            _ => self.clone(),
        }
    }

    /// Where the particle is after something that ends at `end` ran from `self`.
    fn then(&self, end: &Place) -> Place {
        match end {
            Place::Nothing => self.clone(),
            other => other.clone(),
        }
    }

    /// The first non-`Nothing` of the two.
    fn or(self, other: impl FnOnce() -> Place) -> Place {
        match self {
            Place::Nothing => other(),
            known => known,
        }
    }
}

/// Drops the hops that the particle does not need (see the module documentation).
struct Router<'a> {
    tree: &'a mut Tree,
    script: &'a Script,
    facts: &'a Facts,
}

impl Router<'_> {
    fn place_of(&self, peer: ValueId) -> Place {
        let value = self.script.value(peer);
        let mut vars = lens_variables(self.script, value);
        vars.extend(value.variable());
        Place::At(value_to_string(self.script, value), vars)
    }

    /// The peer of a hop.
    fn hop(&self, id: NodeId) -> Option<ValueId> {
        match &self.tree.nodes[id] {
            Node::Leaf(Instr::Canon(canon)) if self.facts.is_hop(self.script, canon) => {
                Some(canon.peer)
            }
            _ => None,
        }
    }

    /// Where a leaf instruction does something.
    fn leaf_place(&self, instr: &Instr) -> Place {
        match instr {
            Instr::Call(call) => self.place_of(call.peer),
            Instr::Canon(canon) => self.place_of(canon.peer),
            Instr::Ap { .. } | Instr::ApMap { .. } | Instr::Null => Place::Nothing,
            _ => Place::Unknown,
        }
    }

    /// `Nothing` for a node without `call` or `canon`, else `Unknown`.
    fn somewhere(&self, id: NodeId) -> Place {
        let moves = deep(|| match &self.tree.nodes[id] {
            Node::Leaf(instr) => matches!(instr, Instr::Call(_) | Instr::Canon(_)),
            Node::Seq(items) => items.iter().any(|&i| self.somewhere(i) != Place::Nothing),
            Node::Par(a, b) | Node::Xor(a, b) => {
                self.somewhere(*a) != Place::Nothing || self.somewhere(*b) != Place::Nothing
            }
            Node::New(_, body) | Node::Match { body, .. } => {
                self.somewhere(*body) != Place::Nothing
            }
            Node::Fold { body, last, .. } => {
                self.somewhere(*body) != Place::Nothing
                    || last.is_some_and(|last| self.somewhere(last) != Place::Nothing)
            }
        });
        if moves {
            Place::Unknown
        } else {
            Place::Nothing
        }
    }

    /// Where the node does its first thing on a peer.
    fn starts(&self, id: NodeId) -> Place {
        deep(|| match &self.tree.nodes[id] {
            // A `fail` does nothing on a peer; what follows it is the handler's business.
            Node::Leaf(Instr::Fail(_)) => Place::Nothing,
            Node::Leaf(instr) => self.leaf_place(instr),
            Node::Seq(items) => {
                for &item in items {
                    match self.starts(item) {
                        Place::Nothing if self.fails(item) => return Place::Unknown,
                        Place::Nothing => continue,
                        place => return place,
                    }
                }
                Place::Nothing
            }
            Node::Xor(a, b) => self.starts(*a).or(|| self.somewhere(*b)),
            Node::New(variable, body) => self
                .starts(*body)
                .inside_new(self.script.value(*variable).variable()),
            // What follows a `par` does not wait for its branches to move the particle.
            Node::Par(..) | Node::Match { .. } | Node::Fold { .. } => self.somewhere(id),
        })
    }

    /// Where the particle is when the node completes normally (`Nothing`: where it started).
    fn ends(&self, id: NodeId) -> Place {
        deep(|| match &self.tree.nodes[id] {
            Node::Leaf(instr) => self.leaf_place(instr),
            Node::Seq(items) => items
                .iter()
                .rev()
                .map(|&item| self.ends(item))
                .find(|place| *place != Place::Nothing)
                .unwrap_or(Place::Nothing),
            Node::Xor(a, b) => {
                let (a_ends, b_ends) = (self.ends(*a), self.ends(*b));
                if self.fails(*b) || a_ends == b_ends {
                    a_ends
                } else {
                    Place::Unknown
                }
            }
            Node::New(variable, body) => self
                .ends(*body)
                .inside_new(self.script.value(*variable).variable()),
            Node::Match { body, .. } => self.ends(*body),
            Node::Par(..) | Node::Fold { .. } => self.somewhere(id),
        })
    }

    /// Whether the node never completes normally.
    fn fails(&self, id: NodeId) -> bool {
        deep(|| match &self.tree.nodes[id] {
            Node::Leaf(Instr::Fail(_)) => true,
            Node::Seq(items) => items.iter().any(|&item| self.fails(item)),
            Node::Xor(a, b) => self.fails(*a) && self.fails(*b),
            Node::New(_, body) => self.fails(*body),
            _ => false,
        })
    }

    /// Drops needless hops under `id`. `here` is where the particle is when the node starts,
    /// `next` where it does something next after the node completes, and `on_error` where
    /// it does something next when the node fails.
    fn walk(&mut self, id: NodeId, here: Place, next: Place, on_error: Place) {
        deep(|| match &self.tree.nodes[id] {
            Node::Leaf(_) => {}
            Node::Seq(items) => {
                let items = items.clone();
                let kept = self.seq(&items, here, next, on_error);
                self.tree.nodes[id] = Node::Seq(kept);
            }
            &Node::Xor(a, b) => {
                let handler = self.starts(b).or(|| next.clone());
                self.walk(a, here, next.clone(), handler);
                self.walk(b, Place::Unknown, next, on_error);
            }
            &Node::Par(a, b) => {
                self.walk(a, here.clone(), Place::Unknown, Place::Unknown);
                self.walk(b, here, Place::Unknown, Place::Unknown);
            }
            &Node::New(variable, body) => {
                let name = self.script.value(variable).variable();
                self.walk(
                    body,
                    here.inside_new(name),
                    next.inside_new(name),
                    on_error.inside_new(name),
                );
            }
            &Node::Match { body, .. } => self.walk(body, here, next, on_error),
            &Node::Fold { body, last, .. } => {
                self.walk(body, Place::Unknown, Place::Unknown, Place::Unknown);
                if let Some(last) = last {
                    self.walk(last, Place::Unknown, Place::Unknown, Place::Unknown);
                }
            }
        })
    }

    /// [`Router::walk`] over the items of a `seq`; returns the items to keep.
    fn seq(&mut self, items: &[NodeId], here: Place, next: Place, on_error: Place) -> Vec<NodeId> {
        // afters[i]: where the particle does something next once items[i..] start running.
        let mut afters = vec![next; items.len() + 1];
        for (i, &item) in items.iter().enumerate().rev() {
            afters[i] = match self.starts(item) {
                Place::Nothing if self.fails(item) => on_error.clone(),
                Place::Nothing => afters[i + 1].clone(),
                place => place,
            };
        }
        let mut kept: Vec<NodeId> = Vec::with_capacity(items.len());
        let mut here = here;
        let mut i = 0;
        while i < items.len() {
            if self.hop(items[i]).is_none() {
                let item = items[i];
                self.walk(item, here.clone(), afters[i + 1].clone(), on_error.clone());
                here = here.then(&self.ends(item));
                kept.push(item);
                i += 1;
                continue;
            }
            let end = (i..items.len())
                .find(|&j| self.hop(items[j]).is_none())
                .unwrap_or(items.len());
            let after = &afters[end];
            let mut run: Vec<NodeId> = items[i..end].to_vec();
            if here.peer().is_some() && here.peer() == after.peer() {
                run.clear();
            }
            let place = |hop: NodeId| self.place_of(self.hop(hop).expect("a hop"));
            if run
                .last()
                .is_some_and(|&last| after.peer().is_some() && place(last).peer() == after.peer())
            {
                run.pop();
            }
            for hop in run {
                let place = place(hop);
                if place.peer() != here.peer() {
                    kept.push(hop);
                    here = place;
                }
            }
            i = end;
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn optimized(source: &str) -> String {
        let parsed = crate::parse(source);
        assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
        crate::print(&optimize(&parsed.script))
    }

    #[test]
    fn fresh_hop_names_avoid_the_scripts_own() {
        let parsed = crate::parse(r#"(ap "$-hop" $-hop)"#);
        assert_eq!(HopNames::new(&parsed.script).stream, "$-hop1");
        let parsed = crate::parse(r##"(seq (canon "a" $s #-hop-7) (ap "#-hop-x" $-hop-))"##);
        let names = HopNames::new(&parsed.script);
        assert_eq!(
            (names.stream.as_str(), names.canon_prefix.as_str()),
            ("$-hop", "#-hop1")
        );
    }

    #[test]
    fn a_hop_to_where_the_next_call_goes_is_dropped() {
        let out = optimized(
            r#"(seq
                 (seq
                   (new $h (new #c (canon "relay" $h #c)))
                   (new $h (new #c (canon "a" $h #c))))
                 (call "a" ("s" "f") []))"#,
        );
        assert_eq!(
            out,
            "(seq\n  (canon \"relay\" $-hop #-hop-0)\n  (call \"a\" (\"s\" \"f\") []))\n"
        );
    }

    #[test]
    fn hops_that_lead_back_are_dropped() {
        let out = optimized(
            r#"(seq
                 (seq
                   (call "a" ("s" "f") [])
                   (canon "relay" $h #c))
                 (call "a" ("s" "g") []))"#,
        );
        assert_eq!(
            out,
            "(seq\n  (call \"a\" (\"s\" \"f\") [])\n  (call \"a\" (\"s\" \"g\") []))\n"
        );
    }

    #[test]
    fn hops_before_a_fail_follow_the_error_to_its_handler() {
        let out = optimized(
            r#"(xor
                 (xor
                   (call "b" ("s" "f") [])
                   (seq
                     (seq (canon "relay" $h #c) (canon "client" $h #d))
                     (fail :error:)))
                 (call "client" ("errorHandlingSrv" "error") [:error:]))"#,
        );
        assert_eq!(
            out,
            "(xor\n  (xor\n    (call \"b\" (\"s\" \"f\") [])\n    (seq\n      \
             (canon \"relay\" $-hop #-hop-0)\n      (fail :error:)))\n  \
             (call \"client\" (\"errorHandlingSrv\" \"error\") [:error:]))\n"
        );
    }

    #[test]
    fn a_canon_that_is_read_or_a_stream_that_is_written_is_not_a_hop() {
        let read = r#"(seq
                        (seq (canon "a" $s #c) (call "a" ("s" "f") [#c]))
                        (call "a" ("s" "g") []))"#;
        assert_eq!(optimized(read), crate::print(&crate::parse(read).script));
        let written = r#"(seq
                           (seq (ap 1 $s) (canon "a" $s #c))
                           (call "a" ("s" "f") []))"#;
        assert_eq!(
            optimized(written),
            crate::print(&crate::parse(written).script)
        );
    }

    #[test]
    fn a_hop_before_a_par_whose_branch_goes_there_stays() {
        // The code after the `par` runs from where the particle was, not from the branch.
        let out = optimized(
            r#"(seq
                 (seq
                   (canon "relay" $h #c)
                   (par (seq (canon "relay" $h #d) (call "client" ("t" "e") [])) (null)))
                 (call "a" ("s" "f") []))"#,
        );
        assert!(
            out.starts_with("(seq\n  (seq\n    (canon \"relay\""),
            "{out}"
        );
    }

    #[test]
    fn hops_in_par_branches_stay() {
        let source = r#"(par
                          (seq (canon "relay" $h #c) (call "a" ("s" "f") []))
                          (seq (canon "relay" $h #d) (call "b" ("s" "f") [])))"#;
        let out = optimized(source);
        assert_eq!(out.matches("canon").count(), 2, "{out}");
    }

    #[test]
    fn a_variable_hidden_by_new_is_not_the_same_peer() {
        let out = optimized(
            r#"(seq
                 (call p ("s" "f") [])
                 (new p
                   (seq
                     (seq (call "x" ("s" "p") [] p) (canon "relay" $h #c))
                     (call p ("s" "g") []))))"#,
        );
        assert!(out.contains("canon"), "{out}");
    }

    #[test]
    fn null_in_seq_and_unused_new_go() {
        assert_eq!(
            optimized(r#"(new $s (seq (null) (new x (call "a" ("s" "f") [] y))))"#),
            "(call \"a\" (\"s\" \"f\") [] y)\n"
        );
    }

    #[test]
    fn deep_scripts_do_not_overflow() {
        let depth = 50_000;
        let mut source = String::new();
        for _ in 0..depth {
            source.push_str("(xor ");
        }
        source.push_str("(null)");
        for _ in 0..depth {
            source.push_str(" (null))");
        }
        let parsed = crate::parse(&source);
        let optimized = optimize(&parsed.script);
        assert_eq!(crate::stats::stats(&optimized).instructions, 2 * depth + 1);
    }
}
