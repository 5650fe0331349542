//! Differential property test: random well-formed AIR programs with random service answers run
//! on the simulated network with the reference AquaVM, with ours, and with the two alternating
//! run by run; the rendered reports (every run's outcome, call requests, answers and final
//! data) must be equal.
//!
//! Programs are generated as a shape ([`Node`]) whose variable references are choice numbers;
//! [`Printer`] resolves them against what is in scope at that point of the script, so every
//! program names only variables defined before it (and shrinking keeps it that way). Three
//! peers, three functions of one service, three streams and fresh scalar, canon and iterator
//! names keep programs small but let them interact: results may hold peer ids that later calls
//! target, streams are written on several peers and folded while they grow. Three stream maps
//! take keys of any kind (the invalid ones fail), are canonicalized into canon maps or scalars,
//! read through lenses and folded while they grow.
//!
//! `PROPTEST_CASES` raises the number of cases (default [`DEFAULT_CASES`]). The programs are
//! the same on every run (seed [`DEFAULT_SEED`]) so that the suite stays reproducible;
//! `PROPTEST_RNG_SEED=<u64>` explores others.

use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::{json, Value};

use network_sim::scenario::Scenario;
use network_sim::{Engine, ReferenceEngine, VmEngine};

/// Enough cases to stay under ~20 s in a debug build.
const DEFAULT_CASES: u32 = 128;
const DEFAULT_SEED: u64 = 0x61_71_75_61;

const PEERS: [&str; 3] = ["a", "b", "c"];
const FUNCTIONS: usize = 3;
const STREAMS: usize = 3;
const MAPS: usize = 3;
/// Cap on interpreter runs per program: programs that keep bouncing stop here (on both VMs).
const MAX_STEPS: usize = 40;

/// Where a call goes.
#[derive(Debug, Clone)]
enum Target {
    Peer(usize),
    InitPeer,
    /// The k-th scalar in scope (a result that may or may not be a peer id).
    Scalar(usize),
}

/// An argument, a matched value, an ap source.
#[derive(Debug, Clone)]
enum Arg {
    Str(usize),
    Int(i64),
    Bool(bool),
    EmptyArray,
    Special(usize),
    Error(usize),
    Scalar(usize),
    ScalarLens(usize, usize),
    Canon(usize),
    CanonLength(usize),
    CanonMap(usize),
    CanonMapLens(usize, usize),
}

#[derive(Debug, Clone)]
enum Output {
    None,
    Scalar,
    Stream(usize),
}

#[derive(Debug, Clone)]
enum FailForm {
    Literal(i64),
    Error,
    LastError,
    Scalar(usize),
}

#[derive(Debug, Clone)]
enum Node {
    Call {
        target: Target,
        function: usize,
        args: Vec<Arg>,
        output: Output,
    },
    Ap(Arg, Output),
    /// `(new #c (seq (canon PEER $s #c) THEN))`: the `new` lets the canon run in fold bodies.
    Canon {
        peer: usize,
        stream: usize,
        then: Box<Node>,
    },
    /// `(ap (KEY VALUE) %mK)`.
    ApMap {
        key: Arg,
        value: Arg,
        map: usize,
    },
    /// `(new #%cm (seq (canon PEER %mK #%cm) THEN))`, or into a fresh scalar (the first value
    /// of each key) when `to_scalar`.
    CanonMap {
        peer: usize,
        map: usize,
        to_scalar: bool,
        then: Box<Node>,
    },
    Seq(Box<Node>, Box<Node>),
    Par(Box<Node>, Box<Node>),
    Xor(Box<Node>, Box<Node>),
    NewStream(usize, Box<Node>),
    Fold {
        iterable: Iterable,
        par: bool,
        next: bool,
        body: Box<Node>,
        last: Option<Box<Node>>,
    },
    /// `right: None` compares `left` with itself.
    Match {
        equal: bool,
        left: Arg,
        right: Option<Arg>,
        body: Box<Node>,
    },
    Fail(FailForm),
    Null,
    Never,
}

