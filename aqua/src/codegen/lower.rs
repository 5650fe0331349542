//! Inlining: a function, with every function, closure and ability it uses, becomes one
//! instruction tree. Values known when compiling (arrows, abilities, services, literals)
//! are carried in [`Val`]s and never reach AIR.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use super::gates::Gate;
use super::op::{Data, Location, OnKind, Op, Step, Var, VarKind, Via};
use super::Options;
use crate::sema::hir::*;
use crate::sema::types::Type;
use crate::sema::Program;
use crate::syntax::ast::{CollectionKind, ForMode, InfixOp};

/// How deep inlining may nest: deeper means a runaway program, not a real one.
const MAX_INLINE_DEPTH: usize = 200;

/// A value while compiling.
#[derive(Clone, Debug)]
pub enum Val {
    Data(Data),
    Arrow(Rc<Arrow>),
    Ability(Rc<BTreeMap<String, Val>>),
    /// A service, by its id, with the name it is declared with.
    Service(Data, Rc<str>),
    /// What a call without results gives.
    Unit,
}

/// Something callable.
#[derive(Debug)]
pub enum Arrow {
    Func(FuncId),
    Closure {
        /// The name it was defined with.
        name: Rc<str>,
        owner: FuncId,
        closure: Arc<Closure>,
        env: Env,
        /// Where the closure was defined, unless it is detached (`func (...)`).
        location: Option<Location>,
    },
    /// An arrow argument of the compiled function: a callback on the client.
    Callback(Rc<str>),
    Method {
        service: Data,
        /// The name the service is declared with.
        service_name: Rc<str>,
        method: Rc<str>,
    },
}

impl Arrow {
    /// The name `--tracing` reports for a call of the arrow, as the reference compiler names
    /// it.
    fn label(&self, program: &Program) -> String {
        match self {
            Arrow::Func(id) => program.func(*id).name.clone(),
            Arrow::Closure { name, .. } => name.to_string(),
            Arrow::Callback(name) => format!("init_peer_callable_{name}"),
            Arrow::Method {
                service_name,
                method,
                ..
            } => format!("{service_name}.{method}"),
        }
    }
}

/// The values of locals and the service ids in scope.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vals: HashMap<LocalId, Val>,
    service_ids: HashMap<ServiceId, Data>,
}

/// One inlined function or closure.
struct Frame {
    owner: FuncId,
    env: Env,
    results: Option<Vec<Val>>,
    result_types: Vec<Type>,
}

pub struct Lower<'p> {
    program: &'p Program,
    options: &'p Options,
    names: HashMap<String, u32>,
    locations: Vec<Location>,
    depth: usize,
    /// The first construct that cannot be compiled, if any.
    pub unsupported: Option<String>,
    /// The stream gates written, for `gates::settle`.
    pub gates: Vec<Gate>,
    /// The variables that `parseq` branches write.
    parseq_writes: HashSet<Rc<str>>,
    /// Streams made by the statement being lowered, or returned by a function it inlined,
    /// that the enclosing block scopes with `new` (or hands on to its caller when its
    /// function returns them).
    escaped: Vec<Var>,
}

fn relay() -> Data {
    Var::scalar("-relay-").value()
}

impl<'p> Lower<'p> {
    pub fn new(program: &'p Program, options: &'p Options) -> Self {
        Lower {
            program,
            options,
            names: HashMap::new(),
            locations: Vec::new(),
            depth: 0,
            unsupported: None,
            gates: Vec::new(),
            parseq_writes: HashSet::new(),
            escaped: Vec::new(),
        }
    }

    /// Where the client is: the init peer, behind its relay.
    pub fn root_location(&self) -> Location {
        let via = if self.options.no_relay {
            Vec::new()
        } else {
            vec![Via {
                peer: relay(),
                many: false,
            }]
        };
        Location {
            peer: Data::InitPeerId,
            via,
        }
    }

    fn here(&self) -> Location {
        self.locations
            .last()
            .cloned()
            .unwrap_or_else(|| self.root_location())
    }

    fn unsupported(&mut self, what: &str) -> Val {
        if self.unsupported.is_none() {
            self.unsupported = Some(what.to_string());
        }
        Val::Data(Data::EmptyArray)
    }

    /// A variable name not used before in this script.
    fn fresh(&mut self, base: &str) -> Rc<str> {
        let count = self.names.entry(base.to_string()).or_insert(0);
        let name = if *count == 0 {
            base.to_string()
        } else {
            format!("{base}-{}", *count - 1)
        };
        *count += 1;
        name.into()
    }

    // ---- the compiled function -----------------------------------------------------------

    /// The whole script of an exported function: arguments from `getDataSrv`, the body,
    /// results to `callbackSrv.response`, errors to `errorHandlingSrv.error`. `exported_as`
    /// names the function in traces.
    pub fn function(&mut self, id: FuncId, exported_as: &str) -> Op {
        let def = &self.program.func(id);
        let mut ops = Vec::new();
        self.escaped.clear();
        if !self.options.no_relay {
            ops.push(client_call(
                "getDataSrv",
                "-relay-",
                vec![],
                Some(Var::scalar("-relay-")),
            ));
        }
        let mut frame = Frame {
            owner: id,
            env: Env::default(),
            results: None,
            result_types: def.arrow.results.clone(),
        };
        for &param in &def.params {
            let local = &def.locals[param.0 as usize];
            let name: Rc<str> = local.name.as_str().into();
            let val = match &local.ty {
                Type::Arrow(_) => Val::Arrow(Rc::new(Arrow::Callback(name))),
                Type::Ability(_) => {
                    self.unsupported("an exported function with ability parameters")
                }
                Type::Stream(_) => {
                    let array = Var::scalar(self.fresh(&format!("-{name}-arg-")));
                    ops.push(client_call(
                        "getDataSrv",
                        &name,
                        vec![],
                        Some(array.clone()),
                    ));
                    let stream = Var::stream(self.fresh(&name));
                    let item: Rc<str> = self.fresh(&format!("{name}-iter"));
                    ops.push(Op::Fold {
                        iterable: array.value(),
                        iterator: item.clone(),
                        body: Box::new(Op::seq(vec![
                            Op::Ap(Var::scalar(item.clone()).value(), stream.clone()),
                            Op::Next(item),
                        ])),
                        last: Some(Box::new(Op::Null)),
                    });
                    Val::Data(stream.value())
                }
                _ => {
                    let var = Var::scalar(self.fresh(&format!("-{name}-arg-")));
                    ops.push(client_call("getDataSrv", &name, vec![], Some(var.clone())));
                    Val::Data(var.value())
                }
            };
            frame.env.vals.insert(param, val);
        }
        let body = self.block(&mut frame, &def.body.stmts);
        ops.push(self.traced(exported_as, body));
        if let Some(results) = frame.results.take() {
            if !results.is_empty() {
                let mut body_tail = Vec::new();
                let args: Vec<Data> = results
                    .into_iter()
                    .map(|v| self.data(v, &mut body_tail))
                    .collect();
                let response = client_call("callbackSrv", "response", args, None);
                body_tail.push(response);
                // The response goes to the client wherever the body ended.
                ops.push(Op::On {
                    location: self.root_location(),
                    body: Box::new(Op::seq(body_tail)),
                    kind: OnKind::Block,
                });
            }
        }
        let main = Op::seq(ops);
        if self.options.no_xor {
            return main;
        }
        let handler = client_call(
            "errorHandlingSrv",
            "error",
            vec![Data::Error(Vec::new()), Data::Int(0)],
            None,
        );
        Op::Xor(Box::new(main), Box::new(handler))
    }

