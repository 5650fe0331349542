//! The canonical formatter: `aquac fmt`.
//!
//! The layout is fixed: four spaces per block level, one statement per line, single spaces
//! around infix operators, `<-`, `=` and after commas, none inside brackets. Comments are
//! kept: a comment that followed code on its line still does; a comment inside a statement
//! that spanned several lines moves to its own line above the statement. One blank line
//! is kept where the source had one or more, none at the start of a block, and top-level
//! definitions with a body are always separated by one. Formatting is idempotent.

use crate::diagnostic::{Diagnostic, Severity};
use crate::syntax::ast::*;
use crate::syntax::{parse, Span};

const INDENT: &str = "    ";

/// Formats Aqua source. A file with syntax errors is not formatted: its errors are returned.
pub fn format(source: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = parse(source);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(|d| d.severity() == Severity::Error)
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut printer = Printer {
        source,
        comments: parsed.comments,
        next_comment: 0,
        out: String::new(),
        prev_end: 0,
        block_start: true,
    };
    printer.file(&parsed.file);
    printer.flush_comments(source.len(), 0, false);
    Ok(printer.out)
}

struct Printer<'a> {
    source: &'a str,
    comments: Vec<Span>,
    next_comment: usize,
    out: String,
    /// The end of the last source text (line or comment) printed.
    prev_end: usize,
    /// Whether nothing was printed yet in the current block.
    block_start: bool,
}

impl Printer<'_> {
    fn file(&mut self, file: &File) {
        for item in &file.header {
            let (span, text) = header_item(item);
            self.line(0, span, &text, false);
        }
        let mut previous_is_block = !file.header.is_empty();
        for item in &file.items {
            let is_block = matches!(
                item,
                Item::Data { .. } | Item::Service { .. } | Item::Ability { .. } | Item::Func(_)
            );
            let force_blank = previous_is_block || is_block;
            previous_is_block = is_block;
            match item {
                Item::Data { name, fields, span } => {
                    self.line(0, *span, &format!("data {}:", name.text), force_blank);
                    self.fields(fields, false);
                }
                Item::Ability { name, fields, span } => {
                    self.line(0, *span, &format!("ability {}:", name.text), force_blank);
                    self.fields(fields, true);
                }
                Item::Service {
                    name,
                    default_id,
                    methods,
                    span,
                } => {
                    let id = default_id
                        .as_ref()
                        .map_or(String::new(), |id| format!("({})", expr(id)));
                    self.line(
                        0,
                        *span,
                        &format!("service {}{id}:", name.text),
                        force_blank,
                    );
                    self.fields(methods, true);
                }
                Item::Alias { name, ty: t, span } => {
                    let text = format!("alias {}: {}", name.text, ty(t));
                    self.line(0, *span, &text, force_blank);
                }
                Item::Const {
                    name,
                    overridable,
                    value,
                    span,
                } => {
                    let op = if *overridable { "?=" } else { "=" };
                    let text = format!("const {} {op} {}", name.text, expr(value));
                    self.line(0, *span, &text, force_blank);
                }
                Item::Func(func) => {
                    let text = format!("func {}{}:", func.name.text, head_arrow(&func.arrow));
                    self.line(0, func.span, &text, force_blank);
                    self.block(&func.body, 1);
                }
                Item::Error(_) => unreachable!("files with syntax errors are not formatted"),
            }
        }
    }

    fn fields(&mut self, fields: &[Field], methods: bool) {
        self.block_start = true;
        for field in fields {
            let text = match &field.ty {
                Type::Arrow(arrow) if methods && arrow.params.iter().all(|p| p.name.is_some()) => {
                    format!("{}{}", field.name.text, head_arrow(arrow))
                }
                other => format!("{}: {}", field.name.text, ty(other)),
            };
            self.line(1, field.span, &text, false);
        }
    }

    fn block(&mut self, block: &Block, depth: usize) {
        self.block_start = true;
        // Blocks and expressions nest up to the parser's limit; grow the stack for them.
        stacker::maybe_grow(64 << 10, 1 << 20, || {
            for stmt in &block.stmts {
                self.stmt(stmt, depth);
            }
        });
    }

    fn stmt(&mut self, stmt: &Stmt, depth: usize) {
        let (text, body) = stmt_line(stmt);
        self.line(depth, stmt.span, &text, false);
        if let Some(body) = body {
            self.block(body, depth + 1);
        }
    }

    /// Prints one line for the source line at `span`, with the comments before and inside it.
    fn line(&mut self, depth: usize, span: Span, text: &str, force_blank: bool) {
        let force_blank = self.flush_comments(span.start, depth, force_blank);
        let blank = force_blank || self.blank_before(span.start);
        if blank && !self.block_start && !self.out.is_empty() {
            self.out.push('\n');
        }
        // Comments inside a statement written over several lines go above it.
        while let Some(&comment) = self.comments.get(self.next_comment) {
            if comment.start >= span.end {
                break;
            }
            let source = self.source;
            self.indent(depth);
            self.out
                .push_str(source[comment.start..comment.end].trim_end());
            self.out.push('\n');
            self.next_comment += 1;
        }
        self.indent(depth);
        self.out.push_str(text);
        self.out.push('\n');
        self.prev_end = span.end;
        self.block_start = false;
    }

    /// Prints the comments that start before `until`: on the previous line's physical line
    /// as trailing comments, the others on lines of their own. A forced blank line goes
    /// before the first comment on a line of its own, so that a comment stays with the
    /// definition it precedes; returns whether it is still to be printed.
    fn flush_comments(&mut self, until: usize, depth: usize, mut force_blank: bool) -> bool {
        while let Some(&comment) = self.comments.get(self.next_comment) {
            if comment.start >= until {
                break;
            }
            let text = self.text(comment).trim_end().to_string();
            let same_line = !self.source[self.prev_end..comment.start].contains('\n');
            if same_line && !self.out.is_empty() {
                self.out.pop();
                self.out.push(' ');
                self.out.push_str(&text);
                self.out.push('\n');
            } else {
                let blank = std::mem::take(&mut force_blank) || self.blank_before(comment.start);
                if blank && !self.block_start && !self.out.is_empty() {
                    self.out.push('\n');
                }
                self.indent(depth);
                self.out.push_str(&text);
                self.out.push('\n');
                self.block_start = false;
            }
            self.prev_end = comment.end;
            self.next_comment += 1;
        }
        force_blank
    }

    fn blank_before(&self, start: usize) -> bool {
        self.source[self.prev_end.min(start)..start]
            .matches('\n')
            .count()
            >= 2
    }

    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str(INDENT);
        }
    }

    fn text(&self, span: Span) -> &str {
        &self.source[span.start..span.end]
    }
}

