//! The round-trip law: for every script, `parse(print(script)) == script`, and printing is
//! idempotent. Scripts are random trees built through the public construction API, with every
//! value form in every position that accepts it.

use air::ast::{Accessor, Call, Canon, CanonForm, Fail, Fold, FoldForm, Instr, InstrId};
use air::{Script, Span, Value};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Lens {
    Length,
    Path(Vec<Acc>, bool),
}

#[derive(Clone, Debug)]
enum Acc {
    Field(String),
    Index(u32),
    Var(String),
}

#[derive(Clone, Debug)]
enum V {
    InitPeerId,
    Timestamp,
    Ttl,
    EmptyArray,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    LastError(Option<Lens>),
    Error(Option<Lens>),
    Scalar(String, Option<Lens>),
    Stream(String),
    StreamMap(String),
    Canon(String, Option<Lens>),
    CanonMap(String, Option<Lens>),
}

#[derive(Clone, Debug)]
enum Node {
    Call(V, V, V, Vec<V>, Option<V>),
    Canon(CanonForm, V, V, V),
    Ap(V, V),
    ApMap(V, V, V),
    Seq(Box<Node>, Box<Node>),
    Par(Box<Node>, Box<Node>),
    Xor(Box<Node>, Box<Node>),
    New(V, Box<Node>),
    Fold(V, V, Box<Node>, Option<Box<Node>>),
    Next(V),
    Match(V, V, Box<Node>),
    Mismatch(V, V, Box<Node>),
    FailValue(V),
    FailLiteral(i64, String),
    Never,
    Null,
}

fn name() -> impl Strategy<Value = String> {
    // Names may start with a digit or `-` as long as they do not read as numbers.
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_-]{0,8}",
        "-[a-z][a-z0-9-]{0,6}",
        "[0-9][a-z][a-z0-9]{0,4}",
        "[а-яé][a-z]{0,3}",
    ]
    .prop_filter("keywords are not names", |n| {
        !matches!(
            n.as_str(),
            "call"
                | "canon"
                | "ap"
                | "seq"
                | "par"
                | "xor"
                | "new"
                | "fold"
                | "next"
                | "match"
                | "mismatch"
                | "fail"
                | "never"
                | "null"
                | "true"
                | "false"
        )
    })
}

fn field() -> impl Strategy<Value = String> {
    "[a-zA-Z_-][a-zA-Z0-9_-]{0,6}"
}