    /// With `--tracing`, `body` (an inlined call, or the function itself) reports to the
    /// client's `tracingSrv.tracingEvent` as the reference compiler's tracing mode does:
    /// `[label, "enter"]` before, `[label, "exit"]` after, both in detached branches (a
    /// failing tracer cannot break the program); on an error `[label, "exit with error:
    /// <message>"]`, then the error is raised again. A body without instructions is not
    /// traced; a closure that keeps the location of its definition is an `On` block, so it is
    /// traced even when empty, as in the reference.
    fn traced(&mut self, label: &str, body: Op) -> Op {
        if !self.options.tracing || body == Op::Null {
            return body;
        }
        let client = self.root_location();
        let on_client = |op: Op, kind: OnKind| Op::On {
            location: client.clone(),
            body: Box::new(op),
            kind,
        };
        let label: Rc<str> = label.into();
        let event = |what: Data| {
            client_call(
                "tracingSrv",
                "tracingEvent",
                vec![Data::Str(label.clone()), what],
                None,
            )
        };
        let detached = |op: Op| Op::Par(vec![on_client(op, OnKind::Detached), Op::Null]);
        let message = Var::scalar(self.fresh("-return-error-msg-"));
        let describe = client_call(
            "op",
            "concat_strings",
            vec![
                Data::Str("exit with error: ".into()),
                Data::Error(vec![Step::Field("message".into())]),
            ],
            Some(message.clone()),
        );
        let report = on_client(
            Op::New(
                message.clone(),
                Box::new(Op::seq(vec![describe, event(message.value())])),
            ),
            OnKind::Block,
        );
        Op::seq(vec![
            detached(event(Data::Str("enter".into()))),
            Op::Xor(
                Box::new(Op::seq(vec![
                    body,
                    detached(event(Data::Str("exit".into()))),
                ])),
                Box::new(Op::seq(vec![report, Op::Fail(Data::Error(Vec::new()))])),
            ),
        ])
    }

    // ---- statements ----------------------------------------------------------------------

    fn block(&mut self, frame: &mut Frame, stmts: &[Stmt]) -> Op {
        let saved_ids = frame.env.service_ids.clone();
        let op = self.stmts(frame, stmts);
        frame.env.service_ids = saved_ids;
        op
    }

    fn stmts(&mut self, frame: &mut Frame, stmts: &[Stmt]) -> Op {
        self.stmts_scoping(frame, stmts, true)
    }

    /// The statements in sequence. With `scoping`, the streams that a statement makes or gets
    /// from a call are scoped here; without (an `on` block, whose names live on after it),
    /// they are left to the enclosing block.
    fn stmts_scoping(&mut self, frame: &mut Frame, stmts: &[Stmt], scoping: bool) -> Op {
        let mut ops = Vec::new();
        for (i, stmt) in stmts.iter().enumerate() {
            // The streams whose scope starts here, what of this statement goes inside that
            // scope, and where the rest of the block starts.
            let (streams, mut body, rest_from) = if let StmtKind::DeclareStream(local) = &stmt.kind
            {
                if frame.env.vals.contains_key(local) {
                    // Declared inside an `on` and already scoped around it.
                    continue;
                }
                (vec![self.declare_stream(frame, *local)], Vec::new(), i + 1)
            } else {
                // Names declared in an `on` block live on after it: so do its streams.
                let mut hoisted = Vec::new();
                streams_declared_in_on(stmt, &mut hoisted);
                hoisted.retain(|l| !frame.env.vals.contains_key(l));
                if hoisted.is_empty() {
                    let op = self.stmt(frame, stmt);
                    if !scoping || self.escaped.is_empty() {
                        ops.push(op);
                        continue;
                    }
                    (std::mem::take(&mut self.escaped), vec![op], i + 1)
                } else {
                    let vars = hoisted
                        .into_iter()
                        .map(|l| self.declare_stream(frame, l))
                        .collect();
                    (vars, Vec::new(), i)
                }
            };
            body.push(self.stmts_scoping(frame, &stmts[rest_from..], scoping));
            ops.push(self.scope(frame, streams, Op::seq(body)));
            return Op::seq(ops);
        }
        Op::seq(ops)
    }

    /// `body` inside `new` for each of `streams`, except those the frame returns: their scope
    /// is the caller's.
    fn scope(&mut self, frame: &Frame, streams: Vec<Var>, mut body: Op) -> Op {
        for var in streams.into_iter().rev() {
            let returned = frame
                .results
                .as_ref()
                .is_some_and(|results| results.iter().any(|r| mentions(r, &var, &mut Vec::new())));
            if returned {
                self.escaped.push(var);
            } else {
                body = Op::New(var, Box::new(body));
            }
        }
        body
    }

    fn declare_stream(&mut self, frame: &mut Frame, local: LocalId) -> Var {
        let def = self.local(frame.owner, local);
        let base = def.name.clone();
        let var = match def.ty {
            Type::StreamMap(_) => Var::map(self.fresh(&base)),
            _ => Var::stream(self.fresh(&base)),
        };
        frame.env.vals.insert(local, Val::Data(var.value()));
        var
    }

    fn stmt(&mut self, frame: &mut Frame, stmt: &Stmt) -> Op {
        crate::deep(|| self.stmt_inner(frame, stmt))
    }

