//! The syntax tree of one Aqua file, as written: every node keeps its byte span, names keep
//! their spelling, and parentheses are kept so that the formatter can reproduce them.
//! Meaning (what a name refers to, types) is decided later.
//!
//! The span of a node that opens a block (a function, a `data`, an `on`, ...) covers its
//! first line; its fields or body carry their own spans.

use super::Span;

/// A name with its place in the file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ident {
    pub text: String,
    pub span: Span,
}

/// A possibly qualified name: `Name`, `Mod.Name`, `Mod.Sub.Name`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Path {
    pub parts: Vec<Ident>,
}

impl Path {
    pub fn span(&self) -> Span {
        let first = self.parts.first().map_or(Span::from(0..0), |p| p.span);
        let last = self.parts.last().map_or(first, |p| p.span);
        Span::from(first.start..last.end)
    }

    /// The dotted spelling.
    pub fn text(&self) -> String {
        let parts: Vec<&str> = self.parts.iter().map(|p| p.text.as_str()).collect();
        parts.join(".")
    }
}

/// A parsed file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    pub header: Vec<HeaderItem>,
    pub items: Vec<Item>,
}

/// A line of the file header.
#[derive(Clone, Debug, PartialEq)]
pub enum HeaderItem {
    /// `aqua Name [declares ...]`, or the legacy `module Name [declares ...]`.
    Module {
        legacy: bool,
        keyword: Span,
        name: Path,
        declares: Option<Declares>,
        span: Span,
    },
    /// `import "path"` or `import a, B as C from "path"`.
    Import {
        names: Option<Vec<ImportName>>,
        path: StrLit,
        span: Span,
    },
    /// `use "path" [as M]` or `use a, B from "path" as M`.
    Use {
        names: Option<Vec<ImportName>>,
        path: StrLit,
        alias: Option<Path>,
        span: Span,
    },
    /// `export f, Srv, g as h`.
    Export { names: Vec<ImportName>, span: Span },
}

/// What a module declares to importers.
#[derive(Clone, Debug, PartialEq)]
pub enum Declares {
    All(Span),
    Names(Vec<Ident>),
}

/// `name` or `name as alias` in imports and exports; names of a `use`d module's
/// contents may be dotted (`Mod.f as g`).
#[derive(Clone, Debug, PartialEq)]
pub struct ImportName {
    pub name: Path,
    pub alias: Option<Ident>,
}

/// A string literal; `value` is without the quotes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// A top-level definition.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// `data Name:` with typed fields.
    Data {
        name: Ident,
        fields: Vec<Field>,
        span: Span,
    },
    /// `alias Name: Type`.
    Alias { name: Ident, ty: Type, span: Span },
    /// `const NAME = value` or, overridable, `const NAME ?= value`.
    Const {
        name: Ident,
        overridable: bool,
        value: Expr,
        span: Span,
    },
    /// `service Name("id"):` with methods.
    Service {
        name: Ident,
        default_id: Option<Expr>,
        methods: Vec<Field>,
        span: Span,
    },
    /// `ability Name:` with fields, arrows and nested abilities.
    Ability {
        name: Ident,
        fields: Vec<Field>,
        span: Span,
    },
    /// `func name(args) -> results:` with its body.
    Func(Func),
    /// A line that failed to parse; its diagnostic is already reported.
    Error(Span),
}

/// A function, or a closure's arrow and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Func {
    pub name: Ident,
    pub arrow: ArrowType,
    pub body: Block,
    pub span: Span,
}

/// `name: Type` in data, abilities and services; service methods written `m(a: A) -> R`
/// have an arrow type.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub ty: Type,
    pub span: Span,
}

/// A type as written.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    /// A named type: a scalar (`u32`, `string`, ...), a struct, alias, ability or service.
    Named(Path),
    /// `[]T`.
    Array(Box<Type>, Span),
    /// `?T`.
    Option(Box<Type>, Span),
    /// `*T`.
    Stream(Box<Type>, Span),
    /// `%T`.
    StreamMap(Box<Type>, Span),
    /// `⊤`.
    Top(Span),
    /// `⊥`.
    Bottom(Span),
    Arrow(Box<ArrowType>),
}

impl Type {
    pub fn span(&self) -> Span {
        match self {
            Type::Named(path) => path.span(),
            Type::Array(_, span)
            | Type::Option(_, span)
            | Type::Stream(_, span)
            | Type::StreamMap(_, span)
            | Type::Top(span)
            | Type::Bottom(span) => *span,
            Type::Arrow(arrow) => arrow.span,
        }
    }
}

/// `{Ab} (a: A, B) -> C, D`; `-> ()` has no results.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrowType {
    pub abilities: Vec<Path>,
    pub params: Vec<Param>,
    pub results: Vec<Type>,
    pub span: Span,
}

/// An arrow parameter; named in functions, possibly unnamed in arrow types.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Option<Ident>,
    pub ty: Type,
}

/// The statements of a body, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
}