fn header_item(item: &HeaderItem) -> (Span, String) {
    let names = |names: &[ImportName]| {
        let parts: Vec<String> = names
            .iter()
            .map(|n| match &n.alias {
                Some(alias) => format!("{} as {}", n.name.text(), alias.text),
                None => n.name.text(),
            })
            .collect();
        parts.join(", ")
    };
    let from = |list: &Option<Vec<ImportName>>| {
        list.as_ref()
            .map_or(String::new(), |list| format!("{} from ", names(list)))
    };
    match item {
        HeaderItem::Module {
            legacy,
            name,
            declares,
            span,
            ..
        } => {
            let keyword = if *legacy { "module" } else { "aqua" };
            let declares = match declares {
                None => String::new(),
                Some(Declares::All(_)) => " declares *".into(),
                Some(Declares::Names(list)) => {
                    let list: Vec<&str> = list.iter().map(|n| n.text.as_str()).collect();
                    format!(" declares {}", list.join(", "))
                }
            };
            (*span, format!("{keyword} {}{declares}", name.text()))
        }
        HeaderItem::Import {
            names: list,
            path,
            span,
        } => (*span, format!("import {}\"{}\"", from(list), path.value)),
        HeaderItem::Use {
            names: list,
            path,
            alias,
            span,
        } => {
            let alias = alias
                .as_ref()
                .map_or(String::new(), |a| format!(" as {}", a.text()));
            (
                *span,
                format!("use {}\"{}\"{alias}", from(list), path.value),
            )
        }
        HeaderItem::Export { names: list, span } => (*span, format!("export {}", names(list))),
    }
}