    fn stmt_inner(&mut self, frame: &mut Frame, stmt: &Stmt) -> Op {
        let mut out = Vec::new();
        match &stmt.kind {
            StmtKind::Call { results, value } => {
                let vals = match &value.kind {
                    ExprKind::Call {
                        callee,
                        abilities,
                        args,
                        ..
                    } => self.call(frame, callee, abilities, args, &mut out),
                    _ => vec![self.expr(frame, value, &mut out)],
                };
                let mut vals = vals.into_iter();
                for target in results {
                    let Some(val) = vals.next() else { break };
                    match target {
                        Target::Bind(local) => {
                            frame.env.vals.insert(*local, val);
                        }
                        Target::Push(stream) => {
                            let data = self.data(val, &mut out);
                            let stream = self.stream_var(frame, *stream);
                            out.push(Op::Ap(data, stream));
                        }
                        Target::PushEntry(map) => {
                            let key = self.data(val, &mut out);
                            let value = vals.next().unwrap_or(Val::Unit);
                            let value = self.data(value, &mut out);
                            let map = self.stream_var(frame, *map);
                            out.push(Op::ApMap { key, value, map });
                        }
                    }
                }
            }
            StmtKind::Assign { local, value } => {
                let val = self.expr(frame, value, &mut out);
                frame.env.vals.insert(*local, val);
            }
            StmtKind::Closure { local, closure } => {
                let location = (!closure.detached).then(|| self.here());
                let arrow = Arrow::Closure {
                    name: self.local_name(frame, *local).into(),
                    owner: frame.owner,
                    closure: closure.clone(),
                    env: frame.env.clone(),
                    location,
                };
                frame.env.vals.insert(*local, Val::Arrow(Rc::new(arrow)));
            }
            StmtKind::Return(values) => {
                let types = frame.result_types.clone();
                let mut results = Vec::new();
                for (value, ty) in values
                    .iter()
                    .zip(types.iter().chain(std::iter::repeat(&Type::Error)))
                {
                    let val = self.expr(frame, value, &mut out);
                    // A stream returned as an array is fixed here, inside the stream's scope.
                    let val = match (val, ty) {
                        (Val::Data(d), t) if d.is_stream() && !t.is_stream() => {
                            Val::Data(self.data(Val::Data(d), &mut out))
                        }
                        (v, _) => v,
                    };
                    results.push(val);
                }
                frame.results = Some(results);
            }
            StmtKind::DeclareStream(_) => unreachable!("handled by the block"),
            StmtKind::Push { target, key, value } => {
                let val = self.expr(frame, value, &mut out);
                let data = self.data(val, &mut out);
                let var = self.stream_var(frame, *target);
                match key {
                    Some(key) => {
                        let k = self.expr(frame, key, &mut out);
                        let k = self.data(k, &mut out);
                        out.push(Op::ApMap {
                            key: k,
                            value: data,
                            map: var,
                        });
                    }
                    None => out.push(Op::Ap(data, var)),
                }
            }
            StmtKind::ServiceId { service, id } => {
                let val = self.expr(frame, id, &mut out);
                let data = self.data(val, &mut out);
                frame.env.service_ids.insert(*service, data);
            }
            StmtKind::On { peer, via, body } => {
                let location = self.location(frame, peer, via, &mut out);
                self.locations.push(location.clone());
                let saved_ids = frame.env.service_ids.clone();
                let body = self.stmts_scoping(frame, &body.stmts, false);
                frame.env.service_ids = saved_ids;
                self.locations.pop();
                out.push(Op::On {
                    location,
                    body: Box::new(body),
                    kind: OnKind::Block,
                });
            }
            StmtKind::For {
                item,
                iterable,
                mode,
                body,
            } => {
                let op = self.for_loop(frame, item, iterable, *mode, body, &mut out);
                out.push(op);
            }
            StmtKind::Parseq {
                item,
                iterable,
                peer,
                via,
                body,
            } => {
                let val = self.expr(frame, iterable, &mut out);
                let iterable = self.iterable(val, &mut out);
                let iterator = self.bind_item(frame, item);
                let mut prefix = Vec::new();
                let location = self.location(frame, peer, via, &mut prefix);
                self.locations.push(location.clone());
                let body = self.block(frame, &body.stmts);
                self.locations.pop();
                body.written(&mut self.parseq_writes);
                prefix.push(Op::On {
                    location,
                    body: Box::new(body),
                    kind: OnKind::Parseq,
                });
                out.push(Op::Fold {
                    iterable,
                    iterator: iterator.clone(),
                    body: Box::new(Op::Par(vec![Op::seq(prefix), Op::Next(iterator)])),
                    last: Some(Box::new(Op::Never)),
                });
            }
            StmtKind::If {
                condition,
                then,
                otherwise,
            } => {
                let op = self.if_else(frame, condition, then, otherwise.as_ref(), &mut out);
                out.push(op);
            }
            StmtKind::Try(body) => out.push(self.block(frame, &body.stmts)),
            StmtKind::Recover {
                first,
                error,
                handler,
            } => {
                let first = self.stmt(frame, first);
                let mut handler_ops = Vec::new();
                if let Some(error) = error {
                    let var = Var::scalar(self.fresh(&self.local_name(frame, *error)));
                    handler_ops.push(Op::Ap(Data::Error(Vec::new()), var.clone()));
                    frame.env.vals.insert(*error, Val::Data(var.value()));
                }
                handler_ops.push(self.block(frame, &handler.stmts));
                out.push(Op::Xor(Box::new(first), Box::new(Op::seq(handler_ops))));
            }
            StmtKind::Par(branches) => {
                let ops = branches.iter().map(|b| self.stmt(frame, b)).collect();
                out.push(Op::Par(ops));
            }
            StmtKind::Co(inner) => {
                let op = self.stmt(frame, inner);
                out.push(Op::Par(vec![op, Op::Null]));
            }
            StmtKind::Join(values) => {
                for value in values {
                    self.expr(frame, value, &mut out);
                }
            }
        }
        Op::seq(out)
    }

