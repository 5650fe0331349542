//! Module scopes: the header (imports, `use`, `declares`, `export`) and the top-level
//! definitions, in order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::body::{self, Ctx};
use super::hir::FuncDef;
use super::hir::{ExprKind, FuncId, ServiceDef, ServiceId};
use super::types::{AbilityType, ArrowType, DefId, Scalar, StructType, Type};
use super::{Checked, CheckedModule, ModuleInput, ModuleInterface, Options};
use crate::syntax::ast::{self, Declares, HeaderItem, Item};
use crate::syntax::Span;
use crate::{Code, Diagnostic};

/// A constant's value: always a literal after folding.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Nil,
}

/// What a top-level name stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Def {
    /// A `data`, `alias` or `ability`.
    Type(Type),
    Func(FuncId),
    Service(ServiceId),
    Const(ConstValue, Type),
}

impl Def {
    /// What the definition is, in a word, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Def::Type(_) => "type",
            Def::Func(_) => "function",
            Def::Service(_) => "service",
            Def::Const(..) => "constant",
        }
    }
}

/// A module brought in with `use`: its names are reached as `Alias.name`.
#[derive(Clone, Debug)]
pub struct UsedModule {
    pub module: usize,
    /// `use a, b from ...`: only these names (with their local aliases).
    pub only: Option<Vec<(String, String)>>,
}

/// Where something is defined. Top-level definitions and their members are named
/// symbolically, so that the sites an importer records stay valid (and equal) when an edit
/// moves text in the module they point to; [`super::Program::site_span`] gives their span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Site {
    /// A top-level definition.
    Def(DefId),
    /// A member of a top-level definition (a field of a `data` or `ability`, a function of a
    /// `service`), by its index among the definition's members.
    Member(DefId, u32),
    /// A local value: its binding, in the module being checked.
    Local { module: u32, span: Span },
}

/// Where an item of a module declares its name and its members, in declaration order
/// (members declared twice left out, as in the item's type).
#[derive(Clone, Debug)]
pub struct Declared {
    pub name: Span,
    pub members: Vec<Span>,
}

/// What editors ask of a module: which definition each name written in it stands for, and
/// the type of each expression and binding. Filled as the module is checked.
#[derive(Debug, Default)]
pub struct SourceIndex {
    /// Each name written in the module (definitions included), with where it is defined.
    pub names: Vec<(Span, Site)>,
    /// Each checked expression, binding and member name, with its type.
    pub types: Vec<(Span, Type)>,
}

impl SourceIndex {
    fn append(&mut self, other: &mut SourceIndex) {
        self.names.append(&mut other.names);
        self.types.append(&mut other.types);
    }
}

/// The names of one module, as its importers see them.
#[derive(Debug, Default, PartialEq)]
pub struct ModuleScope {
    /// The name in the `aqua` header.
    pub name: Option<String>,
    /// Names usable in the module: its own definitions and what it imported.
    pub names: HashMap<String, Def>,
    /// The module's own definitions in order.
    pub own: Vec<String>,
    /// `declares a, B` (`None`: everything).
    pub declares: Option<Vec<String>>,
    /// `export` entries: the public name and what it stands for.
    pub exports: Vec<(String, Def)>,
    /// Where each usable top-level name is defined: here, or in the module it came from.
    pub origins: HashMap<String, Site>,
}

/// What only the module itself reads of its names.
#[derive(Debug, Default)]
pub struct OwnNames {
    /// Where each own definition is, for notes and "defined here".
    pub spans: HashMap<String, Span>,
    /// Modules brought in with `use`, by alias (dotted aliases keep their dots).
    pub used: HashMap<String, UsedModule>,
    /// What the modules declare from which an import took a name they do not declare: an
    /// unknown name among them is most likely the one the import meant, already reported
    /// there.
    pub missed: HashSet<String>,
    /// Names imported one by one (`import a, b as c from ...`), with where the import names
    /// them: a second import or a definition of the same name would hide the first.
    pub imported: HashMap<String, Span>,
}