/// What a fold iterates over; a choice that is not available at that point becomes `List`.
#[derive(Debug, Clone)]
enum Iterable {
    /// The k-th written stream that may be folded here, or else stream k seeded right there.
    Stream(usize),
    Scalar(usize),
    Canon(usize),
    /// The k-th written stream map that may be folded here.
    Map(usize),
    CanonMap(usize),
    /// A fresh `s.list` result from this peer, called right before the fold.
    List(usize),
}

/// How a mock service function answers, per peer.
#[derive(Debug, Clone)]
enum Answer {
    Ok(Value),
    Err(i32, Value),
    Echo,
    Seq(Vec<Value>),
}

#[derive(Debug, Clone)]
struct Program {
    root: Node,
    /// What `s.list` answers on every peer: the fallback iterable of folds.
    list: Vec<Value>,
    /// Per peer, per function; `None` leaves the function unanswered (a failing call).
    services: Vec<Vec<Option<Answer>>>,
    lifo: bool,
    redeliver: Vec<bool>,
}

const STRINGS: [&str; 6] = ["x", "y", "@a", "@b", "@c", "é✓"];
const SPECIALS: [&str; 3] = ["%init_peer_id%", "%timestamp%", "%ttl%"];
const ERRORS: [&str; 5] = [
    ":error:",
    ":error:.$.error_code",
    ":error:.$.message",
    "%last_error%",
    "%last_error%.$.error_code",
];
const LENSES: [&str; 4] = [".$.[0]", ".$.a", ".$.[1].b", ".length"];
const MAP_LENSES: [&str; 5] = [".$.x", ".$.y.[0]", ".$.[1]", ".length", ".$.x.[0].a"];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..1000).prop_map(Value::from),
        Just(json!(18446744073709551615u64)),
        Just(json!(-1.5)),
        (0..STRINGS.len()).prop_map(|i| json!(STRINGS[i])),
        (1i64..100).prop_map(|code| json!({"error_code": code, "message": "thrown"})),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            (inner.clone(), inner).prop_map(|(a, b)| json!({"a": a, "b": b})),
        ]
    })
}

fn answer() -> impl Strategy<Value = Option<Answer>> {
    prop_oneof![
        1 => Just(None),
        4 => json_value().prop_map(|v| Some(Answer::Ok(v))),
        2 => ((1i32..5), json_value()).prop_map(|(code, v)| Some(Answer::Err(code, v))),
        2 => Just(Some(Answer::Echo)),
        1 => prop::collection::vec(json_value(), 1..4).prop_map(|vs| Some(Answer::Seq(vs))),
    ]
}

fn arg() -> impl Strategy<Value = Arg> {
    prop_oneof![
        1 => (0..STRINGS.len()).prop_map(Arg::Str),
        1 => (-2i64..5).prop_map(Arg::Int),
        1 => any::<bool>().prop_map(Arg::Bool),
        1 => Just(Arg::EmptyArray),
        1 => (0..SPECIALS.len()).prop_map(Arg::Special),
        1 => (0..ERRORS.len()).prop_map(Arg::Error),
        4 => (0usize..8).prop_map(Arg::Scalar),
        1 => ((0usize..8), (0..LENSES.len())).prop_map(|(k, l)| Arg::ScalarLens(k, l)),
        1 => (0usize..8).prop_map(Arg::Canon),
        1 => (0usize..8).prop_map(Arg::CanonLength),
        1 => ((0usize..8), (0..MAP_LENSES.len())).prop_map(|(k, l)| Arg::CanonMapLens(k, l)),
    ]
}

/// A whole canon map is a value only as a call argument.
fn call_arg() -> impl Strategy<Value = Arg> {
    prop_oneof![
        12 => arg(),
        1 => (0usize..8).prop_map(Arg::CanonMap),
    ]
}

