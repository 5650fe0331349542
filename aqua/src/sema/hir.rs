//! The checked program: every name resolved, every expression typed.
//!
//! This is what code generation reads and what the language server asks about (types at
//! positions, definitions). Spans point into the module the node comes from.

use std::sync::Arc;

use super::types::{ArrowType, Type};
use crate::syntax::ast::{CollectionKind, ForMode, InfixOp};
use crate::syntax::Span;

/// A function: the module that defines it and its index among the module's
/// [`super::CheckedModule::funcs`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FuncId {
    pub module: u32,
    pub index: u32,
}

/// A service: the module that declares it and its index among the module's
/// [`super::CheckedModule::services`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceId {
    pub module: u32,
    pub index: u32,
}

/// Index of a local in its top-level function's [`FuncDef::locals`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub u32);

/// A top-level function.
#[derive(Debug)]
pub struct FuncDef {
    pub name: String,
    /// The module it is defined in, by index into the project's modules.
    pub module: u32,
    pub arrow: Arc<ArrowType>,
    /// Ability parameters first, then the arrow's parameters.
    pub params: Vec<LocalId>,
    pub body: Block,
    /// Every local of the function and of the closures inside it.
    pub locals: Vec<Local>,
    pub span: Span,
}

/// A service declaration.
#[derive(Debug)]
pub struct ServiceDef {
    pub name: String,
    pub module: u32,
    pub ty: Type,
    pub default_id: Option<String>,
    pub span: Span,
}

/// A local name: parameter, result, loop item, stream, closure.
#[derive(Clone, Debug)]
pub struct Local {
    pub name: String,
    pub ty: Type,
    pub span: Span,
}

#[derive(Debug, Default)]
pub struct Block {
    pub stmts: Vec<Stmt>,
}

#[derive(Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

/// Where a call's result goes.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// A new local.
    Bind(LocalId),
    /// Appended to an existing stream.
    Push(LocalId),
    /// Two results, a key and a value, appended to an existing stream map.
    PushEntry(LocalId),
}

#[derive(Debug)]
pub enum StmtKind {
    /// `a, b <- call` or a bare call.
    Call {
        results: Vec<Target>,
        value: Expr,
    },
    /// `name = value`.
    Assign {
        local: LocalId,
        value: Expr,
    },
    /// `name = (args) -> results:` with a body.
    Closure {
        local: LocalId,
        closure: Arc<Closure>,
    },
    /// `<- values`.
    Return(Vec<Expr>),
    /// `name: *T` or `name: %T`: a fresh stream for the rest of the block.
    DeclareStream(LocalId),
    /// `stream <<- value` or `map <<- key, value`.
    Push {
        target: LocalId,
        key: Option<Expr>,
        value: Expr,
    },
    /// `Srv id`: the id of a service for the rest of the block.
    ServiceId {
        service: ServiceId,
        id: Expr,
    },
    On {
        peer: Expr,
        via: Vec<Expr>,
        body: Block,
    },
    For {
        item: ForItem,
        iterable: Expr,
        mode: Option<ForMode>,
        body: Block,
    },
    Parseq {
        item: ForItem,
        iterable: Expr,
        peer: Expr,
        via: Vec<Expr>,
        body: Block,
    },
    If {
        condition: Expr,
        then: Block,
        otherwise: Option<Block>,
    },
    /// `try:` (a plain block; its handlers wrap it in [`StmtKind::Recover`]).
    Try(Block),
    /// `first` and, if it fails, `handler` (`catch e:` binds the error, `otherwise:` not).
    Recover {
        first: Box<Stmt>,
        error: Option<LocalId>,
        handler: Block,
    },
    /// Statements run in parallel (`a` then `par b`, `par c`).
    Par(Vec<Stmt>),
    /// `co stmt`.
    Co(Box<Stmt>),
    Join(Vec<Expr>),
}

#[derive(Clone, Copy, Debug)]
pub enum ForItem {
    Single(LocalId),
    Pair(LocalId, LocalId),
}

/// A closure defined in a function body.
#[derive(Debug)]
pub struct Closure {
    pub arrow: Arc<ArrowType>,
    pub params: Vec<LocalId>,
    pub body: Block,
    /// `func` closures do not capture the topology of their definition site.
    pub detached: bool,
}

#[derive(Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: Type,
    pub span: Span,
}

/// Constants known to the compiler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinValue {
    InitPeerId,
    HostPeerId,
    ParticleTtl,
    ParticleTimestamp,
    LastError,
}

#[derive(Debug)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// `nil`: the empty option.
    Nil,
    Builtin(BuiltinValue),
    Local(LocalId),
    /// A function used as a value.
    Func(FuncId),
    /// A service used as a value (an ability).
    Service(ServiceId),
    Call {
        callee: Callee,
        abilities: Vec<Expr>,
        args: Vec<Expr>,
        /// The types of all results (the expression's type is the first).
        results: Vec<Type>,
    },
    Collection {
        kind: CollectionKind,
        items: Vec<Expr>,
    },
    /// A struct value `S(f = v)`, fields in declaration order.
    Struct(Vec<(String, Expr)>),
    /// An ability value `Ab(f = v)`.
    Ability(Vec<(String, Expr)>),
    Field(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Length(Box<Expr>),
    Copy(Box<Expr>, Vec<(String, Expr)>),
    /// A method of a stream map.
    MapMethod {
        map: Box<Expr>,
        method: MapMethod,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Infix {
        op: InfixOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// Something already reported.
    Error,
}

/// What a call calls.
#[derive(Debug)]
pub enum Callee {
    Func(FuncId),
    /// A method of a service declared at the top level, with the id in scope.
    Service {
        service: ServiceId,
        method: String,
    },
    /// An arrow value: a local arrow, a closure, a field of an ability or service value.
    Value(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapMethod {
    Get,
    GetStream,
    Keys,
    KeysStream,
    Contains,
}