/// The text of a statement's own line, and its body if it opens a block.
fn stmt_line(stmt: &Stmt) -> (String, Option<&Block>) {
    let via = |via: &[Expr]| {
        via.iter()
            .map(|v| format!(" via {}", expr(v)))
            .collect::<String>()
    };
    let item = |item: &ForItem| match item {
        ForItem::Single(name) => name.text.clone(),
        ForItem::Pair(k, v) => format!("{}, {}", k.text, v.text),
    };
    match &stmt.kind {
        StmtKind::Call { results, value, .. } if results.is_empty() => (expr(value), None),
        StmtKind::Call { results, value, .. } => {
            let names: Vec<&str> = results.iter().map(|r| r.text.as_str()).collect();
            (format!("{} <- {}", names.join(", "), expr(value)), None)
        }
        StmtKind::Assign { name, value } => (format!("{} = {}", name.text, expr(value)), None),
        StmtKind::Closure {
            name,
            detached,
            func,
        } => {
            let func_kw = if *detached { "func " } else { "" };
            let text = format!("{} = {func_kw}{}:", name.text, head_arrow(&func.arrow));
            (text, Some(&func.body))
        }
        StmtKind::Return { values } => (format!("<- {}", list(values)), None),
        StmtKind::Declare { name, ty: t } => (format!("{}: {}", name.text, ty(t)), None),
        StmtKind::Push { target, key, value } => {
            let key = key
                .as_ref()
                .map_or(String::new(), |k| format!("{}, ", expr(k)));
            (format!("{} <<- {key}{}", target.text, expr(value)), None)
        }
        StmtKind::ServiceId { service, id } => (format!("{} {}", service.text(), expr(id)), None),
        StmtKind::On {
            peer,
            via: relays,
            body,
        } => (format!("on {}{}:", expr(peer), via(relays)), Some(body)),
        StmtKind::For {
            item: it,
            iterable,
            mode,
            body,
        } => {
            let mode = match mode {
                None => "",
                Some(ForMode::Par) => " par",
                Some(ForMode::Try) => " try",
                Some(ForMode::Rec) => " rec",
            };
            let text = format!("for {} <- {}{mode}:", item(it), expr(iterable));
            (text, Some(body))
        }
        StmtKind::Parseq {
            item: it,
            iterable,
            peer,
            via: relays,
            body,
        } => {
            let text = format!(
                "parseq {} <- {} on {}{}:",
                item(it),
                expr(iterable),
                expr(peer),
                via(relays)
            );
            (text, Some(body))
        }
        StmtKind::If { condition, body } => (format!("if {}:", expr(condition)), Some(body)),
        StmtKind::Else { body } => ("else:".into(), Some(body)),
        StmtKind::Try { body } => ("try:".into(), Some(body)),
        StmtKind::Catch { name, body } => (format!("catch {}:", name.text), Some(body)),
        StmtKind::Otherwise { body } => ("otherwise:".into(), Some(body)),
        StmtKind::Par(inner) | StmtKind::Co(inner) => {
            let keyword = if matches!(stmt.kind, StmtKind::Par(_)) {
                "par"
            } else {
                "co"
            };
            let (text, body) = stmt_line(inner);
            (format!("{keyword} {text}"), body)
        }
        StmtKind::Join { values } => (format!("join {}", list(values)), None),
        StmtKind::Error => unreachable!("files with syntax errors are not formatted"),
    }
}

fn list(values: &[Expr]) -> String {
    let parts: Vec<String> = values.iter().map(expr).collect();
    parts.join(", ")
}

fn fields(fields: &[NamedArg]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| match &f.value {
            Some(value) => format!("{} = {}", f.name.text, expr(value)),
            None => f.name.text.clone(),
        })
        .collect();
    parts.join(", ")
}

fn abilities(abilities: &[Expr]) -> String {
    if abilities.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", list(abilities))
    }
}

/// An expression on one line.
pub fn expr(e: &Expr) -> String {
    stacker::maybe_grow(64 << 10, 1 << 20, || expr_text(e))
}