/// A statement with its span (its own line; nested blocks are in the kind).
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `a, b <- value` or a bare `value` (usually a call).
    Call {
        results: Vec<Ident>,
        /// The `<-`, when there are results.
        arrow: Option<Span>,
        value: Expr,
    },
    /// `name = value`.
    Assign { name: Ident, value: Expr },
    /// `name = [func] (args) -> results:` with a body.
    Closure {
        name: Ident,
        detached: bool,
        func: Func,
    },
    /// `<- a, b`.
    Return { values: Vec<Expr> },
    /// `name: *T` or `name: %T` (any type is parsed; the checker restricts it).
    Declare { name: Ident, ty: Type },
    /// `name <<- value` or, into a stream map, `name <<- key, value`.
    Push {
        target: Ident,
        key: Option<Expr>,
        value: Expr,
    },
    /// `Srv "id"` or `Srv id_value`: the service id for the rest of the scope.
    ServiceId { service: Path, id: Expr },
    /// `on peer [via relay]...:`.
    On {
        peer: Expr,
        via: Vec<Expr>,
        body: Block,
    },
    /// `for x <- xs [par|try|rec]:` or `for k, v <- map ...:`.
    For {
        item: ForItem,
        iterable: Expr,
        mode: Option<ForMode>,
        body: Block,
    },
    /// `parseq x <- xs on peer [via relay]...:`.
    Parseq {
        item: ForItem,
        iterable: Expr,
        peer: Expr,
        via: Vec<Expr>,
        body: Block,
    },
    /// `if cond:`.
    If { condition: Expr, body: Block },
    /// `else:`, which belongs to the `if` before it.
    Else { body: Block },
    /// `try:`.
    Try { body: Block },
    /// `catch e:`, after a `try` or another `catch`.
    Catch { name: Ident, body: Block },
    /// `otherwise:`, after any statement.
    Otherwise { body: Block },
    /// `par stmt`: runs in parallel with the previous statement.
    Par(Box<Stmt>),
    /// `co stmt`: runs in the background.
    Co(Box<Stmt>),
    /// `join a, b`.
    Join { values: Vec<Expr> },
    /// A line that failed to parse; its diagnostic is already reported.
    Error,
}

/// The loop variable(s) of `for` and `parseq`.
#[derive(Clone, Debug, PartialEq)]
pub enum ForItem {
    Single(Ident),
    /// `k, v` over a stream map.
    Pair(Ident, Ident),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForMode {
    Par,
    Try,
    Rec,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A variable, constant, or the head of a qualified reference (`Srv`, `Mod`).
    Name(Ident),
    /// `[a, b]`, `?[a]`, `*[a]`.
    Collection {
        kind: CollectionKind,
        items: Vec<Expr>,
    },
    /// `f(args)` or `f{Ab}(args)`.
    Call {
        callee: Ident,
        abilities: Vec<Expr>,
        args: Vec<Expr>,
        /// The parentheses around the arguments.
        args_span: Span,
    },
    /// `Name(f = v, g)`: a struct or ability value.
    Construct {
        ty: Path,
        fields: Vec<NamedArg>,
        /// The parentheses around the fields.
        args_span: Span,
    },
    /// `base` followed by a property operation.
    Property {
        base: Box<Expr>,
        op: PropertyOp,
    },
    /// `!x`.
    Not(Box<Expr>),
    Infix {
        op: InfixOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `(e)`.
    Paren(Box<Expr>),
    /// A value that failed to parse; its diagnostic is already reported.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// An integer, with its sign, as written.
    Int(String),
    /// A float, with its sign, as written.
    Float(String),
    Str(String),
    Bool(bool),
    InitPeerId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectionKind {
    Array,
    Option,
    Stream,
}

/// An operation applied to a value.
#[derive(Clone, Debug, PartialEq)]
pub enum PropertyOp {
    /// `.name`.
    Field(Ident),
    /// `.name(args)` or `.name{Ab}(args)`: a method of a service, ability, module or map.
    Method {
        name: Ident,
        abilities: Vec<Expr>,
        args: Vec<Expr>,
        /// The parentheses around the arguments.
        args_span: Span,
    },
    /// `.copy(f = v)`.
    Copy {
        /// The word `copy`.
        keyword: Span,
        fields: Vec<NamedArg>,
    },
    /// `[index]`.
    Index(Box<Expr>),
    /// `!` (index 0) or `!n`.
    Bang(Option<(String, Span)>),
}

/// `name = value`, or just `name` for a same-named value.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArg {
    pub name: Ident,
    pub value: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InfixOp {
    Or,
    And,
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

impl InfixOp {
    pub fn symbol(self) -> &'static str {
        use InfixOp::*;
        match self {
            Or => "||",
            And => "&&",
            Eq => "==",
            Neq => "!=",
            Lt => "<",
            Lte => "<=",
            Gt => ">",
            Gte => ">=",
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Rem => "%",
            Pow => "**",
        }
    }
}