impl ModuleScope {
    /// The names this module offers to importers.
    pub fn declared(&self) -> Vec<(String, Def)> {
        let names: &[String] = self.declares.as_deref().unwrap_or(&self.own);
        names
            .iter()
            .filter_map(|n| self.names.get(n).map(|d| (n.clone(), d.clone())))
            .collect()
    }

    /// A declared name.
    pub fn get_declared(&self, name: &str) -> Option<Def> {
        let visible = match &self.declares {
            Some(names) => names.iter().any(|n| n == name),
            None => self.own.iter().any(|n| n == name),
        };
        visible.then(|| self.names.get(name).cloned()).flatten()
    }
}

/// A module being checked: what becomes its [`CheckedModule`].
#[derive(Default)]
struct Building {
    interface: ModuleInterface,
    local: OwnNames,
    index: SourceIndex,
    definitions: Vec<Declared>,
    funcs: Vec<FuncDef>,
    services: Vec<ServiceDef>,
}

/// Checks module `index`: its scope, then each definition in order.
pub(super) fn build(
    index: usize,
    input: &ModuleInput,
    checked: &Checked,
    options: &Options,
) -> CheckedModule {
    let mut module = Building::default();
    let mut diagnostics = Vec::new();
    header(index, input, checked, &mut module, &mut diagnostics);
    for (item_index, item) in input.file.items.iter().enumerate() {
        let mut found = SourceIndex::default();
        let at = DefId {
            module: index as u32,
            item: item_index as u32,
        };
        definition(
            at,
            item,
            checked,
            &mut module,
            options,
            &mut diagnostics,
            &mut found,
        );
        module.index.append(&mut found);
    }
    exports(input.file, &mut module.interface.scope, &mut diagnostics);
    for (name, def) in &module.interface.scope.exports {
        let Def::Func(id) = def else { continue };
        // Exports passed on from a module imported whole were checked there.
        let Some(span) = export_span(input.file, name) else {
            continue;
        };
        let arrow = if id.module as usize == index {
            &module.interface.funcs[id.index as usize]
        } else {
            match checked[id.module as usize].as_deref() {
                Some(m) => &m.funcs[id.index as usize],
                None => continue,
            }
        };
        if let Some(why) = not_exportable(arrow) {
            diagnostics.push(
                Diagnostic::new(Code::NotExportable, span)
                    .with_message(format!("`{name}` cannot be exported: it {why}"))
                    .with_primary_label("exported here")
                    .with_help(
                        "export a function that takes and returns data (and callbacks), and \
                         call this one from it",
                    ),
            );
        }
    }
    if !input.parsed_cleanly {
        diagnostics.clear();
    }
    if !input.complete {
        diagnostics.retain(|d| !matches!(d.code, Code::UnknownName | Code::UnknownType));
    }
    CheckedModule {
        interface: Arc::new(module.interface),
        local: module.local,
        index: module.index,
        definitions: module.definitions,
        funcs: module.funcs,
        services: module.services,
        diagnostics,
    }
}

