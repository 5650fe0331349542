//! The incremental database: a [`Workspace`] keeps every file it has seen as a salsa input
//! and its syntax tree as a salsa query, so that after an edit only the edited file is
//! parsed again.
//!
//! Parsing is most of a compilation's time (about two thirds on a 5,000-line project); the
//! checks and the code generation after it run again in full on each compilation for now.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::compile::{self, Compilation, Options};
use crate::project::FileSource;
use crate::syntax::{self, Parsed};

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

/// The salsa storage.
#[salsa::db]
#[derive(Clone, Default)]
pub struct Database {
    storage: salsa::Storage<Self>,
}

#[salsa::db]
impl salsa::Database for Database {}

/// Files as an editor or a watcher sees them, with their syntax trees kept between
/// compilations.
///
/// A file is read from the underlying [`FileSource`] the first time a compilation needs it;
/// after that the workspace keeps its text until [`Workspace::set_file`] changes it.
pub struct Workspace<F: FileSource> {
    db: Database,
    files: RefCell<HashMap<PathBuf, SourceFile>>,
    source: F,
}

impl<F: FileSource> Workspace<F> {
    /// A workspace over `source` (the disk, or files in memory).
    pub fn new(source: F) -> Self {
        Workspace {
            db: Database::default(),
            files: RefCell::new(HashMap::new()),
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
                use salsa::Setter;
                file.set_text(&mut self.db).to(text);
            }
            None => {
                let file = SourceFile::new(&self.db, text);
                self.files.get_mut().insert(key, file);
            }
        }
    }

    /// Checks `roots` (see [`compile::check`]).
    pub fn check(&self, roots: &[PathBuf], options: &Options) -> Compilation {
        compile::check(roots, self, options)
    }

    /// Compiles `roots` (see [`compile::compile`]).
    pub fn compile(&self, roots: &[PathBuf], options: &Options) -> Compilation {
        compile::compile(roots, self, options)
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
        let file = match self.known(path) {
            Some(file) if file.text(&self.db) == text => file,
            // A file seen for the first time (or read with other text, which a workspace
            // only gives for files it does not hold): keep it from now on.
            _ => {
                let file = SourceFile::new(&self.db, text.to_string());
                self.files.borrow_mut().insert(path.to_path_buf(), file);
                file
            }
        };
        parse(&self.db, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::MemoryFiles;

    const MAIN: &str = "aqua Main\n\nexport f\n\nfunc f() -> string:\n    <- \"a\"\n";

    #[test]
    fn an_edit_is_seen_and_unchanged_files_are_not_parsed_again() {
        let files: MemoryFiles = [("main.aqua", MAIN)].into_iter().collect();
        let mut workspace = Workspace::new(files);
        let roots = [PathBuf::from("main.aqua")];
        let first = workspace.compile(&roots, &Options::default());
        assert!(!first.has_errors());
        let second = workspace.check(&roots, &Options::default());
        assert!(
            Arc::ptr_eq(
                &first.project.modules[0].parsed,
                &second.project.modules[0].parsed
            ),
            "the unchanged file was parsed again"
        );
        workspace.set_file(Path::new("main.aqua"), MAIN.replace("<- \"a\"", "<- 1 +"));
        let edited = workspace.check(&roots, &Options::default());
        assert!(edited.has_errors(), "the edit was not seen");
        workspace.set_file(Path::new("main.aqua"), MAIN.to_string());
        assert!(!workspace.compile(&roots, &Options::default()).has_errors());
    }
}
