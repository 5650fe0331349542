//! Where source files come from: the disk, or a map in memory (tests, an editor's unsaved
//! buffers), and the lexical path normalization both use.

use std::collections::HashMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::syntax::Parsed;

/// Read access to source files. The loader never touches the disk except through this.
pub trait FileSource {
    /// The file's bytes.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// Whether `path` names a file (not a directory) that can be read.
    fn is_file(&self, path: &Path) -> bool;

    /// The key a file is loaded under: two paths naming the same file give the same key.
    /// By default the path with `.` and `..` removed lexically.
    fn canonical(&self, path: &Path) -> PathBuf {
        normalize(path)
    }

    /// The syntax tree of the file at `path`, whose text is `text`. By default parsed afresh;
    /// a source that keeps trees (the incremental [`crate::db::Workspace`]) returns its own.
    fn parse(&self, path: &Path, text: &str) -> Arc<Parsed> {
        let _ = path;
        Arc::new(crate::syntax::parse(text))
    }
}

/// The file system. Files are identified by their canonical path (symbolic links resolved),
/// the way Node identifies packages in `node_modules`.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiskFiles;

impl FileSource for DiskFiles {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn canonical(&self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| normalize(path))
    }
}

/// Files held in memory, keyed by normalized path; directories exist implicitly.
#[derive(Clone, Debug, Default)]
pub struct MemoryFiles {
    files: HashMap<PathBuf, Vec<u8>>,
}

impl MemoryFiles {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the file at `path`.
    pub fn insert(&mut self, path: impl AsRef<Path>, contents: impl Into<Vec<u8>>) {
        self.files.insert(normalize(path.as_ref()), contents.into());
    }
}

impl<P: AsRef<Path>, C: Into<Vec<u8>>> FromIterator<(P, C)> for MemoryFiles {
    fn from_iter<I: IntoIterator<Item = (P, C)>>(iter: I) -> Self {
        let mut files = MemoryFiles::new();
        for (path, contents) in iter {
            files.insert(path, contents);
        }
        files
    }
}

impl FileSource for MemoryFiles {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.files.get(&normalize(path)).cloned().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no such file in the in-memory files",
            )
        })
    }

    fn is_file(&self, path: &Path) -> bool {
        self.files.contains_key(&normalize(path))
    }
}

/// `path` without `.` components and with each `..` applied to the component before it,
/// without consulting the file system. A `..` at the root stays at the root; leading `..` of
/// a relative path are kept.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    // How many normal components `out` ends with, which a `..` may remove.
    let mut removable = 0usize;
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if removable > 0 => {
                out.pop();
                removable -= 1;
            }
            Component::ParentDir if out.has_root() => {}
            Component::ParentDir => out.push(".."),
            Component::Normal(name) => {
                out.push(name);
                removable += 1;
            }
            Component::RootDir | Component::Prefix(_) => out.push(component.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_removes_dots_lexically() {
        let cases = [
            ("/p/./a/../b.aqua", "/p/b.aqua"),
            ("/../a", "/a"),
            ("a/../../b", "../b"),
            ("../../a/./b/..", "../../a"),
            ("./x.aqua", "x.aqua"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(Path::new(input)), Path::new(expected), "{input}");
        }
    }

    #[test]
    fn memory_files_find_files_by_any_spelling_of_their_path() {
        let files: MemoryFiles = [("/p/src/../a.aqua", "aqua A")].into_iter().collect();
        assert!(files.is_file(Path::new("/p/./a.aqua")));
        assert!(!files.is_file(Path::new("/p")));
        assert_eq!(files.read(Path::new("/p/a.aqua")).unwrap(), b"aqua A");
        let missing = files.read(Path::new("/p/b.aqua")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