/// The key forms the grammar accepts; their values may still be of a kind maps reject.
fn map_key() -> impl Strategy<Value = Arg> {
    prop_oneof![
        2 => (0..STRINGS.len()).prop_map(Arg::Str),
        2 => (-2i64..5).prop_map(Arg::Int),
        3 => (0usize..8).prop_map(Arg::Scalar),
        1 => ((0usize..8), (0..LENSES.len())).prop_map(|(k, l)| Arg::ScalarLens(k, l)),
        1 => (0usize..8).prop_map(Arg::CanonLength),
    ]
}

fn output() -> impl Strategy<Value = Output> {
    prop_oneof![
        1 => Just(Output::None),
        3 => Just(Output::Scalar),
        3 => (0..STREAMS).prop_map(Output::Stream),
    ]
}

fn leaf() -> impl Strategy<Value = Node> {
    let target = prop_oneof![
        4 => (0..PEERS.len()).prop_map(Target::Peer),
        1 => Just(Target::InitPeer),
        1 => (0usize..8).prop_map(Target::Scalar),
    ];
    let fail = prop_oneof![
        (1i64..100).prop_map(FailForm::Literal),
        Just(FailForm::Error),
        Just(FailForm::LastError),
        (0usize..8).prop_map(FailForm::Scalar),
    ];
    prop_oneof![
        8 => (target, 0..FUNCTIONS, prop::collection::vec(call_arg(), 0..3), output()).prop_map(
            |(target, function, args, output)| Node::Call {
                target,
                function,
                args,
                output
            }
        ),
        3 => (arg(), output()).prop_map(|(a, o)| Node::Ap(a, o)),
        2 => (map_key(), arg(), 0..MAPS).prop_map(|(key, value, map)| Node::ApMap { key, value, map }),
        1 => fail.prop_map(Node::Fail),
        1 => Just(Node::Null),
        1 => Just(Node::Never),
    ]
}

fn node() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(5, 40, 3, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            3 => (boxed.clone(), boxed.clone()).prop_map(|(a, b)| Node::Seq(a, b)),
            3 => (boxed.clone(), boxed.clone()).prop_map(|(a, b)| Node::Par(a, b)),
            2 => (boxed.clone(), boxed.clone()).prop_map(|(a, b)| Node::Xor(a, b)),
            1 => ((0..PEERS.len()), (0..STREAMS), boxed.clone())
                .prop_map(|(peer, stream, then)| Node::Canon { peer, stream, then }),
            1 => ((0..STREAMS), boxed.clone()).prop_map(|(s, body)| Node::NewStream(s, body)),
            1 => ((0..PEERS.len()), (0..MAPS), prop::bool::weighted(0.3), boxed.clone())
                .prop_map(|(peer, map, to_scalar, then)| Node::CanonMap { peer, map, to_scalar, then }),
            3 => (
                prop_oneof![
                    3 => (0..STREAMS).prop_map(Iterable::Stream),
                    1 => (0usize..8).prop_map(Iterable::Scalar),
                    1 => (0usize..8).prop_map(Iterable::Canon),
                    1 => (0..MAPS).prop_map(Iterable::Map),
                    1 => (0usize..8).prop_map(Iterable::CanonMap),
                    2 => (0..PEERS.len()).prop_map(Iterable::List),
                ],
                any::<bool>(),
                prop::bool::weighted(0.8),
                boxed.clone(),
                prop::option::weighted(0.3, boxed.clone())
            )
                .prop_map(|(iterable, par, next, body, last)| Node::Fold {
                    iterable,
                    par,
                    next,
                    body,
                    last
                }),
            1 => (any::<bool>(), arg(), prop::option::of(arg()), boxed)
                .prop_map(|(equal, left, right, body)| Node::Match {
                    equal,
                    left,
                    right,
                    body
                }),
        ]
    })
}