fn header(
    index: usize,
    input: &ModuleInput,
    checked: &Checked,
    module: &mut Building,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let scope = &mut module.interface.scope;
    let local = &mut module.local;
    for (position, item) in input.file.header.iter().enumerate() {
        let target = input
            .imports
            .iter()
            .find(|(p, _)| *p == position)
            .map(|&(_, m)| m);
        match item {
            HeaderItem::Module {
                name,
                declares,
                legacy,
                ..
            } => {
                scope.name = Some(name.text());
                match declares {
                    Some(Declares::Names(names)) => {
                        scope.declares = Some(names.iter().map(|n| n.text.clone()).collect());
                    }
                    // An `aqua` header without `declares` offers nothing to importers; the
                    // legacy `module` keeps offering everything, as older packages expect.
                    None if !legacy => scope.declares = Some(Vec::new()),
                    _ => {}
                }
            }
            HeaderItem::Import { names, .. } => {
                let Some(target) = target.filter(|&t| t != index) else {
                    continue;
                };
                let Some(imported) = checked[target].as_deref().map(|m| &m.scope) else {
                    continue;
                };
                match names {
                    None => {
                        for (name, def) in imported.declared() {
                            if let Some(site) = imported.origins.get(&name) {
                                scope.origins.entry(name.clone()).or_insert(*site);
                            }
                            scope.names.entry(name).or_insert(def);
                        }
                        // A module imported whole also passes on what it exports, as the
                        // reference compiler does.
                        scope.exports.extend(imported.exports.iter().cloned());
                    }
                    Some(names) => {
                        for import in names {
                            let name = import.name.text();
                            match imported.get_declared(&name) {
                                Some(def) => {
                                    let local_ident = import.alias.as_ref().map_or_else(
                                        || (import.name.span(), name.clone()),
                                        |a| (a.span, a.text.clone()),
                                    );
                                    let (local_span, local_name) = local_ident;
                                    let site = imported.origins.get(&name);
                                    if let Some(&first) = local.imported.get(&local_name) {
                                        if site != scope.origins.get(&local_name) {
                                            diagnostics.push(
                                                Diagnostic::new(Code::Redefinition, local_span)
                                                    .with_message(format!(
                                                        "`{local_name}` is already imported from another module"
                                                    ))
                                                    .with_primary_label("imported again here")
                                                    .with_label(first, "first imported here")
                                                    .with_help(format!(
                                                        "import one of them under another name: `{name} as ...`"
                                                    )),
                                            );
                                            continue;
                                        }
                                    }
                                    local.imported.insert(local_name, local_span);
                                    if let Some(site) = site {
                                        module.index.names.push((import.name.span(), *site));
                                        let local =
                                            import.alias.as_ref().map_or(&name, |a| &a.text);
                                        scope.origins.insert(local.clone(), *site);
                                    }
                                    let local =
                                        import.alias.as_ref().map_or(name, |a| a.text.clone());
                                    scope.names.insert(local, def);
                                }
                                None => {
                                    diagnostics.push(missing_import(import, imported));
                                    local
                                        .missed
                                        .extend(imported.declared().into_iter().map(|(n, _)| n));
                                }
                            }
                        }
                    }
                }
            }
            HeaderItem::Use {
                names, alias, path, ..
            } => {
                let Some(target) = target.filter(|&t| t != index) else {
                    continue;
                };
                let Some(imported) = checked[target].as_deref().map(|m| &m.scope) else {
                    continue;
                };
                let alias_span = alias.as_ref().map_or(path.span, |a| a.span());
                let alias = match alias {
                    Some(alias) => alias.text(),
                    None => imported.name.clone().unwrap_or_default(),
                };
                if local.used.get(&alias).is_some_and(|u| u.module != target) {
                    diagnostics.push(
                        Diagnostic::new(Code::Redefinition, alias_span)
                            .with_message(format!("`{alias}` already names another used module"))
                            .with_primary_label("used again here")
                            .with_help("give this module another name with `as`"),
                    );
                    continue;
                }
                let only = names.as_ref().map(|names| {
                    names
                        .iter()
                        .filter_map(|import| {
                            let name = import.name.text();
                            if imported.get_declared(&name).is_none() {
                                diagnostics.push(missing_import(import, imported));
                                return None;
                            }
                            let local = import
                                .alias
                                .as_ref()
                                .map_or(name.clone(), |a| a.text.clone());
                            Some((local, name))
                        })
                        .collect()
                });
                local.used.insert(
                    alias,
                    UsedModule {
                        module: target,
                        only,
                    },
                );
            }
            HeaderItem::Export { .. } => {}
        }
    }
}

fn missing_import(import: &ast::ImportName, imported: &ModuleScope) -> Diagnostic {
    let name = import.name.text();
    let module = imported.name.as_deref().unwrap_or("the module");
    let declared: Vec<String> = imported.declared().into_iter().map(|(n, _)| n).collect();
    let candidates: Vec<&str> = declared.iter().map(String::as_str).collect();
    let mut d = Diagnostic::new(Code::MissingImport, import.name.span())
        .with_message(format!("`{module}` does not declare `{name}`"))
        .with_primary_label("not declared there");
    if let Some(near) = crate::syntax::nearest(&name, &candidates) {
        d = d.with_help(format!("did you mean `{near}`?"));
    }
    d
}