fn lens() -> impl Strategy<Value = Lens> {
    let accessor = prop_oneof![
        field().prop_map(Acc::Field),
        any::<u32>().prop_map(Acc::Index),
        field().prop_map(Acc::Var),
    ];
    prop_oneof![
        1 => Just(Lens::Length),
        4 => (prop::collection::vec(accessor, 1..4), any::<bool>())
            .prop_map(|(accessors, flatten)| Lens::Path(accessors, flatten)),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    // Any float that a literal of at most 11 characters can spell.
    "-?[0-9]{1,4}\\.[0-9]{0,5}".prop_map(|text| text.parse().expect("a float literal"))
}

fn string() -> impl Strategy<Value = String> {
    "[^\"]{0,12}"
}

fn scalar_value(with_lens: bool) -> BoxedStrategy<V> {
    if with_lens {
        (name(), prop::option::of(lens()))
            .prop_map(|(n, l)| V::Scalar(n, l))
            .boxed()
    } else {
        name().prop_map(|n| V::Scalar(n, None)).boxed()
    }
}

fn canon_lensed() -> impl Strategy<Value = V> {
    prop_oneof![
        (name(), lens()).prop_map(|(n, l)| V::Canon(format!("#{n}"), Some(l))),
        (name(), lens()).prop_map(|(n, l)| V::Canon(format!("#${n}"), Some(l))),
        (name(), lens()).prop_map(|(n, l)| V::CanonMap(format!("#%{n}"), Some(l))),
    ]
}

fn stream() -> impl Strategy<Value = V> {
    name().prop_map(|n| V::Stream(format!("${n}")))
}

fn stream_map() -> impl Strategy<Value = V> {
    name().prop_map(|n| V::StreamMap(format!("%{n}")))
}

fn canon_plain() -> impl Strategy<Value = V> {
    prop_oneof![
        name().prop_map(|n| V::Canon(format!("#{n}"), None)),
        name().prop_map(|n| V::Canon(format!("#${n}"), None)),
    ]
}

fn canon_map_plain() -> impl Strategy<Value = V> {
    name().prop_map(|n| V::CanonMap(format!("#%{n}"), None))
}

// Any value that a call argument accepts: everything but streams and stream maps.
fn argument() -> BoxedStrategy<V> {
    prop_oneof![
        Just(V::InitPeerId),
        Just(V::Timestamp),
        Just(V::Ttl),
        Just(V::EmptyArray),
        any::<bool>().prop_map(V::Bool),
        any::<i64>().prop_map(V::Int),
        float().prop_map(V::Float),
        string().prop_map(V::Str),
        prop::option::of(lens()).prop_map(V::LastError),
        prop::option::of(lens()).prop_map(V::Error),
        scalar_value(true),
        canon_plain(),
        canon_map_plain(),
        canon_lensed(),
    ]
    .boxed()
}

fn peer() -> BoxedStrategy<V> {
    prop_oneof![
        Just(V::InitPeerId),
        string().prop_map(V::Str),
        scalar_value(true),
        canon_lensed(),
    ]
    .boxed()
}

fn string_like() -> BoxedStrategy<V> {
    prop_oneof![
        string().prop_map(V::Str),
        scalar_value(true),
        canon_lensed()
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Node> {
    let output = prop_oneof![scalar_value(false), stream()];
    prop_oneof![
        (
            peer(),
            string_like(),
            string_like(),
            prop::collection::vec(argument(), 0..4),
            prop::option::of(output.clone())
        )
            .prop_map(|(p, s, f, a, o)| Node::Call(p, s, f, a, o)),
        (peer(), stream(), canon_plain()).prop_map(|(p, s, t)| Node::Canon(
            CanonForm::Stream,
            p,
            s,
            t
        )),
        (peer(), stream_map(), canon_map_plain()).prop_map(|(p, s, t)| Node::Canon(
            CanonForm::StreamMap,
            p,
            s,
            t
        )),
        (peer(), stream_map(), scalar_value(false)).prop_map(|(p, s, t)| Node::Canon(
            CanonForm::StreamMapToScalar,
            p,
            s,
            t
        )),
        (
            argument().prop_filter("ap takes no bare canon map", |v| !matches!(
                v,
                V::CanonMap(_, None)
            )),
            output
        )
            .prop_map(|(v, t)| Node::Ap(v, t)),
        (
            prop_oneof![
                string().prop_map(V::Str),
                any::<i64>().prop_map(V::Int),
                scalar_value(true),
                (name(), lens()).prop_map(|(n, l)| V::Canon(format!("#{n}"), Some(l))),
            ],
            argument().prop_filter("ap takes no bare canon map", |v| !matches!(
                v,
                V::CanonMap(_, None)
            )),
            stream_map()
        )
            .prop_map(|(k, v, m)| Node::ApMap(k, v, m)),
        scalar_value(false).prop_map(Node::Next),
        prop_oneof![
            scalar_value(true),
            canon_lensed().prop_filter("fail takes a canon stream, not a map", |v| matches!(
                v,
                V::Canon(..)
            )),
            Just(V::LastError(None)),
            Just(V::Error(None)),
        ]
        .prop_map(Node::FailValue),
        (any::<i64>().prop_filter("non-zero", |c| *c != 0), string())
            .prop_map(|(c, m)| Node::FailLiteral(c, m)),
        Just(Node::Never),
        Just(Node::Null),
    ]
    .boxed()
}

fn tree() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(8, 64, 2, |inner| {
        let new_variable = prop_oneof![
            scalar_value(false),
            stream(),
            stream_map(),
            canon_plain(),
            canon_map_plain()
        ];
        let iterable = prop_oneof![
            scalar_value(true),
            canon_plain(),
            canon_map_plain(),
            (name(), lens()).prop_map(|(n, l)| V::CanonMap(format!("#%{n}"), Some(l))),
            Just(V::EmptyArray),
            stream(),
            stream_map(),
        ];
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Node::Seq(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Node::Par(a.into(), b.into())),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Node::Xor(a.into(), b.into())),
            (new_variable, inner.clone()).prop_map(|(v, b)| Node::New(v, b.into())),
            (
                iterable,
                scalar_value(false),
                inner.clone(),
                prop::option::of(inner.clone())
            )
                .prop_map(|(i, n, b, l)| Node::Fold(i, n, b.into(), l.map(Box::new))),
            (argument(), argument(), inner.clone()).prop_map(|(l, r, b)| Node::Match(
                l,
                r,
                b.into()
            )),
            (argument(), argument(), inner).prop_map(|(l, r, b)| Node::Mismatch(l, r, b.into())),
        ]
    })
}

fn push_lens(script: &mut Script, lens: &Option<Lens>) -> Option<air::ast::LensId> {
    match lens.as_ref()? {
        Lens::Length => Some(script.push_lens_length()),
        Lens::Path(accessors, flatten) => {
            let accessors: Vec<Accessor> = accessors
                .iter()
                .map(|a| match a {
                    Acc::Field(f) => Accessor::Field(script.intern(f)),
                    Acc::Index(i) => Accessor::Index(*i),
                    Acc::Var(v) => Accessor::Var(script.intern(v)),
                })
                .collect();
            Some(script.push_lens_path(&accessors, *flatten))
        }
    }
}

