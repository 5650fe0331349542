//! The module graph: given root files, every module they import or `use`, transitively,
//! read and parsed once each, with each import resolved to the module it names.
//!
//! This is the layer below name resolution. It knows files and import paths, not what
//! modules declare; the semantic pass walks [`Project::order`] and reads each module's
//! syntax tree and [`Module::imports`].
//!
//! Reading goes through a [`FileSource`], so the same loader serves the disk ([`DiskFiles`]),
//! tests and an editor's unsaved buffers ([`MemoryFiles`]).

mod files;
mod resolve;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use files::{normalize, DiskFiles, FileSource, MemoryFiles};
pub use resolve::{resolve, ImportConfig, Resolved, BUNDLED_ROOT};

use crate::diagnostic::{Code, Diagnostic, Label};
use crate::syntax::ast::{HeaderItem, StrLit};
use crate::syntax::lexer::Token;
use crate::syntax::{self, Parsed, Span};

/// The most modules a project loads; imports beyond it are reported and not followed.
pub const MAX_MODULES: usize = 10_000;

/// A module's index in [`Project::modules`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub u32);

impl ModuleId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One source file of a project.
#[derive(Debug)]
pub struct Module {
    pub id: ModuleId,
    /// Where the text came from. A file's path is its [`FileSource::canonical`] key.
    pub origin: Resolved,
    /// The path diagnostics show: [`Resolved::path`] of `origin`.
    pub path: PathBuf,
    pub text: String,
    /// The syntax tree and the file's own syntax diagnostics.
    pub parsed: Arc<Parsed>,
    /// For each `import` or `use` of the header that was resolved and loaded: the index of
    /// the header item and the module it names. An import missing here has been reported
    /// in [`Project::diagnostics`]; later passes should not report its names again.
    pub imports: Vec<(usize, ModuleId)>,
}

/// Every module reachable from the roots.
#[derive(Debug, Default)]
pub struct Project {
    /// Indexed by [`ModuleId`]; roots come first, then modules in the order they were found.
    pub modules: Vec<Module>,
    /// The module of each root, in the order given (a root given twice appears twice).
    pub roots: Vec<ModuleId>,
    /// Problems with files and imports, each in the module it belongs to: unresolved and
    /// unreadable imports and import cycles at the import, and invalid UTF-8 or an unreadable
    /// root in the file itself. Syntax diagnostics stay in [`Module::parsed`].
    pub diagnostics: Vec<(ModuleId, Diagnostic)>,
}

impl Project {
    pub fn module(&self, id: ModuleId) -> &Module {
        &self.modules[id.index()]
    }

    /// Every module, each after all the modules it imports, except along an import cycle
    /// (which is reported). Starts from the roots in order, so the order is deterministic.
    pub fn order(&self) -> Vec<ModuleId> {
        depth_first(&self.modules, &self.roots, |_, _| {})
    }
}

/// Loads the modules of `roots` and everything they import, reading through `files`.
///
/// Never fails: problems are in [`Project::diagnostics`]. A root that cannot be read is
/// still a module, with no text, so that its diagnostic has a file to belong to.
pub fn load(roots: &[PathBuf], config: &ImportConfig, files: &dyn FileSource) -> Project {
    let mut loader = Loader {
        config,
        files,
        project: Project::default(),
        by_path: HashMap::new(),
        pending: VecDeque::new(),
    };
    for root in roots {
        let id = loader.load_root(root);
        loader.project.roots.push(id);
    }
    while let Some(id) = loader.pending.pop_front() {
        loader.follow_imports(id);
    }
    let mut project = loader.project;
    let mut cycles = Vec::new();
    // A module may import the same module twice (`import` and `use`); one report per pair.
    let mut reported = HashSet::new();
    depth_first(&project.modules, &project.roots, |stack, closed| {
        if let Some(&(importer, _)) = stack.last() {
            if reported.insert((importer, closed)) {
                cycles.push(cycle_diagnostic(&project.modules, stack, closed));
            }
        }
    });
    project.diagnostics.extend(cycles);
    project
}

/// The warning for a root file without an `aqua` header: such a file exports nothing, so
/// compiling it gives no AIR, which is easy to miss. Files that are only imported need no
/// header.
fn headerless_root(module: &Module) -> Option<Diagnostic> {
    let first = syntax::lexer::first_token(&module.text);
    // A header line that does not parse, or stands too late, is reported already.
    let has_header = matches!(first, Some((Token::Aqua | Token::Module, _)))
        || module
            .parsed
            .file
            .header
            .iter()
            .any(|item| matches!(item, HeaderItem::Module { .. }));
    if has_header {
        return None;
    }
    let at = first.map_or(Span::from(0..0), |(_, span)| span);
    let name = module_name(&module.path);
    Some(
        Diagnostic::new(Code::HeaderlessRoot, at)
            .with_message("this file has no `aqua` header, so it exports nothing")
            .with_primary_label(format!("write `aqua {name}` before this line"))
            .with_help(format!(
                "start the file with `aqua {name}` and an `export` line naming the functions and services to compile; a file that is only imported needs no header"
            ))
            .with_suggestion(Span::from(at.start..at.start), format!("aqua {name}\n\n")),
    )
}

