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

pub use scope::{parse_override, Def, ModuleScope, Site, SourceIndex};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::syntax::ast;
use crate::Diagnostic;
use hir::{FuncDef, FuncId, ServiceDef, ServiceId};

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

/// One module, checked: its scope, its functions and services, and its problems.
#[derive(Debug, Default)]
pub struct CheckedModule {
    pub scope: ModuleScope,
    pub funcs: Vec<FuncDef>,
    pub services: Vec<ServiceDef>,
    pub diagnostics: Vec<Diagnostic>,
}

/// The checked modules that a module's check may reach, by module index: those it imports,
/// directly or not. The others are `None`.
pub type Checked = [Option<Arc<CheckedModule>>];

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
        &self.modules[index].scope
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
    for &index in order {
        let module = check_module(index, &modules[index], &checked, options);
        checked[index] = Some(Arc::new(module));
    }
    Program {
        modules: checked.into_iter().map(|m| m.unwrap_or_default()).collect(),
    }
}

/// Checks module `index`, whose imports (direct and indirect) are in `checked`.
pub fn check_module(
    index: usize,
    input: &ModuleInput,
    checked: &Checked,
    options: &Options,
) -> CheckedModule {
    scope::build(index, input, checked, options)
}