fn program() -> impl Strategy<Value = Program> {
    (
        node(),
        prop::collection::vec((0..STRINGS.len()).prop_map(|i| json!(STRINGS[i])), 0..4),
        prop::collection::vec(prop::collection::vec(answer(), FUNCTIONS), PEERS.len()),
        prop::bool::weighted(0.3),
        prop::collection::vec(prop::bool::weighted(0.15), PEERS.len()),
    )
        .prop_map(|(root, list, services, lifo, redeliver)| Program {
            root,
            list,
            services,
            lifo,
            redeliver,
        })
}

/// Turns a [`Node`] into AIR text, resolving choice numbers against the names in scope.
#[derive(Default)]
struct Printer {
    out: String,
    /// Scalars and fold iterators in scope, innermost last.
    scalars: Vec<String>,
    canons: Vec<String>,
    canon_maps: Vec<String>,
    /// Streams written so far in text order: a stream fold needs its stream written earlier.
    written: [bool; STREAMS],
    /// The lowest stream index that may be written here: inside a fold over `$sK`, only
    /// streams after `K`, so that folds never feed themselves (directly or in a cycle).
    writable_from: usize,
    /// The same two for stream maps.
    written_maps: [bool; MAPS],
    writable_maps_from: usize,
    fresh: usize,
}