/// A module name for the file at `path`: its stem as an upper-case identifier.
fn module_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let mut name: String = stem
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        name.insert_str(0, "Main");
    }
    name
}

struct Loader<'a> {
    config: &'a ImportConfig,
    files: &'a dyn FileSource,
    project: Project,
    /// Loaded modules by the key of their file: the canonical path, or the bundled path.
    by_path: HashMap<PathBuf, ModuleId>,
    /// Modules whose imports are still to be followed.
    pending: VecDeque<ModuleId>,
}

impl Loader<'_> {
    fn load_root(&mut self, root: &Path) -> ModuleId {
        let path = self.files.canonical(root);
        if let Some(&id) = self.by_path.get(&path) {
            return id;
        }
        match self.files.read(&path) {
            Ok(bytes) => {
                let id = self.add(Resolved::File(path), bytes);
                if let Some(warning) = headerless_root(&self.project.modules[id.index()]) {
                    self.project.diagnostics.push((id, warning));
                }
                id
            }
            Err(error) => {
                let id = self.push(Resolved::File(path.clone()), String::new(), Arc::default());
                let diagnostic = Diagnostic::new(Code::UnreadableFile, Span::from(0..0))
                    .with_message(format!("cannot read `{}`: {error}", root.display()));
                self.project.diagnostics.push((id, diagnostic));
                id
            }
        }
    }

    /// Resolves and loads the imports of module `id`.
    fn follow_imports(&mut self, id: ModuleId) {
        let module = &self.project.modules[id.index()];
        let origin = module.origin.clone();
        let imports: Vec<(usize, StrLit)> = module
            .parsed
            .file
            .header
            .iter()
            .enumerate()
            .filter_map(|(index, item)| Some((index, import_path(item)?.clone())))
            .collect();
        for (index, import) in imports {
            let target = match resolve(&origin, &import.value, self.config, self.files) {
                Ok(resolved) => self.load_import(resolved, import.span),
                Err(tried) => Err(unresolved(&import, &tried)),
            };
            match target {
                Ok(target) => self.project.modules[id.index()]
                    .imports
                    .push((index, target)),
                Err(diagnostic) => self.project.diagnostics.push((id, diagnostic)),
            }
        }
    }

    /// The module of `resolved`, loaded now if it is new; problems are reported at `span`, the
    /// import's path.
    fn load_import(&mut self, resolved: Resolved, span: Span) -> Result<ModuleId, Diagnostic> {
        let resolved = match resolved {
            Resolved::File(path) => Resolved::File(self.files.canonical(&path)),
            bundled => bundled,
        };
        if let Some(&id) = self.by_path.get(&resolved.path()) {
            return Ok(id);
        }
        if self.project.modules.len() >= MAX_MODULES {
            return Err(
                Diagnostic::new(Code::TooManyModules, span).with_message(format!(
                    "`{}` is not loaded: the project already has {MAX_MODULES} modules",
                    resolved.path().display()
                )),
            );
        }
        let bytes = match &resolved {
            Resolved::File(path) => self.files.read(path).map_err(|error| {
                Diagnostic::new(Code::UnreadableFile, span)
                    .with_message(format!("cannot read `{}`: {error}", path.display()))
            })?,
            Resolved::Bundled(file) => file.source.as_bytes().to_vec(),
        };
        Ok(self.add(resolved, bytes))
    }

    /// Decodes and parses a file's bytes into a new module whose imports are to be followed.
    fn add(&mut self, origin: Resolved, bytes: Vec<u8>) -> ModuleId {
        let (text, bad_utf8) = syntax::decode(bytes);
        let parsed = self.files.parse(&origin.path(), &text);
        let id = self.push(origin, text, parsed);
        if let Some(diagnostic) = bad_utf8 {
            self.project.diagnostics.push((id, diagnostic));
        }
        self.pending.push_back(id);
        id
    }

    fn push(&mut self, origin: Resolved, text: String, parsed: Arc<Parsed>) -> ModuleId {
        // MAX_MODULES keeps the count far below u32::MAX.
        let id = ModuleId(self.project.modules.len() as u32);
        let path = origin.path();
        self.by_path.insert(path.clone(), id);
        self.project.modules.push(Module {
            id,
            origin,
            path,
            text,
            parsed,
            imports: Vec::new(),
        });
        id
    }
}