/// Makes `name` stand for `def`, the item `at`, unless the name is taken.
fn define(
    at: DefId,
    module: &mut Building,
    name: &ast::Ident,
    def: Def,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let scope = &mut module.interface.scope;
    let local = &mut module.local;
    if let Some(import) = local.imported.get(&name.text) {
        diagnostics.push(
            Diagnostic::new(Code::Redefinition, name.span)
                .with_message(format!("`{}` is already imported", name.text))
                .with_primary_label("defined again here")
                .with_label(*import, "imported here")
                .with_help(
                    "rename this definition, or import the other under another name with `as`",
                ),
        );
        return;
    }
    if let Some(previous) = local.spans.get(&name.text) {
        diagnostics.push(
            Diagnostic::new(Code::Redefinition, name.span)
                .with_message(format!("`{}` is already defined in this module", name.text))
                .with_primary_label("defined again here")
                .with_label(*previous, "first defined here"),
        );
        return;
    }
    local.spans.insert(name.text.clone(), name.span);
    let site = Site::Def(at);
    scope.origins.insert(name.text.clone(), site);
    module.index.names.push((name.span, site));
    scope.own.push(name.text.clone());
    scope.names.insert(name.text.clone(), def);
}

fn definition(
    at: DefId,
    item: &Item,
    checked: &Checked,
    module: &mut Building,
    options: &Options,
    diagnostics: &mut Vec<Diagnostic>,
    found: &mut SourceIndex,
) {
    let index = at.module as usize;
    let name = match item {
        Item::Data { name, .. }
        | Item::Alias { name, .. }
        | Item::Const { name, .. }
        | Item::Service { name, .. }
        | Item::Ability { name, .. } => name.span,
        Item::Func(func) => func.name.span,
        Item::Error(span) => *span,
    };
    module.definitions.push(Declared {
        name,
        members: Vec::new(),
    });
    let mut ctx = Ctx::new(index, checked, &module.interface, &module.local);
    match item {
        Item::Data {
            name,
            fields: declared,
            ..
        } => {
            let fields = typed_fields(&mut ctx, at, declared, &mut module.definitions);
            for field in declared {
                let kind = match fields.iter().find(|(n, _)| *n == field.name.text) {
                    Some((_, Type::Ability(a))) if a.service => "a service",
                    Some((_, Type::Ability(_))) => "an ability",
                    Some((_, Type::Arrow(_))) => "a function type",
                    Some((_, Type::Stream(_))) => "a stream",
                    Some((_, Type::StreamMap(_))) => "a stream map",
                    _ => continue,
                };
                ctx.diagnostics.push(
                    Diagnostic::new(Code::TypeMismatch, field.ty.span())
                        .with_message(format!(
                            "field `{}` of `{}` is {kind}; data holds only values",
                            field.name.text, name.text
                        ))
                        .with_primary_label("not a value type")
                        .with_help(
                            "give data fields scalar, struct, array or option types; pass \
                             functions and abilities as arguments instead",
                        ),
                );
            }
            let ty = Type::Struct(Arc::new(StructType {
                name: name.text.clone(),
                fields,
                origin: Some(at),
            }));
            ctx.finish(diagnostics, found);
            define(at, module, name, Def::Type(ty), diagnostics);
        }
        Item::Alias { name, ty, .. } => {
            let ty = ctx.resolve_type(ty);
            ctx.finish(diagnostics, found);
            define(at, module, name, Def::Type(ty), diagnostics);
        }
        Item::Ability { name, fields, .. } => {
            let fields = typed_fields(&mut ctx, at, fields, &mut module.definitions);
            let ty = Type::Ability(Arc::new(AbilityType {
                name: name.text.clone(),
                fields,
                service: false,
                origin: Some(at),
            }));
            ctx.finish(diagnostics, found);
            define(at, module, name, Def::Type(ty), diagnostics);
        }
        Item::Service {
            name,
            default_id,
            methods,
            span,
        } => {
            let fields = typed_fields(&mut ctx, at, methods, &mut module.definitions);
            for method in methods {
                if let ast::Type::Arrow(arrow) = &method.ty {
                    if let Some(extra) = arrow.results.get(1) {
                        ctx.diagnostics.push(
                            Diagnostic::new(Code::ResultCount, extra.span())
                                .with_message(format!(
                                    "service function `{}` returns {} values; a service call \
                                     returns at most one",
                                    method.name.text,
                                    arrow.results.len()
                                ))
                                .with_primary_label("one result too many")
                                .with_help("return a `data` structure with the values as fields"),
                        );
                    }
                }
            }
            for (member, ty) in &fields {
                if matches!(ty, Type::Arrow(_) | Type::Error) {
                    continue;
                }
                // The declaration as written (a duplicate is dropped from `fields`).
                let Some(field) = methods.iter().find(|m| m.name.text == *member) else {
                    continue;
                };
                ctx.diagnostics.push(
                    Diagnostic::new(Code::TypeMismatch, field.name.span)
                        .with_message(format!(
                            "service `{}` declares `{member}` as {ty}, but a service has only \
                             functions",
                            name.text
                        ))
                        .with_primary_label("not a function")
                        .with_label(field.ty.span(), format!("this is {ty}"))
                        .with_help(format!(
                            "declare a function that gives the value: `{member}() -> {}`",
                            crate::format::ty(&field.ty)
                        )),
                );
            }
            let default_id = default_id.as_ref().and_then(|e| {
                let value = ctx.check_const_expr(e);
                match value {
                    Some((ConstValue::Str(s), _)) => Some(s),
                    Some(_) => {
                        ctx.diagnostics.push(
                            Diagnostic::new(Code::TypeMismatch, e.span)
                                .with_message("a service id is a string")
                                .with_primary_label("not a string"),
                        );
                        None
                    }
                    None => None,
                }
            });
            ctx.finish(diagnostics, found);
            let ty = Type::Ability(Arc::new(AbilityType {
                name: name.text.clone(),
                fields,
                service: true,
                origin: Some(at),
            }));
            let id = ServiceId {
                module: index as u32,
                index: module.services.len() as u32,
            };
            module
                .interface
                .services
                .push((ty.clone(), default_id.clone()));
            module.services.push(ServiceDef {
                name: name.text.clone(),
                module: index as u32,
                ty,
                default_id,
                span: *span,
            });
            define(at, module, name, Def::Service(id), diagnostics);
        }
        Item::Const {
            name,
            overridable,
            value,
            ..
        } => {
            let checked = ctx.check_const_expr(value);
            if ctx.builtin(&name.text).is_some() {
                diagnostics.push(
                    Diagnostic::new(Code::Redefinition, name.span)
                        .with_message(format!("`{}` is a built-in constant", name.text))
                        .with_primary_label("defined again here")
                        .with_help("give the constant a name of its own"),
                );
            }
            ctx.finish(diagnostics, found);
            let Some((mut value_const, mut ty)) = checked else {
                define(
                    at,
                    module,
                    name,
                    Def::Const(ConstValue::Nil, Type::Error),
                    diagnostics,
                );
                return;
            };
            // `?=` gives a default, used only when the constant has no value yet; the default
            // must still have the constant's type.
            if let (true, Some(Def::Const(_, defined))) =
                (*overridable, module.interface.scope.names.get(&name.text))
            {
                if !ty.fits(defined) {
                    let first = module
                        .local
                        .spans
                        .get(&name.text)
                        .or_else(|| module.local.imported.get(&name.text));
                    let mut d = Diagnostic::new(Code::TypeMismatch, value.span)
                        .with_message(format!(
                            "the default of `{}` must have the type of its value, {defined}, \
                             but this is {ty}",
                            name.text
                        ))
                        .with_primary_label(format!("this is {ty}"));
                    if let Some(first) = first {
                        d = d.with_label(*first, format!("already defined here as {defined}"));
                    }
                    diagnostics.push(d.with_help(format!(
                        "`?=` gives `{}` a value only when it has none; give a default of the \
                         same type, or remove the line",
                        name.text
                    )));
                }
                return;
            }
            if let Some(text) = options.constants.get(&name.text) {
                if *overridable {
                    match parse_override(text) {
                        Some((v, t)) if t.fits(&ty) || ty.fits(&t) => {
                            value_const = v;
                            ty = t;
                        }
                        _ => diagnostics.push(
                            Diagnostic::new(Code::TypeMismatch, name.span)
                                .with_message(format!(
                                    "the value `{text}` given for `{}` is not a {ty}",
                                    name.text
                                ))
                                .with_primary_label("declared here"),
                        ),
                    }
                }
            }
            define(at, module, name, Def::Const(value_const, ty), diagnostics);
        }
        Item::Func(func) => {
            let def = body::check_func(&mut ctx, func);
            ctx.finish(diagnostics, found);
            let id = FuncId {
                module: index as u32,
                index: module.funcs.len() as u32,
            };
            module.interface.funcs.push(def.arrow.clone());
            module.funcs.push(def);
            define(at, module, &func.name, Def::Func(id), diagnostics);
        }
        Item::Error(_) => {}
    }
}

