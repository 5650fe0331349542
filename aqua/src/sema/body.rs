//! Checking expressions, statements and function bodies; resolving types as written.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::hir::*;
use super::scope::{
    const_expr, method_arrow, scalar_names, ConstValue, Def, ModuleScope, OwnNames, Site,
    SourceIndex,
};
use super::types::{ArrowType, NumberLiteral, Scalar, StructType, Type};
use super::{Checked, ModuleInterface};
use crate::syntax::ast::{self, CollectionKind, InfixOp, PropertyOp};
use crate::syntax::{nearest, Span};
use crate::{Code, Diagnostic};

/// What the checker of one module's definitions knows.
pub(super) struct Ctx<'a> {
    module: usize,
    /// The interfaces of the modules this one imports.
    checked: &'a Checked,
    /// This module's interface so far: the definitions before the one being checked.
    own: &'a ModuleInterface,
    scope: &'a ModuleScope,
    local: &'a OwnNames,
    pub diagnostics: Vec<Diagnostic>,
    index: SourceIndex,
    locals: Vec<Local>,
    /// Local names by block, innermost last.
    frames: Vec<HashMap<String, LocalId>>,
    /// Services whose id a statement has set, with the number of frames open when it did:
    /// the id holds until that frame closes.
    service_ids: Vec<(ServiceId, usize)>,
    /// The innermost function or closure last: what its `<-` gives.
    returns: Vec<Returns>,
    /// Streams declared with `name: *T` in the function being checked.
    declared_streams: HashSet<LocalId>,
    /// How many of the functions and closures being checked require an ability that does
    /// not resolve (already reported).
    unresolved_abilities: usize,
    error_type: Arc<StructType>,
}

/// What `<-` gives in a function or closure being checked, and where it may stand.
struct Returns {
    /// The declared results.
    types: Vec<Type>,
    /// Where the results are declared.
    spans: Vec<Span>,
    /// How deep the statement being checked is nested: 1 in the function's own body.
    depth: usize,
}

/// The type of `LAST_ERROR` and of the variable of `catch`.
fn error_struct() -> Arc<StructType> {
    Arc::new(StructType {
        name: "Error".into(),
        fields: vec![
            ("error_code".into(), Type::Scalar(Scalar::I64)),
            ("instruction".into(), Type::string()),
            ("message".into(), Type::string()),
            ("peer_id".into(), Type::string()),
        ],
        origin: None,
    })
}

/// `unknown type `X``, or of another kind of type (`what`), with the nearest of `candidates`.
fn unknown_type(what: &str, text: &str, span: Span, candidates: &[&str]) -> Diagnostic {
    let d = Diagnostic::new(Code::UnknownType, span)
        .with_message(format!("unknown {what} `{text}`"))
        .with_primary_label("not defined here");
    match nearest(text, candidates) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => d,
    }
}

fn expr(kind: ExprKind, ty: Type, span: Span) -> Expr {
    Expr { kind, ty, span }
}

fn error_expr(span: Span) -> Expr {
    expr(ExprKind::Error, Type::Error, span)
}

/// `Name` or `A.B.c` written as names and fields only: a candidate qualified name.
fn name_path(e: &ast::Expr) -> Option<Vec<&ast::Ident>> {
    match &e.kind {
        ast::ExprKind::Name(ident) => Some(vec![ident]),
        ast::ExprKind::Property {
            base,
            op: PropertyOp::Field(field),
        } => {
            let mut path = name_path(base)?;
            path.push(field);
            Some(path)
        }
        _ => None,
    }
}

fn joined(parts: &[&ast::Ident]) -> String {
    let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
    texts.join(".")
}

impl<'a> Ctx<'a> {
    pub fn new(
        module: usize,
        checked: &'a Checked,
        own: &'a ModuleInterface,
        local: &'a OwnNames,
    ) -> Self {
        Ctx {
            module,
            checked,
            own,
            scope: &own.scope,
            local,
            diagnostics: Vec::new(),
            index: SourceIndex::default(),
            locals: Vec::new(),
            frames: Vec::new(),
            service_ids: Vec::new(),
            returns: Vec::new(),
            declared_streams: HashSet::new(),
            unresolved_abilities: 0,
            error_type: error_struct(),
        }
    }

