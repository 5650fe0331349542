//! Semantic analysis: names, types and checked function bodies.
//!
//! Modules are checked in dependency order. Each gets a [`ModuleScope`]: the names it
//! defines and imports. Definitions must come before their use (Aqua has no recursion), so
//! one pass over a module's items in order resolves everything.
//! The result is a [`Program`]: every function checked into [`hir`], with one diagnostic per
//! problem, attributed to the module where the problem is.

mod body;
pub mod hir;
mod scope;
pub mod types;

pub use scope::{parse_override, Declared, Def, ModuleScope, OwnNames, Site, SourceIndex};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::syntax::{ast, Span};
use crate::Diagnostic;
use hir::{FuncDef, FuncId, ServiceDef, ServiceId};
use types::{ArrowType, Type};

/// One parsed module and where its imports led.
pub struct ModuleInput<'a> {
    pub file: &'a ast::File,
    /// For each `import` or `use` header item (by index in `file.header`), the module it
    /// resolved to (an index into the inputs). Unresolved imports are absent.
    pub imports: Vec<(usize, usize)>,
    /// Whether every import was found. When one was not, names it may have provided are
    /// not reported as unknown: the missing import is the one problem.
    pub complete: bool,
    /// Whether the file parsed without errors. A broken line leaves names undefined and
    /// blocks incomplete, so the checker's findings in such a file would mostly echo the
    /// syntax error; they are left out until the syntax is fixed.
    pub parsed_cleanly: bool,
}

/// Settings that change meaning.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// Values for overridable constants (`const X ?= ...`), by name, as Aqua literals.
    pub constants: BTreeMap<String, String>,
}

/// What the modules importing a module read of it: its names and the signatures of its
/// functions and services. Nothing in it depends on where text is in the file (definitions
/// are named by [`types::DefId`], never by span), so an edit inside a function body leaves it
/// equal, and the incremental database does not check the importers again.
#[derive(Debug, Default, PartialEq)]
pub struct ModuleInterface {
    pub scope: ModuleScope,
    /// The arrow of each function, by [`FuncId::index`].
    pub funcs: Vec<Arc<ArrowType>>,
    /// The type and default id of each service, by [`ServiceId::index`].
    pub services: Vec<(Type, Option<String>)>,
}

/// One module, checked: its interface, its functions and services, and its problems.
#[derive(Debug, Default)]
pub struct CheckedModule {
    pub interface: Arc<ModuleInterface>,
    /// What only the module itself reads of its names.
    pub local: OwnNames,
    /// Names and types by position, for editors.
    pub index: SourceIndex,
    /// Where each item of the file declares its name and members, by item index: what
    /// [`Site`]s and [`types::DefId`]s resolve to.
    pub definitions: Vec<Declared>,
    pub funcs: Vec<FuncDef>,
    pub services: Vec<ServiceDef>,
    pub diagnostics: Vec<Diagnostic>,
}

impl CheckedModule {
    pub fn scope(&self) -> &ModuleScope {
        &self.interface.scope
    }
}

/// The interfaces of the modules that a module's check may reach, by module index: those it
/// imports, directly or not. The others are `None`.
pub type Checked = [Option<Arc<ModuleInterface>>];

/// The checked program: every module, by input index.
#[derive(Debug, Default)]
pub struct Program {
    pub modules: Vec<Arc<CheckedModule>>,
}

impl Program {
    pub fn func(&self, id: FuncId) -> &FuncDef {
        &self.modules[id.module as usize].funcs[id.index as usize]
    }

    pub fn service(&self, id: ServiceId) -> &ServiceDef {
        &self.modules[id.module as usize].services[id.index as usize]
    }

    /// The scope of module `index`.
    pub fn scope(&self, index: usize) -> &ModuleScope {
        self.modules[index].scope()
    }

    /// The span that `site` stands for, in the module it names.
    pub fn site_span(&self, site: Site) -> Option<Span> {
        match site {
            Site::Local { span, .. } => Some(span),
            Site::Def(def) => Some(self.definition(def)?.name),
            Site::Member(def, member) => {
                self.definition(def)?.members.get(member as usize).copied()
            }
        }
    }

    fn definition(&self, def: types::DefId) -> Option<&Declared> {
        self.modules
            .get(def.module as usize)?
            .definitions
            .get(def.item as usize)
    }

    /// Every problem, with the index of the module it belongs to.
    pub fn diagnostics(&self) -> impl Iterator<Item = (usize, &Diagnostic)> {
        self.modules
            .iter()
            .enumerate()
            .flat_map(|(index, m)| m.diagnostics.iter().map(move |d| (index, d)))
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics()
            .any(|(_, d)| d.severity() == crate::Severity::Error)
    }
}

/// Checks the modules, given in an order where every module comes after those it imports.
pub fn check(modules: &[ModuleInput], order: &[usize], options: &Options) -> Program {
    let mut checked: Vec<Option<Arc<CheckedModule>>> = vec![None; modules.len()];
    let mut interfaces: Vec<Option<Arc<ModuleInterface>>> = vec![None; modules.len()];
    for &index in order {
        let module = check_module(index, &modules[index], &interfaces, options);
        interfaces[index] = Some(module.interface.clone());
        checked[index] = Some(Arc::new(module));
    }
    Program {
        modules: checked.into_iter().map(|m| m.unwrap_or_default()).collect(),
    }
}

/// Checks module `index`, the interfaces of whose imports (direct and indirect) are in
/// `checked`.
pub fn check_module(
    index: usize,
    input: &ModuleInput,
    checked: &Checked,
    options: &Options,
) -> CheckedModule {
    scope::build(index, input, checked, options)
}
