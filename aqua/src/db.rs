//! The incremental database: a [`Workspace`] keeps every file it has seen as a salsa input,
//! and compiles through salsa queries, so that an edit re-does only what it affects:
//!
//! - [`parse`]: a file's syntax tree, from its text;
//! - [`check_module`]: a module checked (its interface, its typed functions and services, its
//!   diagnostics and source index), from its syntax tree and the interfaces of the modules it
//!   reaches through imports;
//! - [`module_interface`]: what importers read of a module's check (names, signatures, with
//!   definitions named symbolically, not by span); its value compares equal across checks
//!   that do not change it, which cuts off the re-checks of importers;
//! - [`function_air`]: the AIR of an exported function, from the checks of its module and of
//!   the modules it imports.
//!
//! The module graph (which file each import resolved to) is an input too, [`ModuleNode`]:
//! resolving imports asks the file system, so the workspace loads the project outside the
//! queries, reusing the syntax trees of unchanged files, and sets the graph's inputs only
//! where they changed. An edit inside a module then re-checks that module, and the modules
//! that import it, directly or not, only when its interface changed.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use salsa::Setter;

use crate::codegen::{self, Unsupported};
use crate::compile::{self, Compilation, Options};
use crate::project::{FileSource, Project};
use crate::sema::{self, CheckedModule, Def, ModuleInput, ModuleInterface, Program};
use crate::syntax::{self, Parsed};
use crate::Severity;

/// A source file's text, as the workspace knows it.
#[salsa::input]
pub struct SourceFile {
    #[returns(ref)]
    pub text: String,
}

/// The syntax tree of a file, recomputed only when its text changes.
#[salsa::tracked(returns(clone), no_eq)]
pub fn parse(db: &dyn salsa::Database, file: SourceFile) -> Arc<Parsed> {
    Arc::new(syntax::parse(file.text(db)))
}

/// The options of a workspace's compilations. Queries read the field they need, so new
/// code generator options leave the checks alone.
#[salsa::input]
pub struct Settings {
    /// What changes meaning (`--const` values).
    #[returns(ref)]
    pub sema: sema::Options,
    #[returns(ref)]
    pub codegen: codegen::Options,
}

/// A module of the project as last loaded: its index, its file, and the modules its imports
/// resolved to (without imports that close a cycle, which are reported at load).
#[salsa::input]
pub struct ModuleNode {
    #[returns(copy)]
    pub index: u32,
    #[returns(copy)]
    pub file: SourceFile,
    /// `(header item, module)` for each import followed.
    #[returns(ref)]
    pub imports: Vec<(usize, ModuleNode)>,
    /// Whether every import of the header was found.
    #[returns(copy)]
    pub complete: bool,
    #[returns(copy)]
    pub settings: Settings,
}

/// The modules that `node` reaches through its imports, directly or not, each once.
fn reached(db: &dyn salsa::Database, node: ModuleNode) -> Vec<ModuleNode> {
    let mut seen = HashSet::new();
    let mut stack = vec![node];
    let mut found = Vec::new();
    while let Some(next) = stack.pop() {
        for (_, import) in next.imports(db) {
            if seen.insert(*import) {
                found.push(*import);
                stack.push(*import);
            }
        }
    }
    found
}

/// Values by module index, `None` where there is none.
fn by_index<T>(values: impl IntoIterator<Item = (u32, T)>) -> Vec<Option<T>> {
    let mut indexed: Vec<Option<T>> = Vec::new();
    for (index, value) in values {
        let index = index as usize;
        if indexed.len() <= index {
            indexed.resize_with(index + 1, || None);
        }
        indexed[index] = Some(value);
    }
    indexed
}

/// A module checked against the interfaces of the modules it reaches: recomputed only when
/// its syntax tree, its imports or one of those interfaces change.
#[salsa::tracked(returns(clone), no_eq)]
pub fn check_module(db: &dyn salsa::Database, node: ModuleNode) -> Arc<CheckedModule> {
    let parsed = parse(db, node.file(db));
    let interfaces = by_index(
        reached(db, node)
            .into_iter()
            .map(|import| (import.index(db), module_interface(db, import))),
    );
    let input = ModuleInput {
        file: &parsed.file,
        imports: node
            .imports(db)
            .iter()
            .map(|(item, import)| (*item, import.index(db) as usize))
            .collect(),
        complete: node.complete(db),
        parsed_cleanly: !parsed
            .diagnostics
            .iter()
            .any(|d| d.severity() == Severity::Error),
    };
    Arc::new(sema::check_module(
        node.index(db) as usize,
        &input,
        &interfaces,
        node.settings(db).sema(db),
    ))
}