    /// The interface of a module: this one or one it imports.
    fn module(&self, index: u32) -> &'a ModuleInterface {
        if index as usize == self.module {
            self.own
        } else {
            self.checked[index as usize]
                .as_deref()
                .expect("ids only come from modules checked before")
        }
    }

    fn func_arrow(&self, id: FuncId) -> Type {
        Type::Arrow(self.module(id.module).funcs[id.index as usize].clone())
    }

    fn service_type(&self, id: ServiceId) -> Type {
        self.module(id.module).services[id.index as usize].0.clone()
    }

    /// Closes the innermost block: its names and the service ids it set end with it.
    fn pop_frame(&mut self) {
        self.frames.pop();
        let open = self.frames.len();
        self.service_ids.retain(|&(_, depth)| depth <= open);
    }

    /// Whether a call of service `id` here has an id: its default, or one set before.
    fn service_has_id(&self, id: ServiceId) -> bool {
        self.module(id.module).services[id.index as usize]
            .1
            .is_some()
            || self.service_ids.iter().any(|&(set, _)| set == id)
    }

    fn report(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Hands what the checker found over: diagnostics, and names and types by position.
    pub fn finish(&mut self, diagnostics: &mut Vec<Diagnostic>, index: &mut SourceIndex) {
        diagnostics.append(&mut self.diagnostics);
        index.names.append(&mut self.index.names);
        index.types.append(&mut self.index.types);
    }

    /// Records that `span` names what `site` defines, a value of type `ty`.
    pub fn note(&mut self, span: Span, site: Site, ty: &Type) {
        self.index.names.push((span, site));
        if !ty.is_error() {
            self.index.types.push((span, ty.clone()));
        }
    }

    /// Records that `name` names a member of `owner` (a field of a struct or an ability, a
    /// function of a service): where it is declared, when the type comes from a definition,
    /// and its type.
    fn note_member(&mut self, owner: &Type, name: &ast::Ident) {
        let (origin, members) = match owner {
            Type::Struct(s) => (s.origin, &s.fields),
            Type::Ability(a) => (a.origin, &a.fields),
            _ => return,
        };
        let Some(position) = members.iter().position(|(n, _)| *n == name.text) else {
            return;
        };
        let ty = &members[position].1;
        match origin {
            Some(def) => self.note(name.span, Site::Member(def, position as u32), ty),
            None if !ty.is_error() => self.index.types.push((name.span, ty.clone())),
            None => {}
        }
    }

    /// Records that `span` names the local `local`.
    fn note_local(&mut self, span: Span, local: LocalId) {
        let site = Site::Local {
            module: self.module as u32,
            span: self.locals[local.0 as usize].span,
        };
        self.index.names.push((span, site));
    }

    /// Records where the top-level name written as `parts` is defined.
    fn note_path(&mut self, parts: &[&ast::Ident]) {
        let Some((last, prefix)) = parts.split_last() else {
            return;
        };
        let site = if prefix.is_empty() {
            self.scope.origins.get(&last.text)
        } else {
            self.local.used.get(&joined(prefix)).and_then(|used| {
                let name = match &used.only {
                    Some(only) => &only.iter().find(|(local, _)| *local == last.text)?.1,
                    None => &last.text,
                };
                self.module(used.module as u32).scope.origins.get(name)
            })
        };
        if let Some(site) = site.copied() {
            self.index.names.push((last.span, site));
        }
    }

    // ---- names -------------------------------------------------------------------------

    fn local(&self, name: &str) -> Option<LocalId> {
        self.frames.iter().rev().find_map(|f| f.get(name).copied())
    }

    fn bind(&mut self, ident: &ast::Ident, ty: Type) -> LocalId {
        self.check_new_name(ident);
        let id = LocalId(self.locals.len() as u32);
        self.locals.push(Local {
            name: ident.text.clone(),
            ty: ty.clone(),
            span: ident.span,
        });
        if let Some(frame) = self.frames.last_mut() {
            frame.insert(ident.text.clone(), id);
        }
        self.note_local(ident.span, id);
        if !ty.is_error() {
            self.index.types.push((ident.span, ty.clone()));
        }
        id
    }

    /// Values never change: a name already visible, as a value of this function or of the
    /// functions around a closure, as a constant or as a built-in value, cannot name another.
    fn check_new_name(&mut self, ident: &ast::Ident) {
        let name = ident.text.as_str();
        let previous = if let Some(local) = self.local(name) {
            Some(("a value", Some(self.locals[local.0 as usize].span)))
        } else if let Some(Def::Const(..)) = self.scope.names.get(name) {
            Some(("a constant", self.local.spans.get(name).copied()))
        } else if self.builtin(name).is_some() {
            Some(("a built-in constant", None))
        } else {
            None
        };
        let Some((what, first)) = previous else {
            return;
        };
        let mut d = Diagnostic::new(Code::Redefinition, ident.span)
            .with_message(format!("`{name}` is already defined as {what}"))
            .with_primary_label("defined again here")
            .with_help("values cannot be reassigned or shadowed: choose another name");
        if let Some(first) = first {
            d = d.with_label(first, "first defined here");
        }
        self.report(d);
    }

    /// A top-level name, possibly qualified by a `use` alias (`Mod.name`, `A.B.name`).
    fn lookup_path(&self, parts: &[&ast::Ident]) -> Option<Def> {
        if parts.len() == 1 {
            return self.scope.names.get(&parts[0].text).cloned();
        }
        let (last, prefix) = parts.split_last()?;
        let used = self.local.used.get(&joined(prefix))?;
        let name = match &used.only {
            Some(only) => only
                .iter()
                .find(|(local, _)| *local == last.text)
                .map(|(_, original)| original.clone())?,
            None => last.text.clone(),
        };
        self.module(used.module as u32).scope.get_declared(&name)
    }

    /// [`Self::lookup_path`] for a name the program uses, recorded for editors.
    fn resolve_path(&mut self, parts: &[&ast::Ident]) -> Option<Def> {
        let def = self.lookup_path(parts);
        if def.is_some() {
            self.note_path(parts);
        }
        def
    }

    fn is_module_alias(&self, parts: &[&ast::Ident]) -> bool {
        self.local.used.contains_key(&joined(parts))
    }

    /// `Mod.name` where the module used as `Mod` does not offer `name`: marked at `name`.
    fn unknown_in_module(&mut self, what: &str, prefix: &[&ast::Ident], name: &ast::Ident) {
        let alias = joined(prefix);
        let Some(used) = self.local.used.get(&alias) else {
            return;
        };
        let module = &self.module(used.module as u32).scope;
        let offered: Vec<String> = match &used.only {
            Some(only) => only.iter().map(|(local, _)| local.clone()).collect(),
            None => module.declared().into_iter().map(|(n, _)| n).collect(),
        };
        let mut d = Diagnostic::new(Code::UnknownName, name.span)
            .with_primary_label(format!("not offered by `{alias}`"));
        d = if module.names.contains_key(&name.text) && module.get_declared(&name.text).is_none() {
            d.with_message(format!(
                "`{alias}` defines the {what} `{}`, but does not declare it",
                name.text
            ))
            .with_help(
                "a module offers only the names listed after `declares` in its `aqua` header",
            )
        } else {
            let candidates: Vec<&str> = offered.iter().map(String::as_str).collect();
            let d = d.with_message(format!("`{alias}` has no {what} `{}`", name.text));
            match nearest(&name.text, &candidates) {
                Some(near) => d.with_help(format!("did you mean `{alias}.{near}`?")),
                None => d,
            }
        };
        self.report(d);
    }

    /// Names a suggestion may come from: locals and top-level names.
    fn suggest(&self, word: &str, top_level: impl Fn(&Def) -> bool) -> Option<String> {
        let mut names: Vec<&str> = self
            .frames
            .iter()
            .flat_map(|f| f.keys().map(String::as_str))
            .collect();
        names.extend(
            self.scope
                .names
                .iter()
                .filter(|(_, d)| top_level(d))
                .map(|(n, _)| n.as_str()),
        );
        nearest(word, &names).map(str::to_string)
    }

    fn unknown(&mut self, what: &str, ident_text: &str, span: Span, suggestion: Option<String>) {
        if self.local.missed.contains(ident_text) {
            return;
        }
        let mut d = Diagnostic::new(Code::UnknownName, span)
            .with_message(format!("unknown {what} `{ident_text}`"))
            .with_primary_label("not defined here");
        if let Some(s) = suggestion {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.report(d);
    }

    // ---- types -------------------------------------------------------------------------

    pub fn resolve_type(&mut self, ty: &ast::Type) -> Type {
        match ty {
            ast::Type::Named(path) => {
                let parts: Vec<&ast::Ident> = path.parts.iter().collect();
                if parts.len() == 1 {
                    if let Some(s) = Scalar::from_name(&parts[0].text) {
                        return Type::Scalar(s);
                    }
                }
                match self.resolve_path(&parts) {
                    Some(Def::Type(t)) => t,
                    Some(Def::Service(id)) => self.service_type(id),
                    Some(other) => {
                        let text = path.text();
                        self.report(
                            Diagnostic::new(Code::UnknownType, path.span())
                                .with_message(format!("`{text}` is a {}, not a type", other.kind()))
                                .with_primary_label("expected a type"),
                        );
                        Type::Error
                    }
                    None if self.local.missed.contains(&path.text()) => Type::Error,
                    None => {
                        let text = path.text();
                        let mut names: Vec<&str> = scalar_names().collect();
                        names.extend(
                            self.scope
                                .names
                                .iter()
                                .filter(|(_, d)| matches!(d, Def::Type(_) | Def::Service(_)))
                                .map(|(n, _)| n.as_str()),
                        );
                        let d = unknown_type("type", &text, path.span(), &names);
                        self.report(d);
                        Type::Error
                    }
                }
            }
            ast::Type::Array(t, _) => Type::Array(Box::new(self.resolve_data_type(t))),
            ast::Type::Option(t, _) => Type::Option(Box::new(self.resolve_data_type(t))),
            ast::Type::Stream(t, _) => Type::Stream(Box::new(self.resolve_data_type(t))),
            ast::Type::StreamMap(t, _) => Type::StreamMap(Box::new(self.resolve_data_type(t))),
            ast::Type::Top(_) => Type::Top,
            ast::Type::Bottom(_) => Type::Bottom,
            ast::Type::Arrow(arrow) => Type::Arrow(Arc::new(self.resolve_arrow(arrow))),
        }
    }

    /// A type inside a collection: data only.
    fn resolve_data_type(&mut self, ty: &ast::Type) -> Type {
        let resolved = self.resolve_type(ty);
        if !resolved.is_data() || matches!(resolved, Type::Stream(_) | Type::StreamMap(_)) {
            self.report(
                Diagnostic::new(Code::TypeMismatch, ty.span())
                    .with_message(format!("a collection cannot hold {resolved}"))
                    .with_primary_label("not allowed inside a collection"),
            );
            return Type::Error;
        }
        resolved
    }

    /// An ability an arrow requires (`{Name}`): an ability or a service.
    fn resolve_ability(&mut self, path: &ast::Path) -> Type {
        let parts: Vec<&ast::Ident> = path.parts.iter().collect();
        let text = path.text();
        let known = self.lookup_path(&parts).is_some() || Scalar::from_name(&text).is_some();
        if !known && !self.local.missed.contains(&text) {
            let abilities: Vec<&str> = self
                .scope
                .names
                .iter()
                .filter(|(_, d)| matches!(d, Def::Type(Type::Ability(_)) | Def::Service(_)))
                .map(|(n, _)| n.as_str())
                .collect();
            let d = unknown_type("ability", &text, path.span(), &abilities);
            self.report(d);
            return Type::Error;
        }
        match self.resolve_type(&ast::Type::Named(path.clone())) {
            ty @ (Type::Ability(_) | Type::Error) => ty,
            other => {
                self.report(
                    Diagnostic::new(Code::UnknownType, path.span())
                        .with_message(format!(
                            "`{text}` is not an ability: `{{...}}` lists the abilities an arrow \
                             requires"
                        ))
                        .with_primary_label(format!("the type {other}"))
                        .with_help("pass values as parameters in `(...)`"),
                );
                Type::Error
            }
        }
    }

    fn resolve_arrow(&mut self, arrow: &ast::ArrowType) -> ArrowType {
        let abilities = arrow
            .abilities
            .iter()
            .map(|p| self.resolve_ability(p))
            .collect();
        let params = arrow
            .params
            .iter()
            .map(|p| {
                (
                    p.name.as_ref().map(|n| n.text.clone()),
                    self.resolve_type(&p.ty),
                )
            })
            .collect();
        let results = arrow.results.iter().map(|t| self.resolve_type(t)).collect();
        ArrowType {
            abilities,
            params,
            results,
        }
    }

    /// A constant expression folded to a literal.
    pub fn check_const_expr(&mut self, e: &ast::Expr) -> Option<(ConstValue, Type)> {
        self.frames.push(HashMap::new());
        let checked = self.check_expr(e);
        self.pop_frame();
        let value = match checked.kind {
            ExprKind::Int(i) => ConstValue::Int(i),
            ExprKind::Float(f) => ConstValue::Float(f),
            ExprKind::Str(s) => ConstValue::Str(s),
            ExprKind::Bool(b) => ConstValue::Bool(b),
            ExprKind::Nil => ConstValue::Nil,
            ExprKind::Error => return None,
            _ => {
                self.report(
                    Diagnostic::new(Code::TypeMismatch, e.span)
                        .with_message("a constant's value must be known when compiling")
                        .with_primary_label("not a literal")
                        .with_help("use literals, other constants and operators on them"),
                );
                return None;
            }
        };
        Some((value, checked.ty))
    }

    // ---- expressions -------------------------------------------------------------------

    pub fn check_expr(&mut self, e: &ast::Expr) -> Expr {
        self.check_expr_against(e, None)
    }

    /// An expression where a value of type `want` is expected, if known. Collection literals
    /// check their items against its element type, so that the item that does not fit is
    /// the one marked; the caller still checks the whole value against `want`.
    fn check_expr_against(&mut self, e: &ast::Expr, want: Option<&Type>) -> Expr {
        let checked = crate::deep(|| self.check_expr_inner(e, want));
        if !checked.ty.is_error() {
            self.index.types.push((checked.span, checked.ty.clone()));
        }
        checked
    }

    fn check_expr_inner(&mut self, e: &ast::Expr, want: Option<&Type>) -> Expr {
        let span = e.span;
        match &e.kind {
            ast::ExprKind::Literal(lit) => self.literal(lit, span),
            ast::ExprKind::Name(ident) => self.name(ident),
            ast::ExprKind::Paren(inner) => {
                let mut inner = self.check_expr_against(inner, want);
                inner.span = span;
                inner
            }
            ast::ExprKind::Collection { kind, items } => {
                self.collection(*kind, items, span, want.and_then(Type::element))
            }
            ast::ExprKind::Call {
                callee,
                abilities,
                args,
                args_span,
            } => {
                let target = if let Some(local) = self.local(&callee.text) {
                    self.note_local(callee.span, local);
                    let ty = self.locals[local.0 as usize].ty.clone();
                    Some((
                        Callee::Value(Box::new(expr(
                            ExprKind::Local(local),
                            ty.clone(),
                            callee.span,
                        ))),
                        ty,
                    ))
                } else {
                    let def = self.scope.names.get(&callee.text).cloned();
                    if def.is_some() {
                        self.note_path(&[callee]);
                    }
                    match def {
                        Some(Def::Func(id)) => Some((Callee::Func(id), self.func_arrow(id))),
                        Some(other) => {
                            self.report(
                                Diagnostic::new(Code::NotCallable, callee.span)
                                    .with_message(format!(
                                        "`{}` is a {}, not a function",
                                        callee.text,
                                        other.kind()
                                    ))
                                    .with_primary_label("cannot be called"),
                            );
                            None
                        }
                        None => {
                            let s = self.suggest(&callee.text, |d| matches!(d, Def::Func(_)));
                            self.unknown("function", &callee.text, callee.span, s);
                            None
                        }
                    }
                };
                match target {
                    Some((callee, ty)) => self.call(callee, &ty, abilities, args, *args_span, span),
                    None => {
                        self.check_all(abilities);
                        self.check_all(args);
                        error_expr(span)
                    }
                }
            }
            ast::ExprKind::Construct {
                ty,
                fields,
                args_span,
            } => self.construct(ty, fields, *args_span, span),
            ast::ExprKind::Property { base, op } => self.property(base, op, span),
            ast::ExprKind::Not(inner) => {
                let inner = self.check_expr(inner);
                self.expect(&inner, &Type::bool());
                if let ExprKind::Bool(b) = inner.kind {
                    return expr(ExprKind::Bool(!b), Type::bool(), span);
                }
                expr(ExprKind::Not(Box::new(inner)), Type::bool(), span)
            }
            ast::ExprKind::Infix {
                op,
                op_span,
                lhs,
                rhs,
            } => {
                let lhs = self.check_expr(lhs);
                let rhs = self.check_expr(rhs);
                self.infix(*op, *op_span, lhs, rhs, span)
            }
            ast::ExprKind::Error => error_expr(span),
        }
    }

    fn check_all(&mut self, exprs: &[ast::Expr]) -> Vec<Expr> {
        exprs.iter().map(|e| self.check_expr(e)).collect()
    }

    /// Values for the given types, one each; when the counts differ, the types are not used.
    fn check_all_against(&mut self, exprs: &[ast::Expr], types: &[Type]) -> Vec<Expr> {
        if exprs.len() != types.len() {
            return self.check_all(exprs);
        }
        exprs
            .iter()
            .zip(types)
            .map(|(e, ty)| self.check_expr_against(e, Some(ty)))
            .collect()
    }

    /// Reports a value whose type does not fit; true when it fits.
    fn expect(&mut self, value: &Expr, ty: &Type) -> bool {
        if value.ty.fits(ty) {
            if let (ExprKind::Int(i), Type::Scalar(scalar)) = (&value.kind, ty) {
                if let Some((min, max)) = scalar.integer_range() {
                    if !(min..=max).contains(&i128::from(*i)) {
                        self.report(
                            Diagnostic::new(Code::NumberOutOfRange, value.span)
                                .with_message(format!(
                                    "{i} does not fit in {ty}, which holds {min} to {max}"
                                ))
                                .with_primary_label(format!("not a {ty}")),
                        );
                        return false;
                    }
                }
            }
            return true;
        }
        self.report(
            Diagnostic::new(Code::TypeMismatch, value.span)
                .with_message(format!("expected {ty}, found {}", value.ty))
                .with_primary_label(format!("this is {}", value.ty)),
        );
        false
    }

    fn literal(&mut self, lit: &ast::Literal, span: Span) -> Expr {
        match lit {
            ast::Literal::Int(text) => match text.parse::<i64>() {
                Ok(i) => {
                    let kind = if i < 0 {
                        NumberLiteral::Signed
                    } else {
                        NumberLiteral::Unsigned
                    };
                    expr(ExprKind::Int(i), Type::NumberLiteral(kind), span)
                }
                Err(_) => {
                    self.report(
                        Diagnostic::new(Code::NumberOutOfRange, span)
                            .with_message(format!("the integer `{text}` does not fit in 64 bits"))
                            .with_primary_label("too large"),
                    );
                    error_expr(span)
                }
            },
            ast::Literal::Float(text) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => expr(
                    ExprKind::Float(f),
                    Type::NumberLiteral(NumberLiteral::Float),
                    span,
                ),
                _ => {
                    self.report(
                        Diagnostic::new(Code::NumberOutOfRange, span)
                            .with_message(format!("the number `{text}` is out of range"))
                            .with_primary_label("too large"),
                    );
                    error_expr(span)
                }
            },
            ast::Literal::Str(s) => expr(ExprKind::Str(s.clone()), Type::string(), span),
            ast::Literal::Bool(b) => expr(ExprKind::Bool(*b), Type::bool(), span),
            ast::Literal::InitPeerId => expr(
                ExprKind::Builtin(BuiltinValue::InitPeerId),
                Type::string(),
                span,
            ),
        }
    }

    fn name(&mut self, ident: &ast::Ident) -> Expr {
        let span = ident.span;
        if let Some(local) = self.local(&ident.text) {
            self.note_local(span, local);
            let ty = self.locals[local.0 as usize].ty.clone();
            return expr(ExprKind::Local(local), ty, span);
        }
        if let Some(def) = self.scope.names.get(&ident.text).cloned() {
            self.note_path(&[ident]);
            return self.def_value(def, &ident.text, span);
        }
        if ident.text == "nil" {
            return expr(ExprKind::Nil, Type::Option(Box::new(Type::Bottom)), span);
        }
        if let Some((b, ty)) = self.builtin(&ident.text) {
            return expr(ExprKind::Builtin(b), ty, span);
        }
        let s = self.suggest(&ident.text, |d| matches!(d, Def::Const(..) | Def::Func(_)));
        self.unknown("name", &ident.text, span, s);
        error_expr(span)
    }

    /// The values every module sees without defining them.
    pub(super) fn builtin(&self, name: &str) -> Option<(BuiltinValue, Type)> {
        match name {
            "INIT_PEER_ID" => Some((BuiltinValue::InitPeerId, Type::string())),
            "HOST_PEER_ID" => Some((BuiltinValue::HostPeerId, Type::string())),
            "PARTICLE_TTL" => Some((BuiltinValue::ParticleTtl, Type::Scalar(Scalar::U32))),
            "PARTICLE_TIMESTAMP" => {
                Some((BuiltinValue::ParticleTimestamp, Type::Scalar(Scalar::U64)))
            }
            "LAST_ERROR" => Some((
                BuiltinValue::LastError,
                Type::Struct(self.error_type.clone()),
            )),
            _ => None,
        }
    }

    /// A top-level definition used as a value.
    fn def_value(&mut self, def: Def, text: &str, span: Span) -> Expr {
        match def {
            Def::Const(value, ty) => expr(const_expr(&value), ty, span),
            Def::Func(id) => expr(ExprKind::Func(id), self.func_arrow(id), span),
            Def::Service(id) => expr(ExprKind::Service(id), self.service_type(id), span),
            // An ability the function does not require; when one of its requirements did
            // not resolve, that one was most likely meant, and is already reported.
            Def::Type(Type::Ability(_)) if self.unresolved_abilities > 0 => error_expr(span),
            Def::Type(Type::Ability(_)) => {
                self.report(
                    Diagnostic::new(Code::NotAValue, span)
                        .with_message(format!(
                            "the ability `{text}` is not available here: the function does not \
                             require it"
                        ))
                        .with_primary_label("not in scope")
                        .with_help(format!(
                            "require it in the signature (`func name{{{text}}}(...)`), or use \
                             a value of it"
                        )),
                );
                error_expr(span)
            }
            Def::Type(_) => {
                self.report(
                    Diagnostic::new(Code::NotAValue, span)
                        .with_message(format!("`{text}` is a type, not a value"))
                        .with_primary_label("a type"),
                );
                error_expr(span)
            }
        }
    }

    /// A collection literal; `want` is the element type its use expects, if known.
    fn collection(
        &mut self,
        kind: CollectionKind,
        items: &[ast::Expr],
        span: Span,
        want: Option<&Type>,
    ) -> Expr {
        let items: Vec<Expr> = items
            .iter()
            .map(|item| self.check_expr_against(item, want))
            .collect();
        let mut element = Type::Bottom;
        for item in &items {
            if !item.ty.is_data() || matches!(item.ty, Type::StreamMap(_)) {
                self.report(
                    Diagnostic::new(Code::TypeMismatch, item.span)
                        .with_message(format!("a collection cannot hold {}", item.ty)),
                );
                element = Type::Error;
                continue;
            }
            let item_ty = item.ty.as_value();
            if let Some(want) = want {
                // Each item is measured against what the use expects, not against the items
                // before it.
                if !item_ty.fits(want) {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, item.span)
                            .with_message(format!(
                                "the items of this collection are used as {want}, but this one \
                                 is {item_ty}"
                            ))
                            .with_primary_label(format!("this is {item_ty}"))
                            .with_label(span, format!("used where items are {want}")),
                    );
                    element = Type::Error;
                } else if self.expect(item, want) {
                    element = element.join(&item_ty).unwrap_or_else(|| want.clone());
                } else {
                    element = Type::Error;
                }
                continue;
            }
            match element.join(&item_ty) {
                Some(t) => element = t,
                None => {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, item.span)
                            .with_message(format!(
                                "items of one collection have one type: found {item_ty} after {element}"
                            ))
                            .with_primary_label(format!("this is {item_ty}")),
                    );
                    element = Type::Error;
                }
            }
        }
        if let (CollectionKind::Option, [first, extra, ..]) = (kind, items.as_slice()) {
            let rest = Span::from(extra.span.start..items[items.len() - 1].span.end);
            self.report(
                Diagnostic::new(Code::TypeMismatch, rest)
                    .with_message("an option holds at most one value")
                    .with_primary_label(match items.len() - 1 {
                        1 => "one value too many".to_string(),
                        n => format!("{n} values too many"),
                    })
                    .with_label(first.span, "the option's value")
                    .with_help("keep one value, or make it an array `[...]` to hold them all")
                    .with_suggestion(Span::from(first.span.end..rest.end), ""),
            );
        }
        let element = Box::new(element);
        let ty = match kind {
            CollectionKind::Array => Type::Array(element),
            CollectionKind::Option => Type::Option(element),
            CollectionKind::Stream => Type::Stream(element),
        };
        expr(ExprKind::Collection { kind, items }, ty, span)
    }

    fn call(
        &mut self,
        callee: Callee,
        callee_ty: &Type,
        abilities: &[ast::Expr],
        args: &[ast::Expr],
        args_span: Span,
        span: Span,
    ) -> Expr {
        let abilities = self.check_all(abilities);
        let args = match callee_ty {
            Type::Arrow(arrow) => {
                let params: Vec<Type> = arrow.params.iter().map(|(_, t)| t.clone()).collect();
                self.check_all_against(args, &params)
            }
            _ => self.check_all(args),
        };
        let arrow = match callee_ty {
            Type::Arrow(arrow) => arrow.clone(),
            Type::Error => return error_expr(span),
            other => {
                self.report(
                    Diagnostic::new(Code::NotCallable, span)
                        .with_message(format!("a value of type {other} cannot be called")),
                );
                return error_expr(span);
            }
        };
        if args.len() != arrow.params.len() {
            let params: Vec<(Option<&str>, &Type)> = arrow
                .params
                .iter()
                .map(|(name, ty)| (name.as_deref(), ty))
                .collect();
            let d = argument_count(&params, &args, args_span, "the call")
                .with_label(span, format!("the arrow is {callee_ty}"));
            self.report(d);
        } else {
            self.expect_arguments(&args, &arrow.params);
        }
        if abilities.len() != arrow.abilities.len() {
            self.report(
                Diagnostic::new(Code::ArgumentCount, span).with_message(format!(
                    "expected {} abilit{} in `{{...}}`, found {}",
                    arrow.abilities.len(),
                    if arrow.abilities.len() == 1 {
                        "y"
                    } else {
                        "ies"
                    },
                    abilities.len()
                )),
            );
        } else {
            for (given, wanted) in abilities.iter().zip(&arrow.abilities) {
                self.expect(given, wanted);
            }
        }
        let ty = arrow.results.first().cloned().unwrap_or(Type::Bottom);
        expr(
            ExprKind::Call {
                callee,
                abilities,
                args,
                results: arrow.results.clone(),
            },
            ty,
            span,
        )
    }

    /// Arguments, one per parameter. Two arguments that each fit the other's parameter but
    /// not their own were passed in the wrong order: that is one mistake, reported once.
    fn expect_arguments(&mut self, args: &[Expr], params: &[(Option<String>, Type)]) {
        let fits = |arg: &Expr, param: &Type| {
            (arg.ty.is_stream() || !matches!(param, Type::Stream(_))) && arg.ty.fits(param)
        };
        let wrong: Vec<usize> = (0..args.len())
            .filter(|&i| !fits(&args[i], &params[i].1))
            .collect();
        let swapped = wrong.iter().enumerate().find_map(|(n, &i)| {
            wrong[n + 1..]
                .iter()
                .find(|&&j| fits(&args[i], &params[j].1) && fits(&args[j], &params[i].1))
                .map(|&j| (i, j))
        });
        if let Some((i, j)) = swapped {
            let name = |k: usize| match &params[k].0 {
                Some(name) => format!("`{name}: {}`", params[k].1),
                None => format!("a {}", params[k].1),
            };
            self.report(
                Diagnostic::new(Code::TypeMismatch, args[i].span)
                    .with_message(format!(
                        "arguments {} and {} are swapped: expected {}, found {}",
                        i + 1,
                        j + 1,
                        params[i].1,
                        args[i].ty
                    ))
                    .with_primary_label(format!("this is {}, for {}", args[i].ty, name(j)))
                    .with_label(
                        args[j].span,
                        format!("this is {}, for {}", args[j].ty, name(i)),
                    )
                    .with_help("pass the two arguments the other way round"),
            );
        }
        for (k, (arg, (_, param))) in args.iter().zip(params).enumerate() {
            if swapped.is_none_or(|(i, j)| k != i && k != j) {
                self.expect_argument(arg, param);
            }
        }
    }

    /// An argument: streams may be passed where streams or arrays are expected.
    fn expect_argument(&mut self, arg: &Expr, param: &Type) {
        if matches!(param, Type::Stream(_)) && !arg.ty.is_stream() && !arg.ty.is_error() {
            self.report(
                Diagnostic::new(Code::TypeMismatch, arg.span)
                    .with_message(format!("expected a stream {param}, found {}", arg.ty))
                    .with_primary_label("not a stream"),
            );
            return;
        }
        self.expect(arg, param);
    }

    fn construct(
        &mut self,
        path: &ast::Path,
        fields: &[ast::NamedArg],
        args_span: Span,
        span: Span,
    ) -> Expr {
        let parts: Vec<&ast::Ident> = path.parts.iter().collect();
        let ty = match self.resolve_path(&parts) {
            Some(Def::Type(t @ (Type::Struct(_) | Type::Ability(_)))) => t,
            Some(Def::Func(id)) if parts.len() > 1 => {
                // `Mod.func(args)` parses like a constructor.
                let args: Vec<ast::Expr> = fields
                    .iter()
                    .map(|f| {
                        f.value.clone().unwrap_or_else(|| ast::Expr {
                            kind: ast::ExprKind::Name(f.name.clone()),
                            span: f.name.span,
                        })
                    })
                    .collect();
                let ty = self.func_arrow(id);
                return self.call(Callee::Func(id), &ty, &[], &args, args_span, span);
            }
            Some(other) => {
                self.report(
                    Diagnostic::new(Code::NotCallable, path.span()).with_message(format!(
                        "`{}` is a {}, not a struct or ability",
                        path.text(),
                        other.kind()
                    )),
                );
                return error_expr(span);
            }
            None => {
                let text = path.text();
                let s = self.suggest(&text, |d| matches!(d, Def::Type(_) | Def::Func(_)));
                self.unknown("struct or ability", &text, path.span(), s);
                return error_expr(span);
            }
        };
        let declared: Vec<(String, Type)> = match &ty {
            Type::Struct(s) => s.fields.clone(),
            Type::Ability(a) => a.fields.clone(),
            _ => unreachable!("matched above"),
        };
        let mut given: Vec<(String, Expr, Span)> = Vec::new();
        for field in fields {
            self.note_member(&ty, &field.name);
            let value = match &field.value {
                Some(v) => {
                    let want = declared.iter().find(|(n, _)| *n == field.name.text);
                    self.check_expr_against(v, want.map(|(_, t)| t))
                }
                None => self.name(&field.name),
            };
            if given.iter().any(|(n, _, _)| *n == field.name.text) {
                self.report(
                    Diagnostic::new(Code::FieldMismatch, field.name.span)
                        .with_message(format!("field `{}` is given twice", field.name.text)),
                );
                continue;
            }
            given.push((field.name.text.clone(), value, field.name.span));
        }
        for (name, _, fspan) in &given {
            if !declared.iter().any(|(n, _)| n == name) {
                let names: Vec<&str> = declared.iter().map(|(n, _)| n.as_str()).collect();
                let mut d = Diagnostic::new(Code::FieldMismatch, *fspan)
                    .with_message(format!("`{}` has no field `{name}`", path.text()))
                    .with_primary_label("unknown field");
                if let Some(s) = nearest(name, &names) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                }
                self.report(d);
            }
        }
        let mut ordered = Vec::new();
        let mut missing = Vec::new();
        for (name, want) in &declared {
            match given.iter().position(|(n, _, _)| n == name) {
                Some(i) => {
                    let (n, value, _) = given.swap_remove(i);
                    self.expect(&value, want);
                    ordered.push((n, value));
                }
                None => missing.push(name.clone()),
            }
        }
        if !missing.is_empty() {
            // Missing fields belong before the closing parenthesis.
            let close = Span::from(args_span.end.saturating_sub(1)..args_span.end);
            self.report(
                Diagnostic::new(Code::FieldMismatch, close)
                    .with_label(path.span(), "constructed here")
                    .with_message(format!(
                        "missing field{} {} of `{}`",
                        if missing.len() == 1 { "" } else { "s" },
                        missing
                            .iter()
                            .map(|m| format!("`{m}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        path.text()
                    ))
                    .with_primary_label("every field needs a value")
                    .with_help(format!("add `{} = ...` before `)`", missing[0])),
            );
        }
        let kind = match ty {
            Type::Struct(_) => ExprKind::Struct(ordered),
            _ => ExprKind::Ability(ordered),
        };
        expr(kind, ty, span)
    }

    fn property(&mut self, base: &ast::Expr, op: &PropertyOp, span: Span) -> Expr {
        // Qualified names: `Srv.method(...)`, `Mod.f(...)`, `Mod.CONST`, `Mod.Srv.m(...)`.
        if let Some(path) = name_path(base).filter(|p| self.local(&p[0].text).is_none()) {
            match op {
                PropertyOp::Method {
                    name,
                    abilities,
                    args,
                    args_span,
                } => {
                    if self.is_module_alias(&path) {
                        let mut full = path.clone();
                        full.push(name);
                        return match self.resolve_path(&full) {
                            Some(Def::Func(id)) => {
                                let ty = self.func_arrow(id);
                                self.call(Callee::Func(id), &ty, abilities, args, *args_span, span)
                            }
                            _ => {
                                self.unknown_in_module("function", &path, name);
                                self.check_all(args);
                                error_expr(span)
                            }
                        };
                    }
                    if let Some(Def::Service(id)) = self.resolve_path(&path) {
                        if !self.service_has_id(id) {
                            let text = joined(&path);
                            let whole =
                                Span::from(path[0].span.start..path[path.len() - 1].span.end);
                            self.report(
                                Diagnostic::new(Code::UnknownName, whole)
                                    .with_message(format!(
                                        "service `{text}` has no default id, and none is set \
                                         before this call"
                                    ))
                                    .with_primary_label("which service instance?")
                                    .with_help(format!(
                                        "set its id first (`{text} \"<service id>\"`), or give \
                                         it a default (`service {text}(\"<service id>\")`)"
                                    )),
                            );
                        }
                        let service_ty = self.service_type(id);
                        self.note_member(&service_ty, name);
                        return match method_arrow(&service_ty, &name.text) {
                            Some(arrow) => self.call(
                                Callee::Service {
                                    service: id,
                                    method: name.text.clone(),
                                },
                                &Type::Arrow(arrow),
                                abilities,
                                args,
                                *args_span,
                                span,
                            ),
                            None => {
                                self.unknown_member(&service_ty, &name.text, name.span);
                                self.check_all(args);
                                error_expr(span)
                            }
                        };
                    }
                }
                PropertyOp::Field(field) if self.is_module_alias(&path) => {
                    let mut full = path.clone();
                    full.push(field);
                    return match self.resolve_path(&full) {
                        Some(def) => self.def_value(def, &joined(&full), span),
                        None => {
                            self.unknown_in_module("name", &path, field);
                            error_expr(span)
                        }
                    };
                }
                _ => {}
            }
        }
        let base = self.check_expr(base);
        if base.ty.is_error() {
            if let PropertyOp::Method { args, .. } = op {
                self.check_all(args);
            }
            return error_expr(span);
        }
        match op {
            PropertyOp::Field(field) => self.field(base, field, span),
            PropertyOp::Method {
                name,
                abilities,
                args,
                args_span,
            } => self.method(base, name, abilities, args, *args_span, span),
            PropertyOp::Copy { keyword, fields } => self.copy(base, *keyword, fields, span),
            PropertyOp::Index(index) => {
                let index = self.check_expr(index);
                if !(index.ty.is_integer() || index.ty.is_error()) {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, index.span)
                            .with_message(format!("an index is an integer, found {}", index.ty))
                            .with_primary_label(format!("this is {}", index.ty)),
                    );
                } else if let ExprKind::Int(i @ ..0) = index.kind {
                    self.report(
                        Diagnostic::new(Code::NumberOutOfRange, index.span)
                            .with_message(format!("an index counts from 0; `{i}` is negative"))
                            .with_primary_label("negative index"),
                    );
                }
                self.index(base, index, span)
            }
            PropertyOp::Bang(n) => {
                let (value, nspan) = match n {
                    Some((text, s)) => (text.parse::<i64>().unwrap_or(i64::MAX), *s),
                    None => (0, span),
                };
                let index = expr(
                    ExprKind::Int(value),
                    Type::NumberLiteral(NumberLiteral::Unsigned),
                    nspan,
                );
                self.index(base, index, span)
            }
        }
    }

    /// `base.copy(field = value, ...)`: a struct with some fields changed.
    fn copy(&mut self, base: Expr, keyword: Span, fields: &[ast::NamedArg], span: Span) -> Expr {
        let declared = match &base.ty {
            Type::Struct(s) => s.fields.as_slice(),
            _ => &[],
        };
        let values: Vec<Expr> = fields
            .iter()
            .map(|f| match &f.value {
                Some(v) => {
                    let want = declared.iter().find(|(n, _)| *n == f.name.text);
                    self.check_expr_against(v, want.map(|(_, t)| t))
                }
                None => self.name(&f.name),
            })
            .collect();
        let Type::Struct(s) = base.ty.clone() else {
            self.report(
                Diagnostic::new(Code::TypeMismatch, keyword)
                    .with_message(format!(
                        "`.copy` makes a changed copy of a struct, but this is {}",
                        base.ty
                    ))
                    .with_primary_label("needs a struct")
                    .with_label(base.span, format!("this is {}", base.ty))
                    .with_help("call `.copy` on a value of a `data` type"),
            );
            return error_expr(span);
        };
        let mut changes: Vec<(String, Expr)> = Vec::new();
        let mut seen: Vec<&ast::Ident> = Vec::new();
        for (f, value) in fields.iter().zip(values) {
            if let Some(first) = seen.iter().find(|n| n.text == f.name.text) {
                self.report(
                    Diagnostic::new(Code::FieldMismatch, f.name.span)
                        .with_message(format!("field `{}` is set twice", f.name.text))
                        .with_primary_label("set again here")
                        .with_label(first.span, "first set here")
                        .with_help("give each field one value"),
                );
                continue;
            }
            seen.push(&f.name);
            self.note_member(&base.ty, &f.name);
            match s.fields.iter().find(|(n, _)| *n == f.name.text) {
                Some((_, want)) => {
                    self.expect(&value, want);
                    changes.push((f.name.text.clone(), value));
                }
                None => {
                    let names: Vec<&str> = s.fields.iter().map(|(n, _)| n.as_str()).collect();
                    let mut d = Diagnostic::new(Code::FieldMismatch, f.name.span)
                        .with_message(format!("`{}` has no field `{}`", s.name, f.name.text))
                        .with_primary_label("unknown field");
                    if let Some(near) = nearest(&f.name.text, &names) {
                        d = d.with_help(format!("did you mean `{near}`?"));
                    }
                    self.report(d);
                }
            }
        }
        let ty = base.ty.clone();
        expr(ExprKind::Copy(Box::new(base), changes), ty, span)
    }

    fn index(&mut self, base: Expr, index: Expr, span: Span) -> Expr {
        if let (Type::Option(_), ExprKind::Int(i)) = (&base.ty, &index.kind) {
            if *i != 0 {
                self.report(
                    Diagnostic::new(Code::NumberOutOfRange, index.span)
                        .with_message(format!(
                            "an option holds at most one value, so index {i} is never there"
                        ))
                        .with_primary_label("past the option's only value")
                        .with_help("take the value with `!` (or `!0`)"),
                );
                return error_expr(span);
            }
        }
        match base.ty.element().cloned() {
            Some(element) => expr(
                ExprKind::Index(Box::new(base), Box::new(index)),
                element,
                span,
            ),
            None => {
                // The index itself is marked: `s[0]` on a string is fixed by dropping `[0]`.
                let access = Span::from(base.span.end..span.end);
                self.report(
                    Diagnostic::new(Code::TypeMismatch, access)
                        .with_message(format!(
                            "only arrays, options and streams can be indexed, but this is {}",
                            base.ty
                        ))
                        .with_primary_label(format!("indexes a {}", base.ty))
                        .with_label(base.span, format!("this is {}", base.ty)),
                );
                error_expr(span)
            }
        }
    }

    fn field(&mut self, base: Expr, field: &ast::Ident, span: Span) -> Expr {
        let found = match &base.ty {
            Type::Struct(s) => s
                .fields
                .iter()
                .find(|(n, _)| *n == field.text)
                .map(|(_, t)| t.clone()),
            Type::Ability(a) => a.field(&field.text).cloned(),
            Type::Array(_) | Type::Option(_) | Type::Stream(_) if field.text == "length" => {
                return expr(
                    ExprKind::Length(Box::new(base)),
                    Type::Scalar(Scalar::U32),
                    span,
                )
            }
            _ => None,
        };
        match found {
            Some(ty) => {
                self.note_member(&base.ty, field);
                expr(
                    ExprKind::Field(Box::new(base), field.text.clone()),
                    ty,
                    span,
                )
            }
            None if matches!(base.ty, Type::Struct(_) | Type::Ability(_)) => {
                let ty = base.ty.clone();
                self.unknown_member(&ty, &field.text, field.span);
                error_expr(span)
            }
            // `.length` is right, the value it is read from is not.
            None if field.text == "length" => {
                self.report(
                    Diagnostic::new(Code::TypeMismatch, base.span)
                        .with_message(format!(
                            "`.length` counts the items of an array, option or stream, but \
                             this is {}",
                            base.ty
                        ))
                        .with_primary_label(format!("this is {}", base.ty))
                        .with_label(field.span, "read here"),
                );
                error_expr(span)
            }
            // A value without fields: the whole `.name` is what does not belong.
            None => {
                let access = Span::from(base.span.end..span.end);
                let has = if base.ty.element().is_some() {
                    "; a collection has only `.length`"
                } else {
                    ""
                };
                self.report(
                    Diagnostic::new(Code::UnknownMember, access)
                        .with_message(format!(
                            "{} has no fields, so `.{}` cannot be read{has}",
                            base.ty, field.text
                        ))
                        .with_primary_label("no such field")
                        .with_label(base.span, format!("this is {}", base.ty))
                        .with_help("only structs and abilities have fields"),
                );
                error_expr(span)
            }
        }
    }

    fn unknown_member(&mut self, ty: &Type, name: &str, span: Span) {
        let names: Vec<String> = match ty {
            Type::Struct(s) => s.fields.iter().map(|(n, _)| n.clone()).collect(),
            Type::Ability(a) => a.fields.iter().map(|(n, _)| n.clone()).collect(),
            _ => Vec::new(),
        };
        let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut d = Diagnostic::new(Code::UnknownMember, span)
            .with_message(format!("{ty} has no member `{name}`"))
            .with_primary_label("unknown member");
        if let Some(s) = nearest(name, &candidates) {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        self.report(d);
    }

    fn method(
        &mut self,
        base: Expr,
        name: &ast::Ident,
        abilities: &[ast::Expr],
        args: &[ast::Expr],
        args_span: Span,
        span: Span,
    ) -> Expr {
        if let Type::StreamMap(value) = &base.ty {
            let value = (**value).clone();
            let (method, ty, params): (MapMethod, Type, Vec<Type>) = match name.text.as_str() {
                "get" => (
                    MapMethod::Get,
                    Type::Array(Box::new(value)),
                    vec![Type::string()],
                ),
                "getStream" => (
                    MapMethod::GetStream,
                    Type::Stream(Box::new(value)),
                    vec![Type::string()],
                ),
                "keys" => (
                    MapMethod::Keys,
                    Type::Array(Box::new(Type::string())),
                    vec![],
                ),
                "keysStream" => (
                    MapMethod::KeysStream,
                    Type::Stream(Box::new(Type::string())),
                    vec![],
                ),
                "contains" => (MapMethod::Contains, Type::bool(), vec![Type::string()]),
                _ => {
                    let names = ["get", "getStream", "keys", "keysStream", "contains"];
                    let mut d = Diagnostic::new(Code::UnknownMember, name.span)
                        .with_message(format!("a stream map has no method `{}`", name.text));
                    if let Some(s) = nearest(&name.text, &names) {
                        d = d.with_help(format!("did you mean `{s}`?"));
                    }
                    self.report(d);
                    self.check_all(args);
                    return error_expr(span);
                }
            };
            let args = self.check_all(args);
            if args.len() != params.len() {
                // Every stream map method that takes an argument takes a key.
                let params: Vec<(Option<&str>, &Type)> =
                    params.iter().map(|ty| (Some("key"), ty)).collect();
                let d = argument_count(&params, &args, args_span, &format!("`{}`", name.text));
                self.report(d);
            } else {
                for (a, p) in args.iter().zip(&params) {
                    self.expect(a, p);
                }
            }
            return expr(
                ExprKind::MapMethod {
                    map: Box::new(base),
                    method,
                    args,
                },
                ty,
                span,
            );
        }
        let member = match &base.ty {
            Type::Ability(a) => a.field(&name.text).cloned(),
            Type::Struct(s) => s
                .fields
                .iter()
                .find(|(n, _)| *n == name.text)
                .map(|(_, t)| t.clone()),
            _ => None,
        };
        self.note_member(&base.ty, name);
        match member {
            Some(ty @ Type::Arrow(_)) => {
                let callee = Callee::Value(Box::new(expr(
                    ExprKind::Field(Box::new(base), name.text.clone()),
                    ty.clone(),
                    name.span,
                )));
                self.call(callee, &ty, abilities, args, args_span, span)
            }
            // A field that holds a value: the parentheses are what is wrong.
            Some(ty) => {
                self.check_all(args);
                let d = Diagnostic::new(Code::NotCallable, args_span)
                    .with_message(format!(
                        "`{}` is a field of type {ty}, not an arrow, so it cannot be called",
                        name.text
                    ))
                    .with_primary_label("called here")
                    .with_label(name.span, format!("this is {ty}"));
                let d = if args.is_empty() {
                    d.with_help(format!("read the field without `()`: `.{}`", name.text))
                        .with_suggestion(args_span, "")
                } else {
                    d.with_help("only arrows take arguments")
                };
                self.report(d);
                error_expr(span)
            }
            None => {
                let ty = base.ty.clone();
                self.unknown_member(&ty, &name.text, name.span);
                self.check_all(args);
                error_expr(span)
            }
        }
    }

    fn infix(&mut self, op: InfixOp, op_span: Span, lhs: Expr, rhs: Expr, span: Span) -> Expr {
        use InfixOp::*;
        if lhs.ty.is_error() || rhs.ty.is_error() {
            return error_expr(span);
        }
        let ty = match op {
            Or | And => {
                self.expect(&lhs, &Type::bool());
                self.expect(&rhs, &Type::bool());
                Type::bool()
            }
            Eq | Neq
                if [&lhs.ty, &rhs.ty]
                    .iter()
                    .any(|t| matches!(t, Type::Arrow(_) | Type::Ability(_))) =>
            {
                self.report(
                    Diagnostic::new(Code::TypeMismatch, span)
                        .with_message("functions, services and abilities cannot be compared")
                        .with_primary_label("compares code, not values")
                        .with_help("compare the values they give"),
                );
                Type::bool()
            }
            Eq | Neq => {
                let (l, r) = (lhs.ty.as_value(), rhs.ty.as_value());
                let comparable =
                    l.fits(&r) || r.fits(&l) || lhs.ty.is_number() && rhs.ty.is_number();
                if !comparable {
                    self.report(incomparable(op, op_span, &lhs, &rhs));
                    return error_expr(span);
                }
                Type::bool()
            }
            Lt | Lte | Gt | Gte => {
                if !self.expect_numbers(op, &lhs, &rhs, span) {
                    return error_expr(span);
                }
                Type::bool()
            }
            Add | Sub | Mul | Div | Rem | Pow => {
                if !self.expect_numbers(op, &lhs, &rhs, span) {
                    return error_expr(span);
                }
                arithmetic_type(&lhs.ty, &rhs.ty)
            }
        };
        // An integer divided by the literal 0 fails on every run, whatever the dividend.
        if matches!(op, Div | Rem) && matches!(rhs.kind, ExprKind::Int(0)) && lhs.ty.is_integer() {
            self.report(
                Diagnostic::new(Code::NumberOutOfRange, rhs.span)
                    .with_message(format!("`{}` by zero fails on every run", op.symbol()))
                    .with_primary_label("the divisor is 0")
                    .with_label(span, "this expression never has a value")
                    .with_help("divide by a number other than 0"),
            );
            return error_expr(span);
        }
        // The exponent is unsigned (`math.pow` takes a u32): a negative literal is a mistake
        // whether or not the base is known.
        if let (Pow, ExprKind::Int(exponent)) = (op, &rhs.kind) {
            if *exponent < 0 {
                self.report(
                    Diagnostic::new(Code::NumberOutOfRange, rhs.span)
                        .with_message(format!("the exponent {exponent} is negative"))
                        .with_primary_label("exponents are unsigned")
                        .with_help("`**` takes a non-negative integer exponent"),
                );
                return error_expr(span);
            }
        }
        if let Some(folded) = fold(op, &lhs.kind, &rhs.kind) {
            return match folded {
                Ok(kind) => {
                    let ty = match &kind {
                        ExprKind::Int(i) if *i < 0 => Type::NumberLiteral(NumberLiteral::Signed),
                        ExprKind::Int(_) if matches!(ty, Type::NumberLiteral(_)) => {
                            Type::NumberLiteral(NumberLiteral::Unsigned)
                        }
                        _ => ty,
                    };
                    expr(kind, ty, span)
                }
                Err(why) => {
                    self.report(
                        Diagnostic::new(Code::NumberOutOfRange, span)
                            .with_message(format!("this constant expression {why}"))
                            .with_primary_label("evaluated when compiling"),
                    );
                    error_expr(span)
                }
            };
        }
        expr(
            ExprKind::Infix {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            ty,
            span,
        )
    }

    /// Checks that both operands of an arithmetic or ordering operator are numbers: one
    /// diagnostic at the operand that is not, or at the whole expression when neither is.
    fn expect_numbers(&mut self, op: InfixOp, lhs: &Expr, rhs: &Expr, span: Span) -> bool {
        let symbol = op.symbol();
        let d = match (lhs.ty.is_number(), rhs.ty.is_number()) {
            (true, true) => return true,
            (false, false) => {
                let found = if lhs.ty == rhs.ty {
                    format!("both operands are {}", lhs.ty)
                } else {
                    format!("the operands are {} and {}", lhs.ty, rhs.ty)
                };
                let d = Diagnostic::new(Code::TypeMismatch, span)
                    .with_message(format!("`{symbol}` needs numbers, but {found}"))
                    .with_primary_label("not numbers");
                let strings = lhs.ty == Type::string() && rhs.ty == Type::string();
                match op {
                    InfixOp::Add if strings => d.with_help(
                        "Aqua has no operator joining strings: call a service for it, such as \
                         `Op.concat_strings(a, b)` of `@fluencelabs/aqua-lib/builtin.aqua`",
                    ),
                    InfixOp::Lt | InfixOp::Lte | InfixOp::Gt | InfixOp::Gte => d.with_help(
                        "only numbers are ordered; other values are compared with `==` and `!=`",
                    ),
                    _ => d,
                }
            }
            (false, true) | (true, false) => {
                let wrong = if lhs.ty.is_number() { rhs } else { lhs };
                Diagnostic::new(Code::TypeMismatch, wrong.span)
                    .with_message(format!("`{symbol}` needs numbers, found {}", wrong.ty))
                    .with_primary_label(format!("this is {}", wrong.ty))
            }
        };
        self.report(d);
        false
    }

    // ---- statements --------------------------------------------------------------------

    fn block(&mut self, stmts: &[ast::Stmt]) -> Block {
        self.frames.push(HashMap::new());
        let block = self.block_in_scope(stmts);
        self.pop_frame();
        block
    }

    /// A block whose names stay visible afterwards (`on`).
    fn block_in_scope(&mut self, stmts: &[ast::Stmt]) -> Block {
        if let Some(r) = self.returns.last_mut() {
            r.depth += 1;
        }
        let block = self.block_statements(stmts);
        if let Some(r) = self.returns.last_mut() {
            r.depth -= 1;
        }
        block
    }

    fn block_statements(&mut self, stmts: &[ast::Stmt]) -> Block {
        let mut out: Vec<Stmt> = Vec::new();
        for stmt in stmts {
            let span = stmt.span;
            match &stmt.kind {
                ast::StmtKind::Else { body } => match out.last_mut() {
                    Some(Stmt {
                        kind:
                            StmtKind::If {
                                otherwise: o @ None,
                                ..
                            },
                        ..
                    }) => *o = Some(self.block(&body.stmts)),
                    _ => {
                        self.misplaced(span, "`else` follows an `if` block");
                        self.block(&body.stmts);
                    }
                },
                ast::StmtKind::Catch { body, .. } | ast::StmtKind::Otherwise { body }
                    if out.is_empty() =>
                {
                    self.misplaced(span, "a handler follows the statement it protects");
                    self.block(&body.stmts);
                }
                ast::StmtKind::Catch { name, body } => {
                    let first = out.pop().expect("not empty: checked above");
                    if !matches!(
                        first.kind,
                        StmtKind::Try(_) | StmtKind::Recover { error: Some(_), .. }
                    ) {
                        self.misplaced(span, "`catch` follows a `try` block or another `catch`");
                    }
                    self.frames.push(HashMap::new());
                    let error = self.bind(name, Type::Struct(self.error_type.clone()));
                    let handler = self.block_in_scope(&body.stmts);
                    self.pop_frame();
                    out.push(Stmt {
                        kind: StmtKind::Recover {
                            first: Box::new(first),
                            error: Some(error),
                            handler,
                        },
                        span,
                    });
                }
                ast::StmtKind::Otherwise { body } => {
                    let first = out.pop().expect("not empty: checked above");
                    let handler = self.block(&body.stmts);
                    out.push(Stmt {
                        kind: StmtKind::Recover {
                            first: Box::new(first),
                            error: None,
                            handler,
                        },
                        span,
                    });
                }
                ast::StmtKind::Par(inner) => {
                    let inner = self.stmt(inner, span);
                    match out.pop() {
                        Some(Stmt {
                            kind: StmtKind::Par(mut branches),
                            span: first_span,
                        }) => {
                            branches.push(inner);
                            out.push(Stmt {
                                kind: StmtKind::Par(branches),
                                span: Span::from(first_span.start..span.end),
                            });
                        }
                        Some(previous) => {
                            let start = previous.span.start;
                            out.push(Stmt {
                                kind: StmtKind::Par(vec![previous, inner]),
                                span: Span::from(start..span.end),
                            })
                        }
                        None => {
                            self.misplaced(span, "`par` joins a statement to the one before it");
                            out.push(inner);
                        }
                    }
                }
                _ => {
                    let checked = self.stmt(stmt, span);
                    out.push(checked);
                }
            }
        }
        Block { stmts: out }
    }

    fn misplaced(&mut self, span: Span, why: &str) {
        self.report(
            Diagnostic::new(Code::MisplacedStatement, span)
                .with_message(why.to_string())
                .with_primary_label("nothing to attach to"),
        );
    }

    fn stmt(&mut self, stmt: &ast::Stmt, span: Span) -> Stmt {
        crate::deep(|| self.stmt_inner(stmt, span))
    }

    fn stmt_inner(&mut self, stmt: &ast::Stmt, span: Span) -> Stmt {
        let kind = match &stmt.kind {
            ast::StmtKind::Call {
                results,
                arrow,
                value,
            } => self.call_stmt(results, *arrow, value),
            ast::StmtKind::Assign { name, value } => {
                let value = self.check_expr(value);
                let local = self.bind(name, value.ty.clone());
                StmtKind::Assign { local, value }
            }
            ast::StmtKind::Closure {
                name,
                detached,
                func,
            } => {
                let (arrow, params, body) = self.arrow_body(&func.arrow, &func.body);
                let arrow = Arc::new(arrow);
                let local = self.bind(name, Type::Arrow(arrow.clone()));
                StmtKind::Closure {
                    local,
                    closure: Arc::new(Closure {
                        arrow,
                        params,
                        body,
                        detached: *detached,
                    }),
                }
            }
            ast::StmtKind::Return { values } => {
                let (expected, depth) = self
                    .returns
                    .last()
                    .map_or((Vec::new(), 1), |r| (r.types.clone(), r.depth));
                let values = self.check_all_against(values, &expected);
                if depth > 1 {
                    self.report(
                        Diagnostic::new(Code::MisplacedReturn, span)
                            .with_message("`<-` returns only from the end of the function's own body, not from inside a block")
                            .with_primary_label("inside a block")
                            .with_help("keep the value in a variable or a stream, and return it at the end of the function"),
                    );
                } else if values.len() != expected.len() {
                    self.report(result_count(&expected, &values, span));
                    if expected.is_empty() {
                        // Taken as the results the function forgot to declare, so that its
                        // callers are checked against what it really returns.
                        if let Some(last) = self.returns.last_mut() {
                            last.types = values.iter().map(|v| v.ty.as_value()).collect();
                        }
                    }
                } else {
                    for (k, (v, t)) in values.iter().zip(&expected).enumerate() {
                        match self.stream_against_result(v, t, k) {
                            Some(d) => self.report(d),
                            None => self.expect_result(v, t),
                        }
                    }
                }
                StmtKind::Return(values)
            }
            ast::StmtKind::Declare { name, ty } => {
                let mut resolved = self.resolve_type(ty);
                // `x: ?T` is an older way to declare a stream that holds at most one value.
                if let Type::Option(element) = resolved {
                    resolved = Type::Stream(element);
                }
                if !matches!(resolved, Type::Stream(_) | Type::StreamMap(_) | Type::Error) {
                    let written = resolved;
                    // Taken as the stream the help suggests, so that its uses are checked
                    // as such and not reported again.
                    resolved = if written.is_data() {
                        Type::Stream(Box::new(written.clone()))
                    } else {
                        Type::Error
                    };
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, ty.span())
                            .with_message(format!(
                                "only streams and stream maps are declared; found {written}"
                            ))
                            .with_primary_label("not a stream")
                            .with_help(format!(
                                "declare a stream with `{}: *{}`",
                                name.text,
                                crate::format::ty(ty)
                            )),
                    );
                }
                let is_stream = resolved.is_stream();
                let local = self.bind(name, resolved);
                if is_stream {
                    self.declared_streams.insert(local);
                }
                StmtKind::DeclareStream(local)
            }
            ast::StmtKind::Push { target, key, value } => self.push(target, key.as_ref(), value),
            ast::StmtKind::ServiceId { service, id } => {
                let parts: Vec<&ast::Ident> = service.parts.iter().collect();
                let id_expr = self.check_expr(id);
                self.expect(&id_expr, &Type::string());
                match self.resolve_path(&parts) {
                    Some(Def::Service(sid)) => {
                        self.service_ids.push((sid, self.frames.len()));
                        StmtKind::ServiceId {
                            service: sid,
                            id: id_expr,
                        }
                    }
                    _ => {
                        let text = service.text();
                        let s = self.suggest(&text, |d| matches!(d, Def::Service(_)));
                        self.unknown("service", &text, service.span(), s);
                        StmtKind::Join(Vec::new())
                    }
                }
            }
            ast::StmtKind::On { peer, via, body } => {
                let peer = self.check_expr(peer);
                self.expect(&peer, &Type::string());
                let via = self.vias(via);
                let body = self.block_in_scope(&body.stmts);
                StmtKind::On { peer, via, body }
            }
            ast::StmtKind::For {
                item,
                iterable,
                mode,
                body,
            } => {
                let iterable = self.check_expr(iterable);
                self.frames.push(HashMap::new());
                let item = self.for_item(item, &iterable);
                let body = self.block_in_scope(&body.stmts);
                self.pop_frame();
                StmtKind::For {
                    item,
                    iterable,
                    mode: *mode,
                    body,
                }
            }
            ast::StmtKind::Parseq {
                item,
                iterable,
                peer,
                via,
                body,
            } => {
                let iterable = self.check_expr(iterable);
                self.frames.push(HashMap::new());
                let item = self.for_item(item, &iterable);
                let peer = self.check_expr(peer);
                self.expect(&peer, &Type::string());
                let via = self.vias(via);
                let body = self.block_in_scope(&body.stmts);
                self.pop_frame();
                StmtKind::Parseq {
                    item,
                    iterable,
                    peer,
                    via,
                    body,
                }
            }
            ast::StmtKind::If { condition, body } => {
                let condition = self.check_expr(condition);
                self.expect(&condition, &Type::bool());
                let then = self.block(&body.stmts);
                StmtKind::If {
                    condition,
                    then,
                    otherwise: None,
                }
            }
            ast::StmtKind::Try { body } => StmtKind::Try(self.block(&body.stmts)),
            ast::StmtKind::Co(inner) => StmtKind::Co(Box::new(self.stmt(inner, span))),
            ast::StmtKind::Join { values } => {
                let values = self.check_all(values);
                for value in &values {
                    if matches!(
                        value.kind,
                        ExprKind::Int(_)
                            | ExprKind::Float(_)
                            | ExprKind::Str(_)
                            | ExprKind::Bool(_)
                            | ExprKind::Nil
                    ) {
                        self.report(
                            Diagnostic::new(Code::TypeMismatch, value.span)
                                .with_message(
                                    "`join` waits for values that other branches compute; a \
                                     literal is always there",
                                )
                                .with_primary_label("nothing to wait for")
                                .with_help("join a name set in a `par` branch, or a stream index"),
                        );
                    }
                }
                StmtKind::Join(values)
            }
            // Handled by the block, which sees the statement before.
            ast::StmtKind::Par(_)
            | ast::StmtKind::Else { .. }
            | ast::StmtKind::Catch { .. }
            | ast::StmtKind::Otherwise { .. }
            | ast::StmtKind::Error => StmtKind::Join(Vec::new()),
        };
        Stmt { kind, span }
    }

    /// `<- s`, the `k`th result, where `s` is a stream declared in the body whose items do not
    /// fit the declared result. The stream's item type is written at its declaration and every
    /// push was checked against it, so the result type in the signature is what to change.
    fn stream_against_result(&self, value: &Expr, ty: &Type, k: usize) -> Option<Diagnostic> {
        let ExprKind::Local(local) = value.kind else {
            return None;
        };
        let Type::Stream(element) = &value.ty else {
            return None;
        };
        let want = ty.element()?;
        if !self.declared_streams.contains(&local) || element.fits(want) {
            return None;
        }
        let span = *self.returns.last()?.spans.get(k)?;
        let declared = &self.locals[local.0 as usize];
        let fixed = match ty {
            Type::Stream(_) => format!("*{element}"),
            Type::Option(_) => format!("?{element}"),
            _ => format!("[]{element}"),
        };
        let d = Diagnostic::new(Code::TypeMismatch, span)
            .with_message(format!(
                "the result is declared as {ty}, but the function returns `{}`, a stream of {element}",
                declared.name
            ))
            .with_primary_label(format!("{ty} does not hold {element}"))
            .with_label(value.span, "returned here")
            .with_label(
                declared.span,
                format!("`{}` declared here as {}", declared.name, value.ty),
            )
            .with_help(format!("declare the result as `{fixed}`"));
        // Only a scalar's name is sure to be written the same in this module.
        Some(if matches!(**element, Type::Scalar(_)) {
            d.with_suggestion(span, fixed)
        } else {
            d
        })
    }

    fn expect_result(&mut self, value: &Expr, ty: &Type) {
        // A stream result is a stream the caller goes on with: only a stream gives one.
        if let Type::Stream(want) = ty {
            match &value.ty {
                Type::Stream(have) if have.fits(want) => {}
                Type::Stream(_) | Type::Error => {
                    self.expect(value, ty);
                }
                other => self.report(
                    Diagnostic::new(Code::TypeMismatch, value.span)
                        .with_message(format!(
                            "the result is a stream ({ty}), but this is {other}"
                        ))
                        .with_primary_label("not a stream")
                        .with_help(format!(
                            "declare a stream (`s: {ty}`), push into it, and return it"
                        )),
                ),
            }
            return;
        }
        self.expect(value, &ty.as_value());
    }

    fn vias(&mut self, via: &[ast::Expr]) -> Vec<Expr> {
        via.iter()
            .map(|v| {
                let v = self.check_expr(v);
                let ok =
                    v.ty.fits(&Type::string()) || v.ty.fits(&Type::Array(Box::new(Type::string())));
                if !ok {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, v.span)
                            .with_message(format!(
                                "a relay is a peer id or a collection of them, found {}",
                                v.ty
                            ))
                            .with_primary_label(format!("this is {}", v.ty)),
                    );
                }
                v
            })
            .collect()
    }

    fn for_item(&mut self, item: &ast::ForItem, iterable: &Expr) -> ForItem {
        match item {
            ast::ForItem::Single(name) => {
                let element = match &iterable.ty {
                    Type::Array(t) | Type::Option(t) | Type::Stream(t) => (**t).clone(),
                    Type::StreamMap(t) => Type::map_entry((**t).clone()),
                    Type::Error => Type::Error,
                    other => {
                        self.report(
                            Diagnostic::new(Code::TypeMismatch, iterable.span)
                                .with_message(format!(
                                    "`for` iterates over a collection, found {other}"
                                ))
                                .with_primary_label("not a collection"),
                        );
                        Type::Error
                    }
                };
                ForItem::Single(self.bind(name, element))
            }
            ast::ForItem::Pair(k, v) => {
                let value = match &iterable.ty {
                    Type::StreamMap(t) => (**t).clone(),
                    Type::Error => Type::Error,
                    other => {
                        self.report(
                            Diagnostic::new(Code::TypeMismatch, iterable.span)
                                .with_message(format!(
                                    "`for k, v` iterates over a stream map, found {other}"
                                ))
                                .with_primary_label("not a stream map"),
                        );
                        Type::Error
                    }
                };
                let key = self.bind(k, Type::string());
                ForItem::Pair(key, self.bind(v, value))
            }
        }
    }

    fn push(
        &mut self,
        target: &ast::Ident,
        key: Option<&ast::Expr>,
        value: &ast::Expr,
    ) -> StmtKind {
        let key = key.map(|k| self.check_expr(k));
        let value = self.check_expr(value);
        let Some(local) = self.local(&target.text) else {
            let s = self.suggest(&target.text, |_| false);
            self.unknown("stream", &target.text, target.span, s);
            return StmtKind::Join(Vec::new());
        };
        self.note_local(target.span, local);
        match self.locals[local.0 as usize].ty.clone() {
            Type::Stream(element) => {
                if let Some(k) = &key {
                    self.report(
                        Diagnostic::new(Code::TypeMismatch, k.span)
                            .with_message("a stream takes values, not keys")
                            .with_help(format!("write `{} <<- value`", target.text)),
                    );
                }
                self.expect(&value, &element);
            }
            Type::StreamMap(element) => match &key {
                Some(k) => {
                    if !(k.ty.fits(&Type::string()) || k.ty.is_number()) {
                        self.expect(k, &Type::string());
                    }
                    self.expect(&value, &element);
                }
                None => self.report(
                    Diagnostic::new(Code::TypeMismatch, value.span)
                        .with_message(format!(
                            "`{}` is a stream map: a push gives it a key and a value",
                            target.text
                        ))
                        .with_primary_label("a value without a key")
                        .with_label(target.span, format!("this is {}", Type::StreamMap(element)))
                        .with_help(format!("write `{} <<- key, value`", target.text)),
                ),
            },
            Type::Error => {}
            other => self.report(
                Diagnostic::new(Code::TypeMismatch, target.span)
                    .with_message(format!(
                        "`<<-` pushes into a stream, but `{}` is {other}",
                        target.text
                    ))
                    .with_primary_label("not a stream"),
            ),
        }
        StmtKind::Push {
            target: local,
            key,
            value,
        }
    }

    /// `map <- call` where the call returns a key and a value and `map` is a stream map in
    /// scope: the pair is appended.
    fn push_entry(&mut self, name: &ast::Ident, result_types: &[Type]) -> Option<Target> {
        let [key, value] = result_types else {
            return None;
        };
        let existing = self.local(&name.text)?;
        let Type::StreamMap(element) = self.locals[existing.0 as usize].ty.clone() else {
            return None;
        };
        self.note_local(name.span, existing);
        if !(key.fits(&Type::string()) || key.is_number()) {
            let probe = expr(ExprKind::Error, key.clone(), name.span);
            self.expect(&probe, &Type::string());
        }
        let probe = expr(ExprKind::Error, value.as_value(), name.span);
        self.expect(&probe, &element);
        Some(Target::PushEntry(existing))
    }

    fn call_stmt(
        &mut self,
        results: &[ast::Ident],
        arrow: Option<Span>,
        value: &ast::Expr,
    ) -> StmtKind {
        let written = value;
        let value = self.check_expr(value);
        let result_types: Vec<Type> = match &value.kind {
            ExprKind::Call { results, .. } => results.clone(),
            ExprKind::Error => vec![Type::Error; results.len()],
            _ => {
                let d = self.not_a_call(results, arrow, written, &value);
                self.report(d);
                vec![Type::Error; results.len()]
            }
        };
        if let [name] = results {
            if let Some(entry) = self.push_entry(name, &result_types) {
                return StmtKind::Call {
                    results: vec![entry],
                    value,
                };
            }
        }
        if !results.is_empty() && results.len() != result_types.len() && !value.ty.is_error() {
            let message = format!(
                "the call returns {}, but {} receive{} them",
                count(result_types.len(), "value"),
                count(results.len(), "name"),
                if results.len() == 1 { "s" } else { "" },
            );
            let d = match results.get(result_types.len()) {
                // Names beyond the results receive nothing: mark them.
                Some(extra) => {
                    let last = results.last().map_or(extra.span, |r| r.span);
                    Diagnostic::new(Code::ResultCount, Span::from(extra.span.start..last.end))
                        .with_message(message)
                        .with_primary_label("no value for this")
                        .with_label(value.span, "the call")
                        .with_help(if result_types.is_empty() {
                            "the call returns nothing: write it as a statement of its own"
                                .to_string()
                        } else {
                            format!("name {} here", count(result_types.len(), "result"))
                        })
                }
                None => Diagnostic::new(Code::ResultCount, value.span)
                    .with_message(message)
                    .with_help("name every result of the call, separated by commas"),
            };
            self.report(d);
        }
        let targets = results
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let ty = result_types.get(i).cloned().unwrap_or(Type::Error);
                if let Some(existing) = self.local(&name.text) {
                    if let Type::Stream(element) = self.locals[existing.0 as usize].ty.clone() {
                        let probe = expr(ExprKind::Error, ty.as_value(), name.span);
                        if !matches!(ty, Type::Stream(_)) {
                            self.expect(&probe, &element);
                            self.note_local(name.span, existing);
                            return Target::Push(existing);
                        }
                    }
                }
                Target::Bind(self.bind(name, ty))
            })
            .collect();
        StmtKind::Call {
            results: targets,
            value,
        }
    }

    /// A statement whose value is not a call: a function named without `(...)` is marked at
    /// its name; a value after `<-` at the `<-`, which should be `=` (or `<<-` for a stream).
    fn not_a_call(
        &self,
        results: &[ast::Ident],
        arrow: Option<Span>,
        written: &ast::Expr,
        value: &Expr,
    ) -> Diagnostic {
        if matches!(value.ty, Type::Arrow(_)) {
            let name = match &written.kind {
                ast::ExprKind::Name(name)
                | ast::ExprKind::Property {
                    op: PropertyOp::Field(name),
                    ..
                } => Some(name),
                _ => None,
            };
            let (span, what) = name.map_or((value.span, "the function".to_string()), |n| {
                (n.span, format!("`{}`", n.text))
            });
            return Diagnostic::new(Code::NotCallable, span)
                .with_message(format!("{what} is a function, but it is not called"))
                .with_primary_label("not called")
                .with_help("call it with its arguments in parentheses: `(...)`");
        }
        let Some(arrow) = arrow else {
            return Diagnostic::new(Code::NotCallable, value.span)
                .with_message("a statement of its own must be a call")
                .with_primary_label("not a call");
        };
        let d = Diagnostic::new(Code::NotCallable, arrow)
            .with_message("`<-` takes the results of a call, but a value follows it")
            .with_primary_label("needs a call")
            .with_label(value.span, "a value, not a call");
        match results {
            [name] => {
                let into_stream = self
                    .local(&name.text)
                    .is_some_and(|l| self.locals[l.0 as usize].ty.is_stream());
                if into_stream {
                    d.with_help(format!(
                        "to push the value into `{}`, write `<<-`",
                        name.text
                    ))
                    .with_suggestion(arrow, "<<-")
                } else {
                    d.with_help(format!("to name the value, write `{} = ...`", name.text))
                        .with_suggestion(arrow, "=")
                }
            }
            _ => d.with_help("call a function or a service method"),
        }
    }

    /// Parameters, results and body of a function or closure.
    fn arrow_body(
        &mut self,
        arrow: &ast::ArrowType,
        body: &ast::Block,
    ) -> (ArrowType, Vec<LocalId>, Block) {
        let resolved = self.resolve_arrow(arrow);
        self.frames.push(HashMap::new());
        let mut params = Vec::new();
        for (path, ty) in arrow.abilities.iter().zip(&resolved.abilities) {
            let last = path.parts.last().expect("a path has a part");
            params.push(self.bind(last, ty.clone()));
        }
        for (param, (_, ty)) in arrow.params.iter().zip(&resolved.params) {
            if let Some(name) = &param.name {
                params.push(self.bind(name, ty.clone()));
            }
        }
        self.returns.push(Returns {
            types: resolved.results.clone(),
            spans: arrow.results.iter().map(ast::Type::span).collect(),
            depth: 0,
        });
        let unresolved = resolved.abilities.iter().any(Type::is_error);
        self.unresolved_abilities += usize::from(unresolved);
        let block = self.block_in_scope(&body.stmts);
        self.unresolved_abilities -= usize::from(unresolved);
        let returned = self.returns.pop().map(|r| r.types).unwrap_or_default();
        self.pop_frame();
        let early_return = body.stmts[..body.stmts.len().saturating_sub(1)]
            .iter()
            .position(|s| matches!(s.kind, ast::StmtKind::Return { .. }));
        if let Some(i) = early_return {
            let next = &body.stmts[i + 1];
            self.report(
                Diagnostic::new(Code::MisplacedReturn, next.span)
                    .with_message("nothing can follow `<-`: it ends the function")
                    .with_primary_label("after the return")
                    .with_label(body.stmts[i].span, "the function returns here")
                    .with_help("move this before the `<-`, or remove it"),
            );
        } else if !resolved.results.is_empty()
            && !ends_with_return(&block)
            && !has_errors_in(&self.diagnostics)
        {
            let first = arrow.results.first().map_or(arrow.span, |t| t.span());
            let last = arrow.results.last().map_or(arrow.span, |t| t.span());
            let mut d = Diagnostic::new(Code::ResultCount, Span::from(first.start..last.end))
                .with_message("the function declares results, but its body does not end with `<-` giving them")
                .with_primary_label("declared results");
            if let Some(stmt) = body.stmts.last() {
                d = d.with_label(stmt.span, "the body ends here");
            }
            self.report(d.with_help("end the body with `<- value`, one value per result"));
        }
        let mut resolved = resolved;
        if resolved.results.is_empty() {
            // A body that returned values without declaring them (already reported).
            resolved.results = returned;
        }
        (resolved, params, block)
    }
}