/// Parses a `--const` value: an integer, float, `true`/`false` or a quoted string.
pub fn parse_override(text: &str) -> Option<(ConstValue, Type)> {
    use super::types::NumberLiteral;
    let text = text.trim();
    if let Some(s) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Some((ConstValue::Str(s.to_string()), Type::string()));
    }
    match text {
        "true" => return Some((ConstValue::Bool(true), Type::bool())),
        "false" => return Some((ConstValue::Bool(false), Type::bool())),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        let lit = if i < 0 {
            NumberLiteral::Signed
        } else {
            NumberLiteral::Unsigned
        };
        return Some((ConstValue::Int(i), Type::NumberLiteral(lit)));
    }
    text.parse::<f64>().ok().map(|f| {
        (
            ConstValue::Float(f),
            Type::NumberLiteral(NumberLiteral::Float),
        )
    })
}

/// The members of the item `at` with their types; records where each is declared.
fn typed_fields(
    ctx: &mut Ctx,
    at: DefId,
    fields: &[ast::Field],
    definitions: &mut [Declared],
) -> Vec<(String, Type)> {
    let mut out: Vec<(String, Type)> = Vec::new();
    let mut spans = Vec::new();
    for field in fields {
        let ty = ctx.resolve_type(&field.ty);
        if out.iter().any(|(n, _)| *n == field.name.text) {
            ctx.diagnostics.push(
                Diagnostic::new(Code::Redefinition, field.name.span)
                    .with_message(format!("field `{}` is declared twice", field.name.text)),
            );
            continue;
        }
        let site = Site::Member(at, out.len() as u32);
        ctx.note(field.name.span, site, &ty);
        spans.push(field.name.span);
        out.push((field.name.text.clone(), ty));
    }
    definitions[at.item as usize].members = spans;
    out
}