fn value(script: &mut Script, v: &V) -> Value {
    match v {
        V::InitPeerId => Value::InitPeerId,
        V::Timestamp => Value::Timestamp,
        V::Ttl => Value::Ttl,
        V::EmptyArray => Value::EmptyArray,
        V::Bool(b) => Value::Bool(*b),
        V::Int(n) => Value::Int(*n),
        V::Float(f) => Value::Float(*f),
        V::Str(s) => Value::String(script.intern(s)),
        V::LastError(l) => Value::LastError(push_lens(script, l)),
        V::Error(l) => Value::Error(push_lens(script, l)),
        V::Scalar(n, l) => {
            let lens = push_lens(script, l);
            Value::Scalar(script.intern(n), lens)
        }
        V::Stream(n) => Value::Stream(script.intern(n)),
        V::StreamMap(n) => Value::StreamMap(script.intern(n)),
        V::Canon(n, l) => {
            let lens = push_lens(script, l);
            Value::Canon(script.intern(n), lens)
        }
        V::CanonMap(n, l) => {
            let lens = push_lens(script, l);
            Value::CanonMap(script.intern(n), lens)
        }
    }
}

fn push(script: &mut Script, v: &V) -> air::ValueId {
    let v = value(script, v);
    script.push_value(v, Span::DUMMY)
}

// Builds children before parents, and pushes values one at a time (not adjacent to their
// instruction's other values), so that `push_instr`'s relocation is exercised too.
fn build(script: &mut Script, node: &Node) -> InstrId {
    let instr = match node {
        Node::Call(p, s, f, args, out) => {
            let (peer, service, function) = (push(script, p), push(script, s), push(script, f));
            let values: Vec<(Value, Span)> = args
                .iter()
                .map(|a| (value(script, a), Span::DUMMY))
                .collect();
            let args = script.push_values(values);
            let output = out.as_ref().map(|o| push(script, o));
            Instr::Call(Call {
                peer,
                service,
                function,
                args,
                output,
            })
        }
        Node::Canon(form, p, s, t) => Instr::Canon(Canon {
            form: *form,
            peer: push(script, p),
            source: push(script, s),
            target: push(script, t),
        }),
        Node::Ap(v, t) => Instr::Ap {
            value: push(script, v),
            target: push(script, t),
        },
        Node::ApMap(k, v, m) => Instr::ApMap {
            key: push(script, k),
            value: push(script, v),
            map: push(script, m),
        },
        Node::Seq(a, b) => Instr::Seq(build(script, a), build(script, b)),
        Node::Par(a, b) => Instr::Par(build(script, a), build(script, b)),
        Node::Xor(a, b) => Instr::Xor(build(script, a), build(script, b)),
        Node::New(v, b) => {
            let body = build(script, b);
            Instr::New {
                variable: push(script, v),
                body,
            }
        }
        Node::Fold(iterable, iterator, body, last) => {
            let body = build(script, body);
            let last = last.as_ref().map(|l| build(script, l));
            let form = match iterable {
                V::Stream(_) => FoldForm::Stream,
                V::StreamMap(_) => FoldForm::StreamMap,
                _ => FoldForm::Scalar,
            };
            Instr::Fold(Fold {
                form,
                iterable: push(script, iterable),
                iterator: push(script, iterator),
                body,
                last,
            })
        }
        Node::Next(v) => Instr::Next(push(script, v)),
        Node::Match(l, r, b) => {
            let body = build(script, b);
            Instr::Match {
                left: push(script, l),
                right: push(script, r),
                body,
            }
        }
        Node::Mismatch(l, r, b) => {
            let body = build(script, b);
            Instr::Mismatch {
                left: push(script, l),
                right: push(script, r),
                body,
            }
        }
        Node::FailValue(v) => Instr::Fail(Fail::Value(push(script, v))),
        Node::FailLiteral(code, message) => Instr::Fail(Fail::Literal {
            code: push(script, &V::Int(*code)),
            message: push(script, &V::Str(message.clone())),
        }),
        Node::Never => Instr::Never,
        Node::Null => Instr::Null,
    };
    script.push_instr(instr, Span::DUMMY)
}

fn round_trip(node: &Node) -> Result<(), TestCaseError> {
    let mut script = Script::new();
    let root = build(&mut script, node);
    script.set_root(root);
    let printed = air::print(&script);
    let parsed = air::parse(&printed);
    prop_assert!(
        parsed.diagnostics.is_empty(),
        "{printed}\n{:?}",
        parsed.diagnostics
    );
    prop_assert!(parsed.script == script, "tree changed:\n{printed}");
    prop_assert_eq!(air::print(&parsed.script), printed);
    Ok(())
}

#[test]
fn parse_print_round_trip() {
    // The nested strategies of this generator need more stack than a test thread has in debug
    // builds; the code under test itself does not recurse.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let mut runner =
                proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(2000));
            if let Err(error) = runner.run(&tree(), |node| round_trip(&node)) {
                panic!("{error}");
            }
        })
        .expect("spawn the test thread")
        .join()
        .expect("round trip holds");
}