fn ends_with_return(block: &Block) -> bool {
    matches!(
        block.stmts.last(),
        Some(Stmt {
            kind: StmtKind::Return(_),
            ..
        })
    )
}

fn has_errors_in(diagnostics: &[Diagnostic]) -> bool {
    diagnostics
        .iter()
        .any(|d| d.severity() == crate::Severity::Error)
}

/// `<- values` with more or fewer values than the function declares: the first extra value
/// is marked, or, when some are missing, the values given.
fn result_count(expected: &[Type], values: &[Expr], span: Span) -> Diagnostic {
    let message = if expected.is_empty() {
        format!(
            "the function declares no results, but `<-` gives {}",
            count(values.len(), "value")
        )
    } else {
        format!(
            "the function returns {}, but `<-` gives {}",
            count(expected.len(), "value"),
            values.len()
        )
    };
    if let Some(extra) = values.get(expected.len()) {
        let last = values.last().map_or(extra.span, |v| v.span);
        let d = Diagnostic::new(Code::ResultCount, Span::from(extra.span.start..last.end))
            .with_message(message);
        if expected.is_empty() {
            let types: Vec<String> = values.iter().map(|v| v.ty.as_value().to_string()).collect();
            d.with_primary_label("returned here")
                .with_help(format!("declare the results: `-> {}`", types.join(", ")))
        } else {
            d.with_primary_label("too many values")
                .with_help("remove the extra values")
        }
    } else {
        let span = match (values.first(), values.last()) {
            (Some(first), Some(last)) => Span::from(first.span.start..last.span.end),
            _ => span,
        };
        let types: Vec<String> = expected.iter().map(ToString::to_string).collect();
        Diagnostic::new(Code::ResultCount, span)
            .with_message(message)
            .with_primary_label(format!("the results are {}", types.join(", ")))
    }
}