    /// The declaration of a local of the function (or closure) being inlined.
    fn local(&self, owner: FuncId, local: LocalId) -> &'p Local {
        &self.program.func(owner).locals[local.0 as usize]
    }

    fn local_name(&self, frame: &Frame, local: LocalId) -> String {
        self.local(frame.owner, local).name.clone()
    }

    fn stream_var(&mut self, frame: &Frame, local: LocalId) -> Var {
        match frame.env.vals.get(&local) {
            Some(Val::Data(Data::Var(var, steps)))
                if steps.is_empty() && matches!(var.kind, VarKind::Stream | VarKind::Map) =>
            {
                var.clone()
            }
            _ => {
                self.unsupported("pushing into a value that is not a stream");
                Var::stream("-invalid-")
            }
        }
    }

    fn location(
        &mut self,
        frame: &mut Frame,
        peer: &Expr,
        via: &[Expr],
        out: &mut Vec<Op>,
    ) -> Location {
        let peer_val = self.expr(frame, peer, out);
        let peer = self.data(peer_val, out);
        let via = via
            .iter()
            .map(|v| {
                let many = !matches!(v.ty, Type::Scalar(_) | Type::Error);
                let val = self.expr(frame, v, out);
                Via {
                    peer: self.data(val, out),
                    many,
                }
            })
            .collect();
        Location { peer, via }
    }

    fn bind_item(&mut self, frame: &mut Frame, item: &ForItem) -> Rc<str> {
        match item {
            ForItem::Single(local) => {
                let name = self.fresh(&format!("{}-{}", self.local_name(frame, *local), "it"));
                frame
                    .env
                    .vals
                    .insert(*local, Val::Data(Var::scalar(name.clone()).value()));
                name
            }
            ForItem::Pair(key, value) => {
                let name = self.fresh("-entry-");
                let entry = Var::scalar(name.clone());
                let k = entry
                    .value()
                    .with_step(Step::Field("key".into()))
                    .expect("a scalar");
                let v = entry
                    .value()
                    .with_step(Step::Field("value".into()))
                    .expect("a scalar");
                frame.env.vals.insert(*key, Val::Data(k));
                frame.env.vals.insert(*value, Val::Data(v));
                name
            }
        }
    }

    /// What a fold iterates: a stream is fixed first, other values are taken as they are.
    fn iterable(&mut self, val: Val, out: &mut Vec<Op>) -> Data {
        let data = self.data(val, out);
        match data {
            Data::Var(ref var, ref steps) if !steps.is_empty() && var.kind == VarKind::Canon => {
                self.flatten(data, "iterable", out)
            }
            Data::Var(..) | Data::EmptyArray => data,
            other => self.flatten(other, "iterable", out),
        }
    }

    fn for_loop(
        &mut self,
        frame: &mut Frame,
        item: &ForItem,
        iterable: &Expr,
        mode: Option<ForMode>,
        body: &Block,
        out: &mut Vec<Op>,
    ) -> Op {
        let val = self.expr(frame, iterable, out);
        let iterable = match (mode, &val) {
            (Some(ForMode::Rec), Val::Data(d)) if d.grows() => d.clone(),
            (_, Val::Data(Data::Var(var, _))) if var.kind == VarKind::Map => {
                self.canon_map(var, out).value()
            }
            _ => self.iterable(val, out),
        };
        let iterator = self.bind_item(frame, item);
        let body = self.block(frame, &body.stmts);
        let next = Op::Next(iterator.clone());
        match mode {
            None => Op::Fold {
                iterable,
                iterator,
                body: Box::new(Op::seq(vec![body, next])),
                last: Some(Box::new(Op::Null)),
            },
            Some(ForMode::Try) => Op::Fold {
                iterable,
                iterator,
                body: Box::new(Op::Xor(Box::new(body), Box::new(next))),
                last: Some(Box::new(Op::Null)),
            },
            Some(ForMode::Par) => Op::Par(vec![
                Op::Fold {
                    iterable,
                    iterator,
                    body: Box::new(Op::Par(vec![body, next])),
                    last: Some(Box::new(Op::Never)),
                },
                Op::Null,
            ]),
            Some(ForMode::Rec) => Op::Fold {
                iterable,
                iterator,
                body: Box::new(Op::Par(vec![body, next])),
                last: Some(Box::new(Op::Never)),
            },
        }
    }

    fn if_else(
        &mut self,
        frame: &mut Frame,
        condition: &Expr,
        then: &Block,
        otherwise: Option<&Block>,
        out: &mut Vec<Op>,
    ) -> Op {
        if let ExprKind::Bool(b) = condition.kind {
            return match (b, otherwise) {
                (true, _) => self.block(frame, &then.stmts),
                (false, Some(o)) => self.block(frame, &o.stmts),
                (false, None) => Op::Null,
            };
        }
        let (left, right, negated) = match &condition.kind {
            ExprKind::Infix {
                op: op @ (InfixOp::Eq | InfixOp::Neq),
                lhs,
                rhs,
            } => {
                let l = self.expr(frame, lhs, out);
                let l = self.data(l, out);
                let r = self.expr(frame, rhs, out);
                let r = self.data(r, out);
                (l, r, *op == InfixOp::Neq)
            }
            _ => {
                let c = self.expr(frame, condition, out);
                (self.data(c, out), Data::Bool(true), false)
            }
        };
        let then = self.block(frame, &then.stmts);
        let otherwise = otherwise.map(|o| self.block(frame, &o.stmts));
        // The condition's own failure (code 10001 for `match`, 10002 for `mismatch`) selects
        // `else`; any other error, from either branch, goes on up.
        let code = Data::Int(if negated { 10002 } else { 10001 });
        let error_code = Data::Error(vec![Step::Field("error_code".into())]);
        let if_error = Var::scalar(self.fresh("-if-error-"));
        let guarded = Op::Match {
            left,
            right,
            body: Box::new(then),
            negated,
        };
        let recover = match otherwise {
            None => Op::Xor(
                Box::new(Op::Match {
                    left: error_code,
                    right: code,
                    body: Box::new(Op::Null),
                    negated: false,
                }),
                Box::new(Op::Fail(if_error.value())),
            ),
            Some(else_op) => {
                let else_error = Var::scalar(self.fresh("-else-error-"));
                let chosen = Var::scalar(self.fresh("-if-else-error-"));
                let rethrow = Op::seq(vec![
                    Op::Ap(Data::Error(Vec::new()), else_error.clone()),
                    Op::Xor(
                        Box::new(Op::Match {
                            left: error_code.clone(),
                            right: code.clone(),
                            body: Box::new(Op::Ap(if_error.value(), chosen.clone())),
                            negated: false,
                        }),
                        Box::new(Op::Ap(else_error.value(), chosen.clone())),
                    ),
                    Op::Fail(chosen.value()),
                ]);
                let op = Op::Xor(
                    Box::new(Op::Match {
                        left: error_code,
                        right: code,
                        body: Box::new(else_op),
                        negated: false,
                    }),
                    Box::new(rethrow),
                );
                Op::New(else_error, Box::new(Op::New(chosen, Box::new(op))))
            }
        };
        let handler = Op::seq(vec![
            Op::Ap(Data::Error(Vec::new()), if_error.clone()),
            recover,
        ]);
        Op::New(
            if_error,
            Box::new(Op::Xor(Box::new(guarded), Box::new(handler))),
        )
    }

    // ---- calls ---------------------------------------------------------------------------

    fn call(
        &mut self,
        frame: &mut Frame,
        callee: &Callee,
        abilities: &[Expr],
        args: &[Expr],
        out: &mut Vec<Op>,
    ) -> Vec<Val> {
        let abilities: Vec<Val> = abilities.iter().map(|a| self.expr(frame, a, out)).collect();
        let args: Vec<Val> = args
            .iter()
            .map(|a| {
                let v = self.expr(frame, a, out);
                // Streams stay streams where the callee takes a stream (it may push); the
                // callee sees the rest as values.
                match v {
                    Val::Data(d) if d.is_stream() && a.ty.is_stream() => Val::Data(d),
                    other => other,
                }
            })
            .collect();
        let arrow = match callee {
            Callee::Func(id) => Rc::new(Arrow::Func(*id)),
            Callee::Service { service, method } => {
                let id = self.service_id(frame, *service);
                Rc::new(Arrow::Method {
                    service: id,
                    service_name: self.program.service(*service).name.as_str().into(),
                    method: method.as_str().into(),
                })
            }
            Callee::Value(e) => match self.expr(frame, e, out) {
                Val::Arrow(a) => a,
                _ => {
                    self.unsupported("a call of a value that is not an arrow");
                    return vec![Val::Unit];
                }
            },
        };
        self.call_arrow(&arrow, abilities, args, out)
    }

    fn service_id(&mut self, frame: &Frame, service: ServiceId) -> Data {
        if let Some(id) = frame.env.service_ids.get(&service) {
            return id.clone();
        }
        let def = &self.program.service(service);
        match &def.default_id {
            Some(id) => Data::Str(id.as_str().into()),
            None => {
                let what = format!("a call of service `{}`, which has no id here", def.name);
                self.unsupported(&what);
                Data::Str("".into())
            }
        }
    }

    /// Inlines a call of `arrow`, traced with `--tracing`.
    fn call_arrow(
        &mut self,
        arrow: &Arrow,
        abilities: Vec<Val>,
        args: Vec<Val>,
        out: &mut Vec<Op>,
    ) -> Vec<Val> {
        if !self.options.tracing {
            return self.inline_arrow(arrow, abilities, args, out);
        }
        let mut inner = Vec::new();
        let results = self.inline_arrow(arrow, abilities, args, &mut inner);
        let label = arrow.label(self.program);
        out.push(self.traced(&label, Op::seq(inner)));
        results
    }

    fn inline_arrow(
        &mut self,
        arrow: &Arrow,
        abilities: Vec<Val>,
        args: Vec<Val>,
        out: &mut Vec<Op>,
    ) -> Vec<Val> {
        if self.depth >= MAX_INLINE_DEPTH {
            self.unsupported("calls nested deeper than the inliner allows");
            return Vec::new();
        }
        match arrow {
            Arrow::Func(id) => {
                let def = &self.program.func(*id);
                let mut frame = Frame {
                    owner: *id,
                    env: Env::default(),
                    results: None,
                    result_types: def.arrow.results.clone(),
                };
                let params = def.params.clone();
                let n_results = def.arrow.results.len();
                self.bind_params(&mut frame, &params, abilities, args, out);
                self.depth += 1;
                let body = self.block(&mut frame, &def.body.stmts);
                self.depth -= 1;
                out.push(body);
                frame.results.unwrap_or_else(|| vec![Val::Unit; n_results])
            }
            Arrow::Closure {
                owner,
                closure,
                env,
                location,
                ..
            } => {
                let mut frame = Frame {
                    owner: *owner,
                    env: env.clone(),
                    results: None,
                    result_types: closure.arrow.results.clone(),
                };
                self.bind_params(&mut frame, &closure.params, abilities, args, out);
                self.depth += 1;
                if let Some(location) = location {
                    self.locations.push(location.clone());
                }
                let body = self.block(&mut frame, &closure.body.stmts);
                match location {
                    Some(location) => {
                        self.locations.pop();
                        out.push(Op::On {
                            location: location.clone(),
                            body: Box::new(body),
                            kind: OnKind::Block,
                        });
                    }
                    None => out.push(body),
                }
                self.depth -= 1;
                frame
                    .results
                    .unwrap_or_else(|| vec![Val::Unit; closure.arrow.results.len()])
            }
            Arrow::Callback(name) => {
                let args: Vec<Data> = args.into_iter().map(|a| self.data(a, out)).collect();
                let output = Var::scalar(self.fresh(&format!("{name}-result")));
                out.push(Op::On {
                    location: self.root_location(),
                    body: Box::new(client_call("callbackSrv", name, args, Some(output.clone()))),
                    kind: OnKind::Block,
                });
                vec![Val::Data(output.value())]
            }
            Arrow::Method {
                service, method, ..
            } => {
                let args: Vec<Data> = args.into_iter().map(|a| self.data(a, out)).collect();
                let output = Var::scalar(self.fresh("ret"));
                out.push(Op::Call {
                    peer: None,
                    service: service.clone(),
                    function: method.clone(),
                    args,
                    output: Some(output.clone()),
                });
                vec![Val::Data(output.value())]
            }
        }
    }

    fn bind_params(
        &mut self,
        frame: &mut Frame,
        params: &[LocalId],
        abilities: Vec<Val>,
        args: Vec<Val>,
        out: &mut Vec<Op>,
    ) {
        let owner = frame.owner;
        for (&param, val) in params.iter().zip(abilities.into_iter().chain(args)) {
            let ty = &self.local(owner, param).ty;
            let val = match val {
                Val::Data(d) if d.is_stream() && !ty.is_stream() => {
                    Val::Data(self.data(Val::Data(d), out))
                }
                other => other,
            };
            frame.env.vals.insert(param, val);
        }
    }

    // ---- expressions ---------------------------------------------------------------------

    /// A value as AIR data: streams are fixed into canon streams.
    fn data(&mut self, val: Val, out: &mut Vec<Op>) -> Data {
        match val {
            Val::Data(Data::Var(var, steps)) if var.kind == VarKind::Stream => {
                let canon = Var::canon(self.fresh(&format!("{}_canon", var.name)));
                out.push(Op::Canon {
                    peer: None,
                    source: var,
                    target: canon.clone(),
                });
                Data::Var(canon, steps)
            }
            Val::Data(Data::Var(var, _)) if var.kind == VarKind::Map => {
                let obj = Var::scalar(self.fresh(&format!("{}_obj", var.name)));
                out.push(Op::Canon {
                    peer: None,
                    source: var,
                    target: obj.clone(),
                });
                obj.value()
            }
            Val::Data(d) => d,
            Val::Service(id, _) => id,
            Val::Unit => {
                self.unsupported("a call without results used as a value");
                Data::EmptyArray
            }
            Val::Arrow(_) | Val::Ability(_) => {
                self.unsupported("an arrow or ability passed as data");
                Data::EmptyArray
            }
        }
    }

    /// Puts a value into a fresh scalar, for places where AIR wants a plain variable.
    fn flatten(&mut self, data: Data, base: &str, out: &mut Vec<Op>) -> Data {
        let var = Var::scalar(self.fresh(base));
        out.push(Op::Ap(data, var.clone()));
        var.value()
    }

    fn expr(&mut self, frame: &mut Frame, e: &Expr, out: &mut Vec<Op>) -> Val {
        crate::deep(|| self.expr_inner(frame, e, out))
    }

    fn expr_inner(&mut self, frame: &mut Frame, e: &Expr, out: &mut Vec<Op>) -> Val {
        match &e.kind {
            ExprKind::Int(i) => Val::Data(Data::Int(*i)),
            ExprKind::Float(f) => Val::Data(Data::Float(*f)),
            ExprKind::Str(s) => Val::Data(Data::Str(s.as_str().into())),
            ExprKind::Bool(b) => Val::Data(Data::Bool(*b)),
            ExprKind::Nil => Val::Data(Data::EmptyArray),
            ExprKind::Builtin(b) => Val::Data(match b {
                BuiltinValue::InitPeerId => Data::InitPeerId,
                BuiltinValue::HostPeerId if self.options.no_relay => Data::InitPeerId,
                BuiltinValue::HostPeerId => relay(),
                BuiltinValue::ParticleTtl => Data::Ttl,
                BuiltinValue::ParticleTimestamp => Data::Timestamp,
                BuiltinValue::LastError => Data::Error(Vec::new()),
            }),
            ExprKind::Local(local) => match frame.env.vals.get(local) {
                Some(v) => v.clone(),
                None => self.unsupported("a value used before it is computed"),
            },
            ExprKind::Func(id) => Val::Arrow(Rc::new(Arrow::Func(*id))),
            ExprKind::Service(id) => Val::Service(
                self.service_id(frame, *id),
                self.program.service(*id).name.as_str().into(),
            ),
            ExprKind::Call {
                callee,
                abilities,
                args,
                ..
            } => self
                .call(frame, callee, abilities, args, out)
                .into_iter()
                .next()
                .unwrap_or(Val::Unit),
            ExprKind::Collection { kind, items } => self.collection(frame, *kind, items, out),
            ExprKind::Struct(fields) => {
                let values: Vec<(String, Data)> = fields
                    .iter()
                    .map(|(n, v)| {
                        let val = self.expr(frame, v, out);
                        (n.clone(), self.data(val, out))
                    })
                    .collect();
                let name = match &e.ty {
                    Type::Struct(s) => s.name.clone(),
                    _ => "struct".into(),
                };
                Val::Data(self.object(&name, values, out))
            }
            ExprKind::Ability(fields) => {
                let map = fields
                    .iter()
                    .map(|(n, v)| (n.clone(), self.expr(frame, v, out)))
                    .collect();
                Val::Ability(Rc::new(map))
            }
            ExprKind::Field(base, name) => {
                let base = self.expr(frame, base, out);
                match base {
                    Val::Ability(fields) => fields.get(name).cloned().unwrap_or(Val::Unit),
                    Val::Service(id, service_name) => Val::Arrow(Rc::new(Arrow::Method {
                        service: id,
                        service_name,
                        method: name.as_str().into(),
                    })),
                    other => {
                        let data = self.data(other, out);
                        self.step(data, Step::Field(name.as_str().into()), out)
                    }
                }
            }
            ExprKind::Index(base, index) => {
                let base_val = self.expr(frame, base, out);
                if let Val::Data(stream @ Data::Var(var, _)) = &base_val {
                    if var.kind == VarKind::Stream {
                        let stream = stream.clone();
                        let on_client = self.here().peer == Data::InitPeerId;
                        let counted = minus_one(index)
                            .filter(|_| self.parseq_writes.contains(&var.name) || !on_client);
                        return Val::Data(match counted {
                            Some(count) => self.gate_counted(frame, stream, count, out),
                            None => {
                                let index = self.expr(frame, index, out);
                                let index = self.data(index, out);
                                self.gate(stream, index, out)
                            }
                        });
                    }
                }
                let index_val = self.expr(frame, index, out);
                let index = self.data(index_val, out);
                let data = self.data(base_val, out);
                let step = self.index_step(index, out);
                self.step(data, step, out)
            }
            ExprKind::Length(base) => {
                let val = self.expr(frame, base, out);
                let data = self.data(val, out);
                Val::Data(match data {
                    Data::Var(var, steps) if steps.is_empty() => Data::Length(var),
                    Data::EmptyArray => Data::Int(0),
                    other => match self.flatten(other, "len-base", out) {
                        Data::Var(var, _) => Data::Length(var),
                        _ => unreachable!("flatten gives a variable"),
                    },
                })
            }
            ExprKind::Copy(base, changes) => {
                let base_val = self.expr(frame, base, out);
                let base_data = self.data(base_val, out);
                let Type::Struct(s) = &e.ty else {
                    return self.unsupported("`.copy` of a value that is not a struct");
                };
                let mut values = Vec::new();
                for (name, _) in &s.fields {
                    let data = match changes.iter().find(|(n, _)| n == name) {
                        Some((_, v)) => {
                            let val = self.expr(frame, v, out);
                            self.data(val, out)
                        }
                        None => match self.step(
                            base_data.clone(),
                            Step::Field(name.as_str().into()),
                            out,
                        ) {
                            Val::Data(d) => d,
                            _ => Data::EmptyArray,
                        },
                    };
                    values.push((name.clone(), data));
                }
                Val::Data(self.object(&s.name, values, out))
            }
            ExprKind::MapMethod { map, method, args } => {
                self.map_method(frame, map, *method, args, out)
            }
            ExprKind::Not(inner) => {
                let v = self.expr(frame, inner, out);
                let v = self.data(v, out);
                let result = Var::scalar(self.fresh("not"));
                out.push(Op::Xor(
                    Box::new(Op::Match {
                        left: v,
                        right: Data::Bool(true),
                        body: Box::new(Op::Ap(Data::Bool(false), result.clone())),
                        negated: false,
                    }),
                    Box::new(Op::Ap(Data::Bool(true), result.clone())),
                ));
                Val::Data(result.value())
            }
            ExprKind::Infix { op, lhs, rhs } => self.infix(frame, *op, lhs, rhs, out),
            ExprKind::Error => self.unsupported("an expression with errors"),
        }
    }

    // ---- stream maps ---------------------------------------------------------------------

    fn map_method(
        &mut self,
        frame: &mut Frame,
        map: &Expr,
        method: MapMethod,
        args: &[Expr],
        out: &mut Vec<Op>,
    ) -> Val {
        let map = match self.expr(frame, map, out) {
            Val::Data(Data::Var(var, steps)) if var.kind == VarKind::Map && steps.is_empty() => var,
            _ => {
                return self.unsupported("a stream map method on a value that is not a stream map")
            }
        };
        let key = match args.first() {
            Some(arg) => {
                let key = self.expr(frame, arg, out);
                let key = self.data(key, out);
                Some(self.index_step(key, out))
            }
            None => None,
        };
        Val::Data(match (method, key) {
            (MapMethod::Get, Some(key)) => {
                let canon = self.canon_map(&map, out);
                Data::Var(canon, vec![key])
            }
            (MapMethod::Contains, Some(key)) => {
                let canon = self.canon_map(&map, out);
                let values = self.flatten(Data::Var(canon, vec![key]), "values", out);
                let result = Var::scalar(self.fresh("contains"));
                out.push(Op::Xor(
                    Box::new(Op::Match {
                        left: values,
                        right: Data::EmptyArray,
                        body: Box::new(Op::Ap(Data::Bool(false), result.clone())),
                        negated: false,
                    }),
                    Box::new(Op::Ap(Data::Bool(true), result.clone())),
                ));
                result.value()
            }
            (MapMethod::GetStream, Some(key)) => {
                let stream = self.map_stream(&map, "values");
                let entry = self.fresh("-entry-");
                let found = Op::Match {
                    left: entry_field(&entry, "key"),
                    right: key_data(key),
                    body: Box::new(Op::Ap(entry_field(&entry, "value"), stream.clone())),
                    negated: false,
                };
                let body = Op::Xor(Box::new(found), Box::new(Op::Null));
                out.push(follow(map.value(), entry, body));
                stream.value()
            }
            (MapMethod::Keys, None) => {
                let canon = self.canon_map(&map, out);
                let stream = Var::stream(self.fresh(&format!("{}_keys", map.name)));
                let result = Var::canon(self.fresh(&format!("{}_keys", map.name)));
                let entry = self.fresh("-entry-");
                let (seen, body) = self.new_key(&entry, &stream);
                let fold = Op::Fold {
                    iterable: canon.value(),
                    iterator: entry.clone(),
                    body: Box::new(Op::seq(vec![body, Op::Next(entry)])),
                    last: Some(Box::new(Op::Null)),
                };
                let fixed = Op::Canon {
                    peer: None,
                    source: stream.clone(),
                    target: result.clone(),
                };
                let seq = Op::seq(vec![Op::New(seen, Box::new(fold)), fixed]);
                out.push(Op::New(stream, Box::new(seq)));
                result.value()
            }
            (MapMethod::KeysStream, None) => {
                let stream = self.map_stream(&map, "keys");
                let entry = self.fresh("-entry-");
                let (seen, body) = self.new_key(&entry, &stream);
                out.push(Op::New(seen, Box::new(follow(map.value(), entry, body))));
                stream.value()
            }
            _ => return self.unsupported("a stream map method with the wrong arguments"),
        })
    }

    /// A canon map of `map` as it is now.
    fn canon_map(&mut self, map: &Var, out: &mut Vec<Op>) -> Var {
        let canon = Var::canon_map(self.fresh(&format!("{}_canon", map.name)));
        out.push(Op::Canon {
            peer: None,
            source: map.clone(),
            target: canon.clone(),
        });
        canon
    }

    /// A fresh stream that follows `map`, scoped by the enclosing block. It counts as written
    /// by `parseq` when the map is.
    fn map_stream(&mut self, map: &Var, what: &str) -> Var {
        let stream = Var::stream(self.fresh(&format!("{}_{what}", map.name)));
        if self.parseq_writes.contains(&map.name) {
            self.parseq_writes.insert(stream.name.clone());
        }
        self.escaped.push(stream.clone());
        stream
    }

    /// The body that appends the key of `entry` to `stream` the first time the key comes,
    /// with the stream map that remembers the keys already seen (to scope around the fold).
    /// Each entry fixes the keys seen so far, so `keys()` costs a canon per entry: the price
    /// of keys that come once each, where the reference compiler repeats them.
    fn new_key(&mut self, entry: &str, stream: &Var) -> (Var, Op) {
        let seen = Var::map(self.fresh("-seen-"));
        let seen_now = Var::canon_map(self.fresh("-seen-"));
        let key = Var::scalar(self.fresh("-key-"));
        let before = Var::scalar(self.fresh("-seen-values-"));
        let first = Op::Match {
            left: before.value(),
            right: Data::EmptyArray,
            body: Box::new(Op::seq(vec![
                Op::ApMap {
                    key: key.value(),
                    value: Data::Bool(true),
                    map: seen.clone(),
                },
                Op::Ap(key.value(), stream.clone()),
            ])),
            negated: false,
        };
        let check = Op::seq(vec![
            Op::Canon {
                peer: None,
                source: seen.clone(),
                target: seen_now.clone(),
            },
            Op::Ap(
                Data::Var(seen_now.clone(), vec![Step::Var(key.name.clone())]),
                before.clone(),
            ),
            Op::Xor(Box::new(first), Box::new(Op::Null)),
        ]);
        let body = Op::seq(vec![
            Op::Ap(entry_field(entry, "key"), key),
            Op::New(seen_now, Box::new(check)),
        ]);
        (seen, body)
    }

    fn index_step(&mut self, index: Data, out: &mut Vec<Op>) -> Step {
        match index {
            Data::Int(i) if (0..=u32::MAX as i64).contains(&i) => Step::Index(i as u32),
            Data::Var(var, steps) if var.kind == VarKind::Scalar && steps.is_empty() => {
                Step::Var(var.name)
            }
            other => match self.flatten(other, "idx", out) {
                Data::Var(var, _) => Step::Var(var.name),
                _ => unreachable!("flatten gives a variable"),
            },
        }
    }

    fn step(&mut self, data: Data, step: Step, out: &mut Vec<Op>) -> Val {
        match data.with_step(step.clone()) {
            Some(d) => Val::Data(d),
            None => {
                let flat = self.flatten(data, "value", out);
                Val::Data(flat.with_step(step).expect("a scalar takes steps"))
            }
        }
    }

    /// A struct value, built through a stream map.
    fn object(&mut self, name: &str, fields: Vec<(String, Data)>, out: &mut Vec<Op>) -> Data {
        let map = Var::map(self.fresh(&format!("{name}_obj_map")));
        let result = Var::scalar(self.fresh(&format!("{name}_obj")));
        let mut ops: Vec<Op> = fields
            .into_iter()
            .map(|(k, v)| Op::ApMap {
                key: Data::Str(k.as_str().into()),
                value: v,
                map: map.clone(),
            })
            .collect();
        ops.push(Op::Canon {
            peer: None,
            source: map.clone(),
            target: result.clone(),
        });
        out.push(Op::New(map, Box::new(Op::seq(ops))));
        result.value()
    }

    fn collection(
        &mut self,
        frame: &mut Frame,
        kind: CollectionKind,
        items: &[Expr],
        out: &mut Vec<Op>,
    ) -> Val {
        let values: Vec<Data> = items
            .iter()
            .map(|i| {
                let v = self.expr(frame, i, out);
                self.data(v, out)
            })
            .collect();
        if kind == CollectionKind::Stream {
            let stream = Var::stream(self.fresh("stream-inline"));
            for v in values {
                out.push(Op::Ap(v, stream.clone()));
            }
            return Val::Data(stream.value());
        }
        if values.is_empty() {
            return Val::Data(Data::EmptyArray);
        }
        let base = if kind == CollectionKind::Option {
            "option-inline"
        } else {
            "array-inline"
        };
        let stream = Var::stream(self.fresh(base));
        let canon = Var::canon(self.fresh(base));
        let mut ops: Vec<Op> = values
            .into_iter()
            .map(|v| {
                let ap = Op::Ap(v, stream.clone());
                if kind == CollectionKind::Option {
                    Op::Xor(Box::new(ap), Box::new(Op::Null))
                } else {
                    ap
                }
            })
            .collect();
        ops.push(Op::Canon {
            peer: None,
            source: stream.clone(),
            target: canon.clone(),
        });
        out.push(Op::New(stream, Box::new(Op::seq(ops))));
        Val::Data(canon.value())
    }

    /// Waits until the stream has `index + 1` values, then fixes it: `s[n]` on a stream.
    fn gate(&mut self, stream: Data, index: Data, out: &mut Vec<Op>) -> Data {
        let (wanted, incr) = match &index {
            Data::Int(i) => (Data::Int(i + 1), None),
            other => {
                let inc = self.builtin(
                    "math",
                    "add",
                    vec![other.clone(), Data::Int(1)],
                    "incr_idx",
                    out,
                );
                (inc.value(), Some(inc.name))
            }
        };
        let gate = self.wait_for(stream, wanted, incr, out);
        let step = self.index_step(index, out);
        gate.with_step(step).expect("a scalar takes steps")
    }

    /// `s[count - 1]` on what `parseq` branches write, or away from the client: waits for
    /// `count` values with no call before the wait. The branches come back to the relay only,
    /// and there a call made once on the client would stop the particles that arrive later
    /// before the wait; on another peer, a call before the wait would make every copy of the
    /// particle that reaches it go there, though only the copies with values need to. On the
    /// client (`gate`) the call keeps remote peers from running the wait and sending from
    /// there straight to the client.
    fn gate_counted(
        &mut self,
        frame: &mut Frame,
        stream: Data,
        count: &Expr,
        out: &mut Vec<Op>,
    ) -> Data {
        let count = self.expr(frame, count, out);
        let count = match self.data(count, out) {
            length @ Data::Length(_) => self.flatten(length, "count", out),
            other => other,
        };
        let gate = self.wait_for(stream, count.clone(), None, out);
        let index = self.builtin("math", "sub", vec![count, Data::Int(1)], "idx", out);
        gate.with_step(Step::Var(index.name))
            .expect("a scalar takes steps")
    }

    /// Calls a builtin service where the code runs, into a fresh scalar named after `output`.
    fn builtin(
        &mut self,
        service: &str,
        function: &str,
        args: Vec<Data>,
        output: &str,
        out: &mut Vec<Op>,
    ) -> Var {
        let result = Var::scalar(self.fresh(output));
        out.push(Op::Call {
            peer: None,
            service: Data::Str(service.into()),
            function: function.into(),
            args,
            output: Some(result.clone()),
        });
        result
    }

    /// Waits until the stream has `wanted` values, then fixes it into a scalar. `incr` names
    /// the variable of a call made only to compute `wanted`.
    fn wait_for(
        &mut self,
        stream: Data,
        wanted: Data,
        incr: Option<Rc<str>>,
        out: &mut Vec<Op>,
    ) -> Data {
        let Data::Var(var, _) = &stream else {
            unreachable!("gates are on stream variables");
        };
        let base = var.name.trim_start_matches('-').to_string();
        let test = Var::stream(self.fresh(&format!("{base}_test")));
        let item = self.fresh(&format!("{base}_fold_var"));
        let iter_canon = Var::canon(self.fresh(&format!("{base}_iter_canon")));
        let result_canon = Var::canon(self.fresh(&format!("{base}_result_canon")));
        let gate = Var::scalar(self.fresh(&format!("{base}_gate")));
        let body = Op::seq(vec![
            Op::Ap(Var::scalar(item.clone()).value(), test.clone()),
            Op::Canon {
                peer: None,
                source: test.clone(),
                target: iter_canon.clone(),
            },
            Op::Xor(
                Box::new(Op::Match {
                    left: Data::Length(iter_canon),
                    right: wanted,
                    body: Box::new(Op::Null),
                    negated: false,
                }),
                Box::new(Op::Next(item.clone())),
            ),
        ]);
        self.gates.push(Gate {
            stream: var.name.clone(),
            test: test.name.clone(),
            incr,
        });
        out.push(Op::New(
            test.clone(),
            Box::new(Op::seq(vec![
                Op::Fold {
                    iterable: stream,
                    iterator: item,
                    body: Box::new(body),
                    last: Some(Box::new(Op::Never)),
                },
                Op::Canon {
                    peer: None,
                    source: test,
                    target: result_canon.clone(),
                },
                Op::Ap(result_canon.value(), gate.clone()),
            ])),
        ));
        gate.value()
    }

    fn infix(
        &mut self,
        frame: &mut Frame,
        op: InfixOp,
        lhs: &Expr,
        rhs: &Expr,
        out: &mut Vec<Op>,
    ) -> Val {
        use InfixOp::*;
        let l = self.expr(frame, lhs, out);
        let l = self.data(l, out);
        match op {
            And | Or => {
                let result = Var::scalar(self.fresh(if op == And { "and" } else { "or" }));
                let mut right_ops = Vec::new();
                let r = self.expr(frame, rhs, &mut right_ops);
                let r = self.data(r, &mut right_ops);
                right_ops.push(Op::Ap(r, result.clone()));
                out.push(Op::Xor(
                    Box::new(Op::Match {
                        left: l.clone(),
                        right: Data::Bool(op == Or),
                        body: Box::new(Op::Ap(l, result.clone())),
                        negated: false,
                    }),
                    Box::new(Op::seq(right_ops)),
                ));
                Val::Data(result.value())
            }
            Eq | Neq => {
                let r = self.expr(frame, rhs, out);
                let r = self.data(r, out);
                let result = Var::scalar(self.fresh(if op == Eq { "eq" } else { "neq" }));
                out.push(Op::Xor(
                    Box::new(Op::Match {
                        left: l,
                        right: r,
                        body: Box::new(Op::Ap(Data::Bool(true), result.clone())),
                        negated: op == Neq,
                    }),
                    Box::new(Op::Ap(Data::Bool(false), result.clone())),
                ));
                Val::Data(result.value())
            }
            _ => {
                let r = self.expr(frame, rhs, out);
                let r = self.data(r, out);
                let (service, function) = match op {
                    Add => ("math", "add"),
                    Sub => ("math", "sub"),
                    Mul => ("math", "mul"),
                    Div => ("math", "div"),
                    Rem => ("math", "rem"),
                    Pow => ("math", "pow"),
                    Lt => ("cmp", "lt"),
                    Lte => ("cmp", "lte"),
                    Gt => ("cmp", "gt"),
                    Gte => ("cmp", "gte"),
                    And | Or | Eq | Neq => unreachable!("handled above"),
                };
                Val::Data(
                    self.builtin(service, function, vec![l, r], function, out)
                        .value(),
                )
            }
        }
    }
}