impl Printer {
    fn fresh(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    fn scalar(&self, k: usize) -> Option<&str> {
        (!self.scalars.is_empty()).then(|| self.scalars[k % self.scalars.len()].as_str())
    }

    fn canon(&self, k: usize) -> Option<&str> {
        (!self.canons.is_empty()).then(|| self.canons[k % self.canons.len()].as_str())
    }

    fn canon_map(&self, k: usize) -> Option<&str> {
        (!self.canon_maps.is_empty()).then(|| self.canon_maps[k % self.canon_maps.len()].as_str())
    }

    fn arg(&self, arg: &Arg) -> String {
        let fallback = || format!("\"{}\"", STRINGS[0]);
        match arg {
            Arg::Str(i) => format!("\"{}\"", STRINGS[*i]),
            Arg::Int(n) => n.to_string(),
            Arg::Bool(b) => b.to_string(),
            Arg::EmptyArray => "[]".to_owned(),
            Arg::Special(i) => SPECIALS[*i].to_owned(),
            Arg::Error(i) => ERRORS[*i].to_owned(),
            Arg::Scalar(k) => self.scalar(*k).map_or_else(fallback, str::to_owned),
            Arg::ScalarLens(k, l) => self
                .scalar(*k)
                .map_or_else(fallback, |s| format!("{s}{}", LENSES[*l])),
            Arg::Canon(k) => self.canon(*k).map_or_else(fallback, str::to_owned),
            Arg::CanonLength(k) => self
                .canon(*k)
                .map_or_else(fallback, |c| format!("{c}.length")),
            Arg::CanonMap(k) => self.canon_map(*k).map_or_else(fallback, str::to_owned),
            Arg::CanonMapLens(k, l) => self
                .canon_map(*k)
                .map_or_else(fallback, |c| format!("{c}{}", MAP_LENSES[*l])),
        }
    }

    /// The output of a call or ap; a stream that may not be written here becomes a scalar.
    fn output(&mut self, output: &Output) -> Option<String> {
        match output {
            Output::None => None,
            Output::Stream(k) if *k >= self.writable_from => {
                self.written[*k] = true;
                Some(format!("$s{k}"))
            }
            Output::Scalar | Output::Stream(_) => {
                let name = self.fresh("x");
                Some(name)
            }
        }
    }

    fn node(&mut self, node: &Node) {
        match node {
            Node::Call {
                target,
                function,
                args,
                output,
            } => {
                let target = match target {
                    Target::Peer(p) => format!("\"@{}\"", PEERS[*p]),
                    Target::InitPeer => "%init_peer_id%".to_owned(),
                    Target::Scalar(k) => self
                        .scalar(*k)
                        .map_or_else(|| format!("\"@{}\"", PEERS[1]), str::to_owned),
                };
                let args: Vec<String> = args.iter().map(|a| self.arg(a)).collect();
                let args = args.join(" ");
                let output = self.output(output);
                write!(self.out, "(call {target} (\"s\" \"f{function}\") [{args}]").unwrap();
                if let Some(output) = &output {
                    write!(self.out, " {output}").unwrap();
                }
                self.out.push(')');
                self.define(output);
            }
            Node::Ap(arg, output) => {
                let arg = self.arg(arg);
                let output = self.output(output).unwrap_or_else(|| self.fresh("x"));
                write!(self.out, "(ap {arg} {output})").unwrap();
                self.define(Some(output));
            }
            Node::Canon { peer, stream, then } => {
                let canon = self.fresh("#c");
                write!(
                    self.out,
                    "(new {canon} (seq (canon \"@{}\" $s{stream} {canon}) ",
                    PEERS[*peer]
                )
                .unwrap();
                self.canons.push(canon);
                self.node(then);
                self.canons.pop();
                self.out.push_str("))");
            }
            Node::ApMap { key, value, map } => {
                let map = (*map).max(self.writable_maps_from);
                if map < MAPS {
                    self.written_maps[map] = true;
                    let (key, value) = (self.arg(key), self.arg(value));
                    write!(self.out, "(ap ({key} {value}) %m{map})").unwrap();
                } else {
                    self.out.push_str("(null)");
                }
            }
            Node::CanonMap {
                peer,
                map,
                to_scalar,
                then,
            } => {
                let peer = PEERS[*peer];
                if *to_scalar {
                    let scalar = self.fresh("x");
                    write!(self.out, "(seq (canon \"@{peer}\" %m{map} {scalar}) ").unwrap();
                    let scope = self.scalars.len();
                    self.scalars.push(scalar);
                    self.node(then);
                    self.scalars.truncate(scope);
                    self.out.push(')');
                } else {
                    let canon = self.fresh("#%c");
                    write!(
                        self.out,
                        "(new {canon} (seq (canon \"@{peer}\" %m{map} {canon}) "
                    )
                    .unwrap();
                    self.canon_maps.push(canon);
                    self.node(then);
                    self.canon_maps.pop();
                    self.out.push_str("))");
                }
            }
            Node::Seq(a, b) => self.pair("seq", a, b),
            Node::Par(a, b) => self.pair("par", a, b),
            Node::Xor(a, b) => self.pair("xor", a, b),
            Node::NewStream(stream, body) => {
                write!(self.out, "(new $s{stream} ").unwrap();
                self.node(body);
                self.out.push(')');
            }
            Node::Fold {
                iterable,
                par,
                next,
                body,
                last,
            } => self.fold(iterable, *par, *next, body, last.as_deref()),
            Node::Match {
                equal,
                left,
                right,
                body,
            } => {
                let keyword = if *equal { "match" } else { "mismatch" };
                let left = self.arg(left);
                let right = right.as_ref().map_or_else(|| left.clone(), |r| self.arg(r));
                write!(self.out, "({keyword} {left} {right} ").unwrap();
                self.node(body);
                self.out.push(')');
            }
            Node::Fail(form) => {
                let text = match form {
                    FailForm::Literal(code) => format!("(fail {code} \"failed\")"),
                    FailForm::Error => "(fail :error:)".to_owned(),
                    FailForm::LastError => "(fail %last_error%)".to_owned(),
                    FailForm::Scalar(k) => match self.scalar(*k) {
                        Some(s) => format!("(fail {s})"),
                        None => "(fail 1 \"no scalar\")".to_owned(),
                    },
                };
                self.out.push_str(&text);
            }
            Node::Null => self.out.push_str("(null)"),
            Node::Never => self.out.push_str("(never)"),
        }
    }

    fn define(&mut self, output: Option<String>) {
        if let Some(name) = output.filter(|name| !name.starts_with('$')) {
            self.scalars.push(name);
        }
    }

    fn pair(&mut self, keyword: &str, a: &Node, b: &Node) {
        write!(self.out, "({keyword} ").unwrap();
        self.node(a);
        self.out.push(' ');
        self.node(b);
        self.out.push(')');
    }

    fn fold(
        &mut self,
        iterable: &Iterable,
        par: bool,
        next: bool,
        body: &Node,
        last: Option<&Node>,
    ) {
        let streams: Vec<usize> = (self.writable_from..STREAMS)
            .filter(|s| self.written[*s])
            .collect();
        let maps: Vec<usize> = (self.writable_maps_from..MAPS)
            .filter(|m| self.written_maps[*m])
            .collect();
        let mut folded_stream = None;
        let mut folded_map = None;
        let mut listed = None;
        let mut seeded = false;
        let chosen = match iterable {
            Iterable::Stream(k) if !streams.is_empty() => {
                let stream = streams[k % streams.len()];
                folded_stream = Some(stream);
                Some(format!("$s{stream}"))
            }
            // An unwritten stream is seeded by a list call in par with the fold, so the
            // fold starts while the stream is still empty or growing.
            Iterable::Stream(k) if k % STREAMS >= self.writable_from => {
                let stream = k % STREAMS;
                let peer = PEERS[k % PEERS.len()];
                write!(
                    self.out,
                    "(par (call \"@{peer}\" (\"s\" \"list\") [] $s{stream}) "
                )
                .unwrap();
                self.written[stream] = true;
                folded_stream = Some(stream);
                seeded = true;
                Some(format!("$s{stream}"))
            }
            Iterable::Scalar(k) => self.scalar(*k).map(str::to_owned),
            Iterable::Canon(k) => self.canon(*k).map(str::to_owned),
            Iterable::Map(k) if !maps.is_empty() => {
                let map = maps[k % maps.len()];
                folded_map = Some(map);
                Some(format!("%m{map}"))
            }
            // An unwritten map is seeded in par with the fold by a remote result, so the fold
            // starts before the entry arrives.
            Iterable::Map(k) if k % MAPS >= self.writable_maps_from => {
                let map = k % MAPS;
                let peer = PEERS[k % PEERS.len()];
                let value = self.fresh("x");
                write!(
                    self.out,
                    "(par (seq (call \"@{peer}\" (\"s\" \"list\") [] {value}) (ap (\"{peer}\" {value}) %m{map})) "
                )
                .unwrap();
                self.written_maps[map] = true;
                folded_map = Some(map);
                seeded = true;
                Some(format!("%m{map}"))
            }
            Iterable::CanonMap(k) => self.canon_map(*k).map(str::to_owned),
            _ => None,
        };
        let iterable = chosen.unwrap_or_else(|| {
            let list = self.fresh("x");
            let peer = match iterable {
                Iterable::List(p) => PEERS[*p],
                _ => PEERS[0],
            };
            write!(
                self.out,
                "(seq (call \"@{peer}\" (\"s\" \"list\") [] {list}) "
            )
            .unwrap();
            listed = Some(list.clone());
            list
        });
        // A listed iterable stays in scope after the fold, like any call result.
        self.define(listed.clone());
        let iterator = self.fresh("i");
        write!(self.out, "(fold {iterable} {iterator} ").unwrap();
        let saved_writable = (self.writable_from, self.writable_maps_from);
        if let Some(s) = folded_stream {
            self.writable_from = s + 1;
        }
        if let Some(m) = folded_map {
            self.writable_maps_from = m + 1;
        }
        let scope = self.scalars.len();
        self.scalars.push(iterator.clone());
        if next {
            let keyword = if par { "par" } else { "seq" };
            write!(self.out, "({keyword} ").unwrap();
            self.node(body);
            write!(self.out, " (next {iterator}))").unwrap();
        } else {
            self.node(body);
        }
        // The last instruction sees the iterator but no scalar of the body.
        self.scalars.truncate(scope + 1);
        if let Some(last) = last {
            self.out.push(' ');
            self.node(last);
        }
        self.scalars.truncate(scope);
        (self.writable_from, self.writable_maps_from) = saved_writable;
        self.out.push(')');
        if listed.is_some() || seeded {
            self.out.push(')');
        }
    }
}

impl Program {
    /// The program as a scenario file: header directives, then the script.
    fn scenario_text(&self) -> String {
        let mut text = String::from("; A random program.\n");
        writeln!(text, "; peers: {}", PEERS.join(" ")).unwrap();
        writeln!(text, "; max-steps: {MAX_STEPS}").unwrap();
        if self.lifo {
            text.push_str("; network: lifo\n");
        }
        let redeliver: Vec<&str> = PEERS
            .iter()
            .zip(&self.redeliver)
            .filter(|(_, on)| **on)
            .map(|(p, _)| *p)
            .collect();
        if !redeliver.is_empty() {
            writeln!(text, "; redeliver: {}", redeliver.join(" ")).unwrap();
        }
        writeln!(
            text,
            "; service * s.list: ok {}",
            Value::Array(self.list.clone())
        )
        .unwrap();
        for (peer, functions) in PEERS.iter().zip(&self.services) {
            for (function, answer) in functions.iter().enumerate() {
                let behaviour = match answer {
                    None => continue,
                    Some(Answer::Ok(v)) => format!("ok {v}"),
                    Some(Answer::Err(code, v)) => format!("err {code} {v}"),
                    Some(Answer::Echo) => "echo".to_owned(),
                    Some(Answer::Seq(vs)) => format!("seq {}", Value::Array(vs.clone())),
                };
                writeln!(text, "; service {peer} s.f{function}: {behaviour}").unwrap();
            }
        }
        let mut printer = Printer::default();
        printer.node(&self.root);
        text.push_str(&printer.out);
        text.push('\n');
        text
    }
}

static REFERENCE: ReferenceEngine = ReferenceEngine;
static VM: VmEngine = VmEngine;

fn same_outcome(program: &Program) -> Result<(), TestCaseError> {
    let text = program.scenario_text();
    let scenario =
        Scenario::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
    let expected = scenario.run(&|_, _| &REFERENCE as &dyn Engine).render();
    let ours = scenario.run(&|_, _| &VM as &dyn Engine).render();
    prop_assert!(
        expected == ours,
        "the VMs differ on\n{text}\n--- reference:\n{expected}--- vm:\n{ours}"
    );
    // Each VM also has to continue from the other's data.
    let mixed = scenario
        .run(&|_, run| {
            if run % 2 == 1 {
                &VM as &dyn Engine
            } else {
                &REFERENCE
            }
        })
        .render();
    prop_assert!(
        expected == mixed,
        "alternating VMs differ on\n{text}\n--- reference:\n{expected}--- alternating:\n{mixed}"
    );
    Ok(())
}

#[test]
fn random_programs_agree_with_reference() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let defaults = Config::default();
    let rng_seed = match defaults.rng_seed {
        RngSeed::Random => RngSeed::Fixed(DEFAULT_SEED),
        seed => seed,
    };
    let config = Config {
        cases,
        rng_seed,
        failure_persistence: None,
        ..defaults
    };
    // Deep generated trees need more stack than a test thread has in debug builds.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut runner = TestRunner::new(config);
            if let Err(error) = runner.run(&program(), |p| same_outcome(&p)) {
                panic!("{error}");
            }
        })
        .expect("spawn the test thread")
        .join()
        .expect("random programs agree");
}