/// The path string of an `import` or `use` header line.
fn import_path(item: &HeaderItem) -> Option<&StrLit> {
    match item {
        HeaderItem::Import { path, .. } | HeaderItem::Use { path, .. } => Some(path),
        HeaderItem::Module { .. } | HeaderItem::Export { .. } => None,
    }
}

fn unresolved(import: &StrLit, tried: &[PathBuf]) -> Diagnostic {
    let mut help = String::from("looked for, in order:");
    for path in tried {
        help.push_str(&format!("\n  {}", path.display()));
    }
    if let Some(name) = import.value.strip_prefix(aqua_stdlib::IMPORT_PREFIX) {
        let bundled: Vec<&str> = aqua_stdlib::FILES
            .iter()
            .filter_map(|file| file.import_path.strip_prefix(aqua_stdlib::IMPORT_PREFIX))
            .collect();
        help.push_str(&format!(
            "\nthe bundled {} has no `{name}`; it has {}",
            aqua_stdlib::IMPORT_PREFIX.trim_end_matches('/'),
            bundled.join(", ")
        ));
    }
    Diagnostic::new(Code::UnresolvedImport, import.span)
        .with_message(format!("cannot find `{}`", import.value))
        .with_primary_label("no file found for this import")
        .with_help(help)
}

/// One frame of the depth-first walk: a module and how many of its imports were entered; the
/// import being followed is the one before that count.
type Frame = (ModuleId, usize);

/// Walks the import graph depth-first from `starts`, then from every module not reached, and
/// returns the modules in post-order: each after the modules it imports. `on_cycle` is called
/// for each import that leads back to a module on the current path (`stack`), with that
/// module. Every cycle contains at least one such import, and two such imports give the same
/// cycle only when one module imports the same module twice.
/// Iterative, so deep import chains cannot overflow the stack.
fn depth_first(
    modules: &[Module],
    starts: &[ModuleId],
    mut on_cycle: impl FnMut(&[Frame], ModuleId),
) -> Vec<ModuleId> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; modules.len()];
    let mut order = Vec::with_capacity(modules.len());
    let mut stack: Vec<Frame> = Vec::new();
    let all = modules.iter().map(|module| module.id);
    for start in starts.iter().copied().chain(all) {
        if state[start.index()] != State::New {
            continue;
        }
        state[start.index()] = State::OnPath;
        stack.push((start, 0));
        while let Some((id, entered)) = stack.last_mut() {
            let id = *id;
            match modules[id.index()].imports.get(*entered) {
                Some(&(_, target)) => {
                    *entered += 1;
                    match state[target.index()] {
                        State::New => {
                            state[target.index()] = State::OnPath;
                            stack.push((target, 0));
                        }
                        State::OnPath => on_cycle(&stack, target),
                        State::Done => {}
                    }
                }
                None => {
                    state[id.index()] = State::Done;
                    order.push(id);
                    stack.pop();
                }
            }
        }
    }
    order
}

/// The diagnostic for the cycle closed by the import being followed at the top of `stack`,
/// which leads back to `closed`: at that import, with the other imports of the cycle as labels.
fn cycle_diagnostic(
    modules: &[Module],
    stack: &[Frame],
    closed: ModuleId,
) -> (ModuleId, Diagnostic) {
    let start = stack.iter().position(|&(id, _)| id == closed).unwrap_or(0);
    let path = &stack[start..];
    let span_of = |&(id, entered): &Frame| {
        let module = &modules[id.index()];
        let item = module.imports[entered - 1].0;
        import_path(&module.parsed.file.header[item]).map_or(Span::from(0..0), |lit| lit.span)
    };
    let name = |id: ModuleId| {
        let path = &modules[id.index()].path;
        path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let (last, _) = path[path.len() - 1];
    let mut chain: Vec<String> = path.iter().map(|&(id, _)| name(id)).collect();
    chain.push(name(closed));
    let mut diagnostic = Diagnostic::new(Code::ImportCycle, span_of(&path[path.len() - 1]))
        .with_message(format!("import cycle: {}", chain.join(" -> ")))
        .with_primary_label(format!(
            "imports `{}`, closing the cycle",
            modules[closed.index()].path.display()
        ))
        .with_help("move what the modules of the cycle share into a module that they all import");
    // The other imports of the cycle, each in another file (a module is on the path once).
    for (step, frame) in path[..path.len() - 1].iter().enumerate() {
        let next = path[step + 1].0;
        diagnostic.labels.push(Label {
            span: span_of(frame),
            message: format!("imports `{}`", modules[next.index()].path.display()),
            file: Some(modules[frame.0.index()].path.clone()),
        });
    }
    (last, diagnostic)
}