/// The streams declared at the top of an `on` block (and of `on` blocks directly in it),
/// which outlive the block.
fn streams_declared_in_on(stmt: &Stmt, out: &mut Vec<LocalId>) {
    if let StmtKind::On { body, .. } = &stmt.kind {
        for inner in &body.stmts {
            match &inner.kind {
                StmtKind::DeclareStream(local) => out.push(*local),
                StmtKind::On { .. } => streams_declared_in_on(inner, out),
                _ => {}
            }
        }
    }
}

/// A call on the client.
fn client_call(service: &str, function: &str, args: Vec<Data>, output: Option<Var>) -> Op {
    Op::Call {
        peer: Some(Data::InitPeerId),
        service: Data::Str(service.into()),
        function: function.into(),
        args,
        output,
    }
}

/// `n` of an index written `n - 1`.
fn minus_one(index: &Expr) -> Option<&Expr> {
    match &index.kind {
        ExprKind::Infix {
            op: InfixOp::Sub,
            lhs,
            rhs,
        } if matches!(rhs.kind, ExprKind::Int(1)) => Some(lhs),
        _ => None,
    }
}

/// Whether `val` is `var` or holds it: an ability field, or a closure that captured it.
/// `seen` holds the closures already looked into, which closures share.
fn mentions(val: &Val, var: &Var, seen: &mut Vec<*const Arrow>) -> bool {
    match val {
        Val::Data(Data::Var(v, _)) => v.name == var.name,
        Val::Ability(fields) => fields.values().any(|v| mentions(v, var, seen)),
        Val::Arrow(arrow) => match &**arrow {
            Arrow::Closure { env, .. } if !seen.contains(&Rc::as_ptr(arrow)) => {
                seen.push(Rc::as_ptr(arrow));
                env.vals.values().any(|v| mentions(v, var, seen))
            }
            _ => false,
        },
        _ => false,
    }
}

/// A field of a stream map entry.
fn entry_field(entry: &str, field: &str) -> Data {
    Var::scalar(entry)
        .value()
        .with_step(Step::Field(field.into()))
        .expect("a scalar")
}

/// What a key step looks up, as a value.
fn key_data(step: Step) -> Data {
    match step {
        Step::Var(name) => Var::scalar(name).value(),
        Step::Field(name) => Data::Str(name),
        Step::Index(i) => Data::Int(i.into()),
    }
}

/// Runs `body` for each entry of a stream map as it comes, beside the code that follows.
fn follow(map: Data, entry: Rc<str>, body: Op) -> Op {
    Op::Par(vec![
        Op::Fold {
            iterable: map,
            iterator: entry.clone(),
            body: Box::new(Op::seq(vec![body, Op::Next(entry)])),
            last: Some(Box::new(Op::Never)),
        },
        Op::Null,
    ])
}
