//! The compiler as one call: load a project, check it, generate AIR for its exports.

use std::path::PathBuf;

use crate::codegen;
use crate::interface::Interface;
use crate::project::{self, FileSource, ImportConfig, Module, ModuleId, Project};
use crate::sema::{self, Def, ModuleInput, Program};
use crate::{Diagnostic, Severity};

/// Everything that changes what a compilation gives.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub imports: ImportConfig,
    pub sema: sema::Options,
    pub codegen: codegen::Options,
}

/// An exported function of a root module, compiled.
#[derive(Debug)]
pub struct Function {
    pub module: ModuleId,
    /// The name it is exported as.
    pub name: String,
    pub id: sema::hir::FuncId,
    /// The AIR text, or what stopped the code generator.
    pub air: Result<String, codegen::Unsupported>,
}

/// The result of a compilation.
#[derive(Debug)]
pub struct Compilation {
    pub project: Project,
    pub program: Program,
    /// The exported functions of the roots; empty when there are errors.
    pub functions: Vec<Function>,
}

impl Compilation {
    /// Every diagnostic, each with the module it belongs to, in module order.
    pub fn diagnostics(&self) -> Vec<(ModuleId, &Diagnostic)> {
        let mut all: Vec<(ModuleId, &Diagnostic)> = Vec::new();
        for module in &self.project.modules {
            all.extend(module.parsed.diagnostics.iter().map(|d| (module.id, d)));
        }
        all.extend(self.project.diagnostics.iter().map(|(m, d)| (*m, d)));
        all.extend(
            self.program
                .diagnostics()
                .map(|(m, d)| (ModuleId(m as u32), d)),
        );
        all.sort_by_key(|(m, d)| (*m, d.span.start, d.span.end));
        all
    }

    /// The exported functions and services of `module`, for clients.
    pub fn interface(&self, module: ModuleId) -> Interface {
        Interface::of_module(&self.program, self.program.scope(module.index()))
    }

    pub fn has_errors(&self) -> bool {
        self.diagnostics()
            .iter()
            .any(|(_, d)| d.severity() == Severity::Error)
    }
}

/// Compiles the files `roots` (and what they import).
pub fn compile(roots: &[PathBuf], files: &dyn FileSource, options: &Options) -> Compilation {
    let mut compilation = check(roots, files, options);
    generate(&mut compilation, &options.codegen);
    compilation
}

/// Generates the AIR of the exported functions of a checked compilation's roots, unless it
/// has errors.
pub fn generate(compilation: &mut Compilation, options: &codegen::Options) {
    generate_with(compilation, |program, _, id, name| {
        codegen::function(program, id, name, options).map(|script| air::print(&script))
    });
}

/// [`generate`] with `air` giving the AIR of each exported function from the program, the
/// module, the function and the name it is exported as.
pub(crate) fn generate_with(
    compilation: &mut Compilation,
    mut air: impl FnMut(
        &Program,
        &Module,
        sema::hir::FuncId,
        &str,
    ) -> Result<String, codegen::Unsupported>,
) {
    if compilation.has_errors() {
        return;
    }
    let Compilation {
        project,
        program,
        functions,
    } = compilation;
    let mut roots = project.roots.clone();
    roots.dedup();
    for module in roots {
        for (name, def) in &program.scope(module.index()).exports {
            let Def::Func(id) = def else { continue };
            functions.push(Function {
                module,
                name: name.clone(),
                id: *id,
                air: air(program, project.module(module), *id, name),
            });
        }
    }
}

/// Loads and checks the files `roots` (and what they import), generating no AIR: the
/// compilation's `functions` stay empty.
pub fn check(roots: &[PathBuf], files: &dyn FileSource, options: &Options) -> Compilation {
    let project = project::load(roots, &options.imports, files);
    let inputs: Vec<ModuleInput> = project.modules.iter().map(module_input).collect();
    let order: Vec<usize> = project.order().into_iter().map(|m| m.index()).collect();
    let program = sema::check(&inputs, &order, &options.sema);
    drop(inputs);
    Compilation {
        project,
        program,
        functions: Vec::new(),
    }
}

/// What the checker needs of a loaded module.
pub(crate) fn module_input(module: &Module) -> ModuleInput<'_> {
    ModuleInput {
        file: &module.parsed.file,
        imports: module
            .imports
            .iter()
            .map(|&(item, id)| (item, id.index()))
            .collect(),
        complete: module.imports.len() == import_count(&module.parsed.file),
        parsed_cleanly: !module
            .parsed
            .diagnostics
            .iter()
            .any(|d| d.severity() == Severity::Error),
    }
}

fn import_count(file: &crate::syntax::ast::File) -> usize {
    use crate::syntax::ast::HeaderItem;
    file.header
        .iter()
        .filter(|h| matches!(h, HeaderItem::Import { .. } | HeaderItem::Use { .. }))
        .count()
}
