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

use crate::syntax::ast;
use crate::Diagnostic;
use hir::{FuncDef, ServiceDef};

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
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Values for overridable constants (`const X ?= ...`), by name, as Aqua literals.
    pub constants: BTreeMap<String, String>,
}

/// The checked program.
#[derive(Debug, Default)]
pub struct Program {
    pub funcs: Vec<FuncDef>,
    pub services: Vec<ServiceDef>,
    /// The scope of each module, by input index.
    pub scopes: Vec<ModuleScope>,
    /// Problems, each with the index of the module it belongs to.
    pub diagnostics: Vec<(usize, Diagnostic)>,
}

impl Program {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|(_, d)| d.severity() == crate::Severity::Error)
    }
}

/// Checks the modules, given in an order where every module comes after those it imports.
pub fn check(modules: &[ModuleInput], order: &[usize], options: &Options) -> Program {
    let mut program = Program {
        scopes: (0..modules.len()).map(|_| ModuleScope::default()).collect(),
        ..Program::default()
    };
    for &index in order {
        let scope = scope::build(index, modules, &mut program, options);
        program.scopes[index] = scope;
    }
    program
}
