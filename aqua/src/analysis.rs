//! What an editor asks about a position in a checked project: the type there, where the name
//! there is defined, and where else that definition is used. Names are those of values,
//! top-level definitions, and members: fields of structs (read, given to a constructor or to
//! `.copy`) and of abilities, functions of services.
//!
//! The checker records, for each module, every name it resolves with the site of its
//! definition, and the type of every expression, binding and member name
//! (`sema::SourceIndex`). Sites of top-level definitions and their members are symbolic
//! (`sema::Site`); the module that defines them gives their spans (`Program::site_span`).
//! Positions are byte offsets into a module's text.

use std::path::Path;

use crate::compile::Compilation;
use crate::project::ModuleId;
use crate::sema::types::Type;
use crate::sema::Site;
use crate::syntax::Span;

/// A span in a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    pub module: ModuleId,
    pub start: usize,
    pub end: usize,
}

/// The module a site is in.
fn module_of(site: Site) -> ModuleId {
    ModuleId(match site {
        Site::Def(def) | Site::Member(def, _) => def.module,
        Site::Local { module, .. } => module,
    })
}

/// The entry with the smallest span that covers `offset`. A span also covers the offset
/// just after it, where an editor's cursor sits after typing a name.
fn innermost<T>(entries: &[(Span, T)], offset: usize) -> Option<&(Span, T)> {
    entries
        .iter()
        .filter(|(span, _)| span.start <= offset && offset <= span.end)
        .min_by_key(|(span, _)| span.end - span.start)
}

impl Compilation {
    /// The module loaded from `path` (the path its diagnostics show).
    pub fn module_at(&self, path: &Path) -> Option<ModuleId> {
        self.project
            .modules
            .iter()
            .find(|m| m.path == path)
            .map(|m| m.id)
    }

    /// The type of the innermost expression or binding at `offset`, with its span.
    pub fn type_at(&self, module: ModuleId, offset: usize) -> Option<(Location, &Type)> {
        let index = &self.program.modules.get(module.index())?.index;
        innermost(&index.types, offset).map(|(span, ty)| {
            let location = Location {
                module,
                start: span.start,
                end: span.end,
            };
            (location, ty)
        })
    }

    /// Where the name at `offset` is defined: a local's binding, or a top-level definition in
    /// this module or the one it was imported from.
    pub fn definition_at(&self, module: ModuleId, offset: usize) -> Option<Location> {
        let site = self.site_at(module, offset)?;
        let span = self.program.site_span(site)?;
        Some(Location {
            module: module_of(site),
            start: span.start,
            end: span.end,
        })
    }

    /// Every place that names the same definition as the name at `offset`, the definition
    /// itself included, in every module of the project, sorted.
    pub fn references_at(&self, module: ModuleId, offset: usize) -> Vec<Location> {
        let Some(site) = self.site_at(module, offset) else {
            return Vec::new();
        };
        let mut found: Vec<Location> = self
            .program
            .modules
            .iter()
            .enumerate()
            .flat_map(|(m, checked)| {
                checked
                    .index
                    .names
                    .iter()
                    .filter(move |(_, s)| *s == site)
                    .map(move |(span, _)| Location {
                        module: ModuleId(m as u32),
                        start: span.start,
                        end: span.end,
                    })
            })
            .collect();
        found.sort();
        found.dedup();
        found
    }

    fn site_at(&self, module: ModuleId, offset: usize) -> Option<Site> {
        let index = &self.program.modules.get(module.index())?.index;
        innermost(&index.names, offset).map(|(_, site)| *site)
    }
}