/// A call with too many or too few arguments: the first extra argument is marked, or, when
/// some are missing, the parentheses, naming the parameters that have no argument.
fn argument_count(
    params: &[(Option<&str>, &Type)],
    args: &[Expr],
    args_span: Span,
    what: &str,
) -> Diagnostic {
    let message = format!(
        "{what} takes {}, but {} given",
        count(params.len(), "argument"),
        match args.len() {
            0 => "none is".to_string(),
            1 => "1 is".to_string(),
            n => format!("{n} are"),
        }
    );
    if let Some(extra) = args.get(params.len()) {
        let last = args.last().map_or(extra.span, |a| a.span);
        Diagnostic::new(Code::ArgumentCount, Span::from(extra.span.start..last.end))
            .with_message(message)
            .with_primary_label(if args.len() - params.len() == 1 {
                "this argument is one too many".to_string()
            } else {
                format!("these {} arguments are too many", args.len() - params.len())
            })
            .with_help("remove the extra arguments")
    } else {
        let missing: Vec<String> = params[args.len()..]
            .iter()
            .map(|(name, ty)| match name {
                Some(name) => format!("`{name}: {ty}`"),
                None => format!("a {ty}"),
            })
            .collect();
        Diagnostic::new(Code::ArgumentCount, args_span)
            .with_message(message)
            .with_primary_label(format!("missing {}", missing.join(", ")))
    }
}