/// What importers read of a module. A new check of the module that leaves it equal (an edit
/// inside a function body, or one that only moves text) keeps its old revision, so salsa does
/// not check the importers again: this query is where their re-checks are cut off.
#[salsa::tracked(returns(clone))]
pub fn module_interface(db: &dyn salsa::Database, node: ModuleNode) -> Arc<ModuleInterface> {
    check_module(db, node).interface.clone()
}

/// The AIR of the function that module `node` exports as `name`, or why there is none:
/// recomputed only when the module's check, the checks it reaches or the code generator's
/// options change.
#[salsa::tracked(returns(clone))]
pub fn function_air(
    db: &dyn salsa::Database,
    node: ModuleNode,
    name: String,
) -> Result<String, Unsupported> {
    let check = check_module(db, node);
    let Some(&Def::Func(id)) = check
        .scope()
        .exports
        .iter()
        .find(|(exported, _)| *exported == name)
        .map(|(_, def)| def)
    else {
        return Err(Unsupported(format!("`{name}` is not an exported function")));
    };
    // Code generation inlines the bodies of the functions it calls: it reads whole checks.
    let modules = by_index(
        reached(db, node)
            .into_iter()
            .map(|import| (import.index(db), check_module(db, import)))
            .chain([(node.index(db), check)]),
    );
    let program = Program {
        modules: modules.into_iter().map(Option::unwrap_or_default).collect(),
    };
    let options = node.settings(db).codegen(db);
    codegen::function(&program, id, &name, options).map(|script| air::print(&script))
}

/// The salsa storage.
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for Database {}

/// Files as an editor or a watcher sees them, with what was computed from them kept between
/// compilations.
///
/// A file is read from the underlying [`FileSource`] the first time a compilation needs it;
/// after that the workspace keeps its text until [`Workspace::set_file`] changes it.
pub struct Workspace<F: FileSource> {
    db: Database,
    files: RefCell<HashMap<PathBuf, SourceFile>>,
    /// The module graph's inputs, by module path.
    nodes: HashMap<PathBuf, ModuleNode>,
    settings: Settings,
    source: F,
}

impl<F: FileSource> Workspace<F> {
    /// A workspace over `source` (the disk, or files in memory).
    pub fn new(source: F) -> Self {
        Workspace::with_database(source, Database::default())
    }

    fn with_database(source: F, db: Database) -> Self {
        let settings = Settings::new(&db, sema::Options::default(), codegen::Options::default());
        Workspace {
            db,
            files: RefCell::new(HashMap::new()),
            nodes: HashMap::new(),
            settings,
            source,
        }
    }

    /// Sets the text of the file at `path`, as an editor does on each change.
    pub fn set_file(&mut self, path: &Path, text: String) {
        let key = self.source.canonical(path);
        let known = self.files.get_mut().get(&key).copied();
        match known {
            Some(file) if *file.text(&self.db) == text => {}
            Some(file) => {
                file.set_text(&mut self.db).to(text);
            }
            None => {
                let file = SourceFile::new(&self.db, text);
                self.files.get_mut().insert(key, file);
            }
        }
    }

    /// Checks `roots` and what they import (see [`compile::check`]), re-checking only the
    /// modules that an edit since the last check affects.
    pub fn check(&mut self, roots: &[PathBuf], options: &Options) -> Compilation {
        let project = crate::project::load(roots, &options.imports, &*self);
        let nodes = self.update_graph(&project, &options.sema);
        let modules = nodes
            .iter()
            .map(|node| check_module(&self.db, *node))
            .collect();
        Compilation {
            project,
            program: Program { modules },
            functions: Vec::new(),
        }
    }