fn expr_text(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Literal(literal) => match literal {
            Literal::Int(digits) | Literal::Float(digits) => digits.clone(),
            Literal::Str(text) => format!("\"{text}\""),
            Literal::Bool(b) => b.to_string(),
            Literal::InitPeerId => "%init_peer_id%".into(),
        },
        ExprKind::Name(name) => name.text.clone(),
        ExprKind::Collection { kind, items } => {
            let open = match kind {
                CollectionKind::Array => "[",
                CollectionKind::Option => "?[",
                CollectionKind::Stream => "*[",
            };
            format!("{open}{}]", list(items))
        }
        ExprKind::Call {
            callee,
            abilities: abs,
            args,
            ..
        } => format!("{}{}({})", callee.text, abilities(abs), list(args)),
        ExprKind::Construct { ty, fields: f, .. } => format!("{}({})", ty.text(), fields(f)),
        ExprKind::Property { base, op } => {
            let base = expr(base);
            match op {
                PropertyOp::Field(name) => format!("{base}.{}", name.text),
                PropertyOp::Method {
                    name,
                    abilities: abs,
                    args,
                    ..
                } => format!("{base}.{}{}({})", name.text, abilities(abs), list(args)),
                PropertyOp::Copy { fields: f, .. } => format!("{base}.copy({})", fields(f)),
                PropertyOp::Index(index) => format!("{base}[{}]", expr(index)),
                PropertyOp::Bang(None) => format!("{base}!"),
                PropertyOp::Bang(Some((n, _))) => format!("{base}!{n}"),
            }
        }
        ExprKind::Not(inner) => format!("!{}", expr(inner)),
        ExprKind::Infix { op, lhs, rhs, .. } => {
            format!("{} {} {}", expr(lhs), op.symbol(), expr(rhs))
        }
        ExprKind::Paren(inner) => format!("({})", expr(inner)),
        ExprKind::Error => unreachable!("files with syntax errors are not formatted"),
    }
}

/// A type on one line.
pub fn ty(t: &Type) -> String {
    match t {
        Type::Named(path) => path.text(),
        Type::Array(inner, _) => format!("[]{}", ty(inner)),
        Type::Option(inner, _) => format!("?{}", ty(inner)),
        Type::Stream(inner, _) => format!("*{}", ty(inner)),
        Type::StreamMap(inner, _) => format!("%{}", ty(inner)),
        Type::Top(_) => "⊤".into(),
        Type::Bottom(_) => "⊥".into(),
        Type::Arrow(arrow) => type_arrow(arrow),
    }
}

/// An arrow nested in a list of types or results is parenthesized.
fn nested(t: &Type) -> String {
    match t {
        Type::Arrow(_) => format!("({})", ty(t)),
        other => ty(other),
    }
}

fn abilities_prefix(arrow: &ArrowType) -> String {
    if arrow.abilities.is_empty() {
        return String::new();
    }
    let names: Vec<String> = arrow.abilities.iter().map(Path::text).collect();
    format!("{{{}}}", names.join(", "))
}

fn named_params(arrow: &ArrowType) -> String {
    let params: Vec<String> = arrow
        .params
        .iter()
        .map(|p| match &p.name {
            Some(name) => format!("{}: {}", name.text, ty(&p.ty)),
            None => ty(&p.ty),
        })
        .collect();
    format!("({})", params.join(", "))
}

fn results(arrow: &ArrowType) -> String {
    if arrow.results.is_empty() {
        "()".into()
    } else {
        let results: Vec<String> = arrow.results.iter().map(nested).collect();
        results.join(", ")
    }
}

/// An arrow in a type position: `{Ab} A, B -> C`, `(a: A) -> ()`.
fn type_arrow(arrow: &ArrowType) -> String {
    let abilities = abilities_prefix(arrow);
    let abilities = if abilities.is_empty() {
        abilities
    } else {
        abilities + " "
    };
    let params = if arrow.params.iter().any(|p| p.name.is_some()) {
        named_params(arrow) + " "
    } else if arrow.params.is_empty() {
        String::new()
    } else {
        let types: Vec<String> = arrow.params.iter().map(|p| nested(&p.ty)).collect();
        types.join(", ") + " "
    };
    format!("{abilities}{params}-> {}", results(arrow))
}

/// The arrow of a function, closure or method head: `{Ab}(a: A) -> R`, no `-> ()`.
fn head_arrow(arrow: &ArrowType) -> String {
    let results = if arrow.results.is_empty() {
        String::new()
    } else {
        format!(" -> {}", results(arrow))
    };
    format!(
        "{}{}{results}",
        abilities_prefix(arrow),
        named_params(arrow)
    )
}