/// `lhs == rhs` (or `!=`) with operands of unrelated types. The left operand says what is
/// compared and the right one is marked, unless exactly one side is a struct or collection
/// compared with a scalar: that side is marked, as it most likely lacks a field or an index.
fn incomparable(op: InfixOp, op_span: Span, lhs: &Expr, rhs: &Expr) -> Diagnostic {
    let composite = |e: &Expr| !matches!(e.ty, Type::Scalar(_) | Type::NumberLiteral(_));
    let (wrong, other) = if composite(lhs) && !composite(rhs) {
        (lhs, rhs)
    } else {
        (rhs, lhs)
    };
    let d = Diagnostic::new(Code::TypeMismatch, wrong.span)
        .with_message(format!(
            "`{}` compares values of one type, but {} is compared with {}",
            op.symbol(),
            other.ty,
            wrong.ty
        ))
        .with_primary_label(format!("this is {}", wrong.ty))
        .with_label(other.span, format!("compared with {}", other.ty))
        .with_label(op_span, "compared here");
    let fitting: Vec<&str> = match &wrong.ty {
        Type::Struct(s) if !composite(other) => s
            .fields
            .iter()
            .filter(|(_, t)| t.fits(&other.ty) || other.ty.fits(t))
            .map(|(n, _)| n.as_str())
            .collect(),
        _ => Vec::new(),
    };
    match (fitting.as_slice(), &wrong.kind, &other.ty) {
        ([], ExprKind::Int(_) | ExprKind::Float(_), Type::Scalar(Scalar::String)) => {
            d.with_help("to compare with the text of the number, quote it")
        }
        ([], ..) => d.with_help("compare values of the same type"),
        (fields, ..) => {
            let fields: Vec<String> = fields.iter().map(|f| format!("`.{f}`")).collect();
            d.with_help(format!(
                "compare one of its fields of that type: {}",
                fields.join(", ")
            ))
        }
    }
}