    /// Compiles `roots` (see [`compile::compile`]): checks them as [`Workspace::check`] does,
    /// then generates the AIR of their exported functions, again only where what it depends
    /// on changed.
    pub fn compile(&mut self, roots: &[PathBuf], options: &Options) -> Compilation {
        let mut compilation = self.check(roots, options);
        if self.settings.codegen(&self.db) != &options.codegen {
            let settings = self.settings;
            settings
                .set_codegen(&mut self.db)
                .to(options.codegen.clone());
        }
        let db = &self.db;
        let nodes = &self.nodes;
        compile::generate_with(&mut compilation, |_, module, _, name| {
            function_air(db, nodes[&module.path], name.to_string())
        });
        compilation
    }

    /// Sets the inputs of the module graph to the loaded `project`, changing only what
    /// differs from the last load; gives the node of each module, by module index.
    fn update_graph(&mut self, project: &Project, options: &sema::Options) -> Vec<ModuleNode> {
        let settings = self.settings;
        if settings.sema(&self.db) != options {
            settings.set_sema(&mut self.db).to(options.clone());
        }
        let files: Vec<SourceFile> = project
            .modules
            .iter()
            .map(|m| self.file_for(&m.path, &m.text))
            .collect();
        let mut nodes = Vec::with_capacity(project.modules.len());
        for (module, file) in project.modules.iter().zip(&files) {
            let index = module.id.0;
            let node = match self.nodes.get(&module.path) {
                Some(&node) => {
                    if node.index(&self.db) != index {
                        node.set_index(&mut self.db).to(index);
                    }
                    if node.file(&self.db) != *file {
                        node.set_file(&mut self.db).to(*file);
                    }
                    node
                }
                None => {
                    let node = ModuleNode::new(&self.db, index, *file, Vec::new(), true, settings);
                    self.nodes.insert(module.path.clone(), node);
                    node
                }
            };
            nodes.push(node);
        }
        // An import is followed when the module it names comes earlier in the check order;
        // the others close a cycle.
        let mut position = vec![0; project.modules.len()];
        for (at, id) in project.order().into_iter().enumerate() {
            position[id.index()] = at;
        }
        for (module, node) in project.modules.iter().zip(&nodes) {
            let here = position[module.id.index()];
            let imports: Vec<(usize, ModuleNode)> = module
                .imports
                .iter()
                .filter(|(_, target)| position[target.index()] < here)
                .map(|&(item, target)| (item, nodes[target.index()]))
                .collect();
            if *node.imports(&self.db) != imports {
                node.set_imports(&mut self.db).to(imports);
            }
            let complete = compile::module_input(module).complete;
            if node.complete(&self.db) != complete {
                node.set_complete(&mut self.db).to(complete);
            }
        }
        nodes
    }

    /// The input that holds the file at `path` with `text`, made or updated as needed.
    fn file_for(&self, path: &Path, text: &str) -> SourceFile {
        match self.known(path) {
            Some(file) if file.text(&self.db) == text => file,
            // A file seen for the first time (or read with other text, which a workspace
            // only gives for files it does not hold): keep it from now on.
            _ => {
                let file = SourceFile::new(&self.db, text.to_string());
                self.files.borrow_mut().insert(path.to_path_buf(), file);
                file
            }
        }
    }

    fn known(&self, path: &Path) -> Option<SourceFile> {
        self.files.borrow().get(path).copied()
    }
}

impl<F: FileSource> FileSource for Workspace<F> {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        if let Some(file) = self.known(path) {
            return Ok(file.text(&self.db).clone().into_bytes());
        }
        self.source.read(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.known(path).is_some() || self.source.is_file(path)
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        self.source.canonical(path)
    }