/// Why a client cannot call a function of this type, if it cannot: clients pass JSON values
/// and callbacks, and receive JSON values.
fn not_exportable(arrow: &ArrowType) -> Option<String> {
    if let Some(ability) = arrow.abilities.first() {
        return Some(format!(
            "needs the ability {ability}, which a client cannot give"
        ));
    }
    for (name, ty) in &arrow.params {
        let name = name.as_deref().unwrap_or("a parameter");
        match ty {
            Type::Ability(_) => {
                return Some(format!(
                    "takes `{name}`, an ability, which a client cannot pass"
                ))
            }
            Type::StreamMap(_) => {
                return Some(format!(
                    "takes `{name}`, a stream map, which a client cannot pass"
                ))
            }
            _ => {}
        }
    }
    arrow
        .results
        .iter()
        .find(|ty| matches!(ty, Type::Arrow(_) | Type::Ability(_) | Type::StreamMap(_)))
        .map(|ty| format!("returns {ty}, which a client cannot receive"))
}

/// The span of the `export` entry that makes `public` public.
fn export_span(file: &ast::File, public: &str) -> Option<Span> {
    file.header.iter().find_map(|item| match item {
        HeaderItem::Export { names, .. } => names
            .iter()
            .find(|e| e.alias.as_ref().map_or(e.name.text(), |a| a.text.clone()) == public)
            .map(|e| e.name.span()),
        _ => None,
    })
}