/// `n` and the noun, plural unless `n` is 1: "1 argument", "2 arguments".
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The type of `a op b` for numbers: the wider operand type.
fn arithmetic_type(a: &Type, b: &Type) -> Type {
    match (a, b) {
        (Type::NumberLiteral(x), Type::NumberLiteral(y)) => {
            if *x == NumberLiteral::Float || *y == NumberLiteral::Float {
                Type::NumberLiteral(NumberLiteral::Float)
            } else {
                Type::NumberLiteral(NumberLiteral::Signed)
            }
        }
        (Type::NumberLiteral(NumberLiteral::Float), Type::Scalar(s))
        | (Type::Scalar(s), Type::NumberLiteral(NumberLiteral::Float))
            if !s.is_float() =>
        {
            Type::Scalar(Scalar::F64)
        }
        (Type::NumberLiteral(_), t) | (t, Type::NumberLiteral(_)) => t.clone(),
        (Type::Scalar(x), Type::Scalar(y)) => {
            if x.fits(*y) {
                Type::Scalar(*y)
            } else if y.fits(*x) {
                Type::Scalar(*x)
            } else if x.is_float() || y.is_float() {
                Type::Scalar(Scalar::F64)
            } else {
                Type::Scalar(Scalar::I64)
            }
        }
        _ => Type::Error,
    }
}