    fn parse(&self, path: &Path, text: &str) -> Arc<Parsed> {
        parse(&self.db, self.file_for(path, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::MemoryFiles;

    const MAIN: &str =
        "aqua Main\n\nimport \"lib.aqua\"\n\nexport f\n\nfunc f() -> string:\n    <- greeting()\n";
    const LIB: &str = "aqua Lib declares *\n\nfunc greeting() -> string:\n    <- \"hi\"\n";

    fn workspace() -> (Workspace<MemoryFiles>, [PathBuf; 1]) {
        let files: MemoryFiles = [("main.aqua", MAIN), ("lib.aqua", LIB)]
            .into_iter()
            .collect();
        (Workspace::new(files), [PathBuf::from("main.aqua")])
    }

    /// The checked module of `path` in a compilation.
    fn checked<'c>(compilation: &'c Compilation, path: &str) -> &'c Arc<CheckedModule> {
        let module = compilation.module_at(Path::new(path)).expect("loaded");
        &compilation.program.modules[module.index()]
    }

    #[test]
    fn an_edit_is_seen_and_unchanged_files_are_not_parsed_again() {
        let (mut workspace, roots) = workspace();
        let first = workspace.compile(&roots, &Options::default());
        assert!(!first.has_errors());
        assert_eq!(first.functions.len(), 1);
        let second = workspace.check(&roots, &Options::default());
        assert!(
            Arc::ptr_eq(
                &first.project.modules[0].parsed,
                &second.project.modules[0].parsed
            ),
            "the unchanged file was parsed again"
        );
        workspace.set_file(
            Path::new("main.aqua"),
            MAIN.replace("<- greeting()", "<- 1 +"),
        );
        let edited = workspace.check(&roots, &Options::default());
        assert!(edited.has_errors(), "the edit was not seen");
        workspace.set_file(Path::new("main.aqua"), MAIN.to_string());
        assert!(!workspace.compile(&roots, &Options::default()).has_errors());
    }

    /// How many times `query` ran since the log was last read; clears the log.
    fn runs(log: &std::sync::Mutex<Vec<String>>, query: &str) -> usize {
        let mut log = log.lock().unwrap();
        let count = log
            .iter()
            .filter(|key| key.starts_with(&format!("{query}(")))
            .count();
        log.clear();
        count
    }

    /// A workspace whose database logs each query it runs.
    fn logged(files: MemoryFiles) -> (Workspace<MemoryFiles>, Arc<std::sync::Mutex<Vec<String>>>) {
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = log.clone();
        let storage = salsa::Storage::new(Some(Box::new(move |event: salsa::Event| {
            if let salsa::EventKind::WillExecute { database_key } = event.kind {
                sink.lock().unwrap().push(format!("{database_key:?}"));
            }
        })));
        (Workspace::with_database(files, Database { storage }), log)
    }

    #[test]
    fn air_is_generated_again_only_for_what_an_edit_reaches() {
        const OTHER: &str = "aqua Other\n\nexport g\n\nfunc g() -> u32:\n    <- 1\n";
        let files: MemoryFiles = [
            ("main.aqua", MAIN),
            ("lib.aqua", LIB),
            ("other.aqua", OTHER),
        ]
        .into_iter()
        .collect();
        let (mut workspace, log) = logged(files);
        let roots = [PathBuf::from("main.aqua"), PathBuf::from("other.aqua")];
        let first = workspace.compile(&roots, &Options::default());
        assert_eq!(first.functions.len(), 2);
        assert_eq!(runs(&log, "function_air"), 2);
        workspace.set_file(Path::new("other.aqua"), OTHER.replace("<- 1", "<- 2"));
        let edited = workspace.compile(&roots, &Options::default());
        assert_eq!(runs(&log, "function_air"), 1, "only `g` is generated again");
        let g = edited.functions.iter().find(|f| f.name == "g").unwrap();
        assert!(g.air.as_ref().unwrap().contains("[2]"), "{:?}", g.air);
        assert_eq!(first.functions[0].air, edited.functions[0].air);
        workspace.compile(&roots, &Options::default());
        assert_eq!(runs(&log, "check_module"), 0, "nothing changed");
    }

    #[test]
    fn an_edit_rechecks_the_module_and_its_importers_only() {
        let (mut workspace, roots) = workspace();
        let first = workspace.check(&roots, &Options::default());
        assert!(!first.has_errors());
        workspace.set_file(
            Path::new("main.aqua"),
            MAIN.replace("\"lib.aqua\"\n", "\"lib.aqua\"\n\n-- edited\n"),
        );
        let edited_main = workspace.check(&roots, &Options::default());
        assert!(!edited_main.has_errors());
        assert!(
            Arc::ptr_eq(
                checked(&first, "lib.aqua"),
                checked(&edited_main, "lib.aqua")
            ),
            "the imported module was checked again"
        );
        assert!(!Arc::ptr_eq(
            checked(&first, "main.aqua"),
            checked(&edited_main, "main.aqua")
        ));
        workspace.set_file(Path::new("lib.aqua"), LIB.replace("\"hi\"", "\"hello\""));
        let edited_body = workspace.check(&roots, &Options::default());
        assert!(!Arc::ptr_eq(
            checked(&edited_main, "lib.aqua"),
            checked(&edited_body, "lib.aqua")
        ));
        assert!(
            Arc::ptr_eq(
                checked(&edited_main, "main.aqua"),
                checked(&edited_body, "main.aqua")
            ),
            "the importer was checked again after an edit of a body"
        );
        workspace.set_file(
            Path::new("lib.aqua"),
            LIB.replace("greeting()", "greeting(name: string)"),
        );
        let edited_lib = workspace.check(&roots, &Options::default());
        assert!(
            !Arc::ptr_eq(
                checked(&edited_body, "main.aqua"),
                checked(&edited_lib, "main.aqua")
            ),
            "the importer was not checked again after an edit of a signature"
        );
        assert!(
            edited_lib.has_errors(),
            "`greeting()` lacks an argument now"
        );
        let options = Options {
            sema: sema::Options {
                constants: [("X".to_string(), "1".to_string())].into(),
            },
            ..Options::default()
        };
        let with_constants = workspace.check(&roots, &options);
        assert!(
            !Arc::ptr_eq(
                checked(&edited_lib, "lib.aqua"),
                checked(&with_constants, "lib.aqua")
            ),
            "new settings did not re-check"
        );
    }

    #[test]
    fn only_an_interface_change_rechecks_importers_and_sites_follow_moved_text() {
        const LIB: &str = "aqua Lib declares *\n\nfunc greeting() -> string:\n    <- \"hi\"\n\nfunc farewell() -> string:\n    <- \"bye\"\n";
        const MAIN: &str = "aqua Main\n\nimport \"lib.aqua\"\n\nexport f\n\nfunc f() -> string:\n    a <- greeting()\n    <- farewell()\n";
        let files: MemoryFiles = [("main.aqua", MAIN), ("lib.aqua", LIB)]
            .into_iter()
            .collect();
        let (mut workspace, log) = logged(files);
        let roots = [PathBuf::from("main.aqua")];
        let options = Options::default();
        // Where `main.aqua`'s use of `farewell` says it is defined.
        let farewell = |compilation: &Compilation| {
            let main = compilation.module_at(Path::new("main.aqua")).unwrap();
            let text = &compilation.project.modules[main.index()].text;
            let location = compilation
                .definition_at(main, text.rfind("farewell").unwrap())
                .expect("`farewell` has a definition");
            let lib = &compilation.project.modules[location.module.index()];
            (lib.path.clone(), location.start..location.end)
        };
        let first = workspace.check(&roots, &options);
        assert!(!first.has_errors());
        assert_eq!(runs(&log, "check_module"), 2);
        let at = LIB.find("farewell").unwrap();
        assert_eq!(farewell(&first), (PathBuf::from("lib.aqua"), at..at + 8));

        // A longer body moves `farewell` down, but changes nothing importers read.
        let longer = LIB.replace("\"hi\"", "\"hello, and welcome\"");
        workspace.set_file(Path::new("lib.aqua"), longer.clone());
        let body_edit = workspace.check(&roots, &options);
        assert!(!body_edit.has_errors());
        assert_eq!(
            runs(&log, "check_module"),
            1,
            "only `lib.aqua` is checked again"
        );
        let at = longer.find("farewell").unwrap();
        assert_eq!(
            farewell(&body_edit),
            (PathBuf::from("lib.aqua"), at..at + 8)
        );

        // A new result type reaches the importer, which is checked again and sees it.
        workspace.set_file(
            Path::new("lib.aqua"),
            longer.replace("farewell() -> string", "farewell() -> u32"),
        );
        let signature_edit = workspace.check(&roots, &options);
        assert_eq!(
            runs(&log, "check_module"),
            2,
            "the importer is checked again"
        );
        let main = signature_edit.module_at(Path::new("main.aqua")).unwrap();
        assert!(
            signature_edit
                .diagnostics()
                .iter()
                .any(|(module, d)| *module == main && d.code == crate::Code::TypeMismatch),
            "{:?}",
            signature_edit.diagnostics()
        );
    }
}