fn exports(file: &ast::File, scope: &mut ModuleScope, diagnostics: &mut Vec<Diagnostic>) {
    // Public names given by this module's own `export` lines, and where.
    let mut public_names: HashMap<String, Span> = HashMap::new();
    for item in &file.header {
        if let HeaderItem::Module {
            declares: Some(Declares::Names(names)),
            ..
        } = item
        {
            for declared in names {
                if !scope.names.contains_key(&declared.text) {
                    let candidates: Vec<&str> = scope.own.iter().map(String::as_str).collect();
                    let mut d = Diagnostic::new(Code::UnknownName, declared.span)
                        .with_message(format!(
                            "`{}` is declared, but the module neither defines nor imports it",
                            declared.text
                        ))
                        .with_primary_label("not defined in this module");
                    if let Some(near) = crate::syntax::nearest(&declared.text, &candidates) {
                        d = d.with_help(format!("did you mean `{near}`?"));
                    }
                    diagnostics.push(d);
                }
            }
        }
        let HeaderItem::Export { names, .. } = item else {
            continue;
        };
        for export in names {
            let name = export.name.text();
            let (public, public_span) = export
                .alias
                .as_ref()
                .map_or((name.clone(), export.name.span()), |a| {
                    (a.text.clone(), a.span)
                });
            if let Some(&first) = public_names.get(&public) {
                diagnostics.push(
                    Diagnostic::new(Code::Redefinition, public_span)
                        .with_message(format!("`{public}` is exported twice"))
                        .with_primary_label("exported again here")
                        .with_label(first, "first exported here")
                        .with_help(
                            "export each name once; give a second function another name with `as`",
                        ),
                );
                continue;
            }
            public_names.insert(public.clone(), public_span);
            match scope.names.get(&name) {
                Some(def @ (Def::Func(_) | Def::Service(_) | Def::Const(..))) => {
                    scope.exports.push((public, def.clone()))
                }
                Some(def) => diagnostics.push(
                    Diagnostic::new(Code::UnknownName, export.name.span())
                        .with_message(format!(
                            "`{name}` is a {}; only functions, services and constants are exported",
                            def.kind()
                        ))
                        .with_primary_label("not exportable")
                        .with_help("clients call functions: export a function that uses it"),
                ),
                None => {
                    let candidates: Vec<&str> = scope.own.iter().map(String::as_str).collect();
                    let mut d = Diagnostic::new(Code::UnknownName, export.name.span())
                        .with_message(format!("cannot export `{name}`: it is not defined"))
                        .with_primary_label("not defined in this module");
                    if let Some(near) = crate::syntax::nearest(&name, &candidates) {
                        d = d.with_help(format!("did you mean `{near}`?"));
                    }
                    diagnostics.push(d)
                }
            }
        }
    }
}

/// Names of the scalar types, for suggestions.
pub(super) fn scalar_names() -> impl Iterator<Item = &'static str> {
    Scalar::ALL.into_iter().map(Scalar::name)
}

/// The arrow type of a service method, if `name` is one.
pub(super) fn method_arrow(ty: &Type, name: &str) -> Option<Arc<ArrowType>> {
    match ty {
        Type::Ability(a) => match a.field(name)? {
            Type::Arrow(arrow) => Some(arrow.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A literal constant as an expression kind.
pub(super) fn const_expr(value: &ConstValue) -> ExprKind {
    match value {
        ConstValue::Int(i) => ExprKind::Int(*i),
        ConstValue::Float(f) => ExprKind::Float(*f),
        ConstValue::Str(s) => ExprKind::Str(s.clone()),
        ConstValue::Bool(b) => ExprKind::Bool(*b),
        ConstValue::Nil => ExprKind::Nil,
    }
}