/// Constant folding of an operation on literals; `Err` says why it cannot be computed.
fn fold(op: InfixOp, lhs: &ExprKind, rhs: &ExprKind) -> Option<Result<ExprKind, &'static str>> {
    use ExprKind::{Bool, Float, Int, Str};
    use InfixOp::*;
    let overflow = "overflows 64 bits";
    Some(match (lhs, rhs) {
        (Int(a), Int(b)) => {
            let (a, b) = (*a, *b);
            match op {
                Add => a.checked_add(b).map(Int).ok_or(overflow),
                Sub => a.checked_sub(b).map(Int).ok_or(overflow),
                Mul => a.checked_mul(b).map(Int).ok_or(overflow),
                // A zero divisor is reported before folding.
                Div => a.checked_div(b).map(Int).ok_or(overflow),
                Rem => a.checked_rem(b).map(Int).ok_or(overflow),
                Pow => u32::try_from(b)
                    .ok()
                    .and_then(|b| a.checked_pow(b))
                    .map(Int)
                    .ok_or(overflow),
                Eq => Ok(Bool(a == b)),
                Neq => Ok(Bool(a != b)),
                Lt => Ok(Bool(a < b)),
                Lte => Ok(Bool(a <= b)),
                Gt => Ok(Bool(a > b)),
                Gte => Ok(Bool(a >= b)),
                And | Or => return None,
            }
        }
        (Float(_) | Int(_), Float(_) | Int(_)) => {
            let value = |k: &ExprKind| match k {
                Int(i) => *i as f64,
                Float(f) => *f,
                _ => unreachable!("numbers only"),
            };
            let (a, b) = (value(lhs), value(rhs));
            match op {
                Eq => Ok(Bool(a == b)),
                Neq => Ok(Bool(a != b)),
                Lt => Ok(Bool(a < b)),
                Lte => Ok(Bool(a <= b)),
                Gt => Ok(Bool(a > b)),
                Gte => Ok(Bool(a >= b)),
                // Float arithmetic is left to the peer, as its rounding is the peer's.
                _ => return None,
            }
        }
        (Bool(a), Bool(b)) => match op {
            And => Ok(Bool(*a && *b)),
            Or => Ok(Bool(*a || *b)),
            Eq => Ok(Bool(a == b)),
            Neq => Ok(Bool(a != b)),
            _ => return None,
        },
        (Str(a), Str(b)) => match op {
            Eq => Ok(Bool(a == b)),
            Neq => Ok(Bool(a != b)),
            _ => return None,
        },
        _ => return None,
    })
}

/// Checks a top-level function.
pub(super) fn check_func(ctx: &mut Ctx, func: &ast::Func) -> FuncDef {
    ctx.locals.clear();
    ctx.declared_streams.clear();
    let (arrow, params, body) = ctx.arrow_body(&func.arrow, &func.body);
    FuncDef {
        name: func.name.text.clone(),
        module: ctx.module as u32,
        arrow: Arc::new(arrow),
        params,
        body,
        locals: std::mem::take(&mut ctx.locals),
        span: func.span,
    }
}
