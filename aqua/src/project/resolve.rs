//! What an import path names: the search order over the importing file's folder, the user's
//! import directories, `node_modules` folders and the bundled standard library.

use std::path::{Path, PathBuf};

use super::files::{normalize, FileSource};

/// How imports are searched beyond the importing file's folder.
#[derive(Clone, Debug, Default)]
pub struct ImportConfig {
    /// Directories searched in order after the importing file's folder (the `-I` options).
    pub import_dirs: Vec<PathBuf>,
}

/// The folder that bundled files appear under in diagnostics; no real folder has this name.
pub const BUNDLED_ROOT: &str = "<bundled>";

/// A file an import names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A file found through a [`FileSource`].
    File(PathBuf),
    /// A file of the bundled standard library (`aqua_stdlib`).
    Bundled(&'static aqua_stdlib::File),
}

impl Resolved {
    /// The path shown for the file: the file's path, or [`BUNDLED_ROOT`] followed by the
    /// bundled file's import path.
    pub fn path(&self) -> PathBuf {
        match self {
            Resolved::File(path) => path.clone(),
            Resolved::Bundled(file) => Path::new(BUNDLED_ROOT).join(file.import_path),
        }
    }
}

/// Resolves `import`, written in the file `from`.
///
/// For a file on a [`FileSource`], the candidates are, in order: the import relative to the
/// importing file's folder; relative to each of `config.import_dirs`; and relative to the
/// `node_modules` folder of the importing file's folder and of each of its ancestors, nearest
/// first (skipping folders that are themselves `node_modules`, as Node does), so that a package
/// sees its own nested dependencies before the project's. The first candidate that is a file
/// wins. Only when none is does an import path of the bundled standard library
/// (`@fluencelabs/aqua-lib/builtin.aqua`, ...) name the bundled file: an installed aqua-lib
/// takes precedence.
///
/// A bundled file resolves its imports within the bundle.
///
/// On failure, returns every path tried, in order.
pub fn resolve(
    from: &Resolved,
    import: &str,
    config: &ImportConfig,
    files: &dyn FileSource,
) -> Result<Resolved, Vec<PathBuf>> {
    let tried = match from {
        Resolved::File(path) => {
            let candidates = candidates(path, import, config);
            if let Some(found) = candidates.iter().find(|c| files.is_file(c)) {
                return Ok(Resolved::File(found.clone()));
            }
            candidates
        }
        Resolved::Bundled(file) => {
            let within = bundle_path(file.import_path, import);
            if let Some(found) = aqua_stdlib::get(&within) {
                return Ok(Resolved::Bundled(found));
            }
            vec![Path::new(BUNDLED_ROOT).join(within)]
        }
    };
    aqua_stdlib::get(import).map(Resolved::Bundled).ok_or(tried)
}

/// The paths an import of `import` in the file `from` may name, in search order, normalized,
/// each once.
fn candidates(from: &Path, import: &str, config: &ImportConfig) -> Vec<PathBuf> {
    let folder = from.parent().unwrap_or(Path::new(""));
    let node_modules = folder
        .ancestors()
        .filter(|dir| dir.file_name().is_none_or(|name| name != "node_modules"))
        .map(|dir| dir.join("node_modules"));
    let mut out: Vec<PathBuf> = Vec::new();
    for base in std::iter::once(folder.to_path_buf())
        .chain(config.import_dirs.iter().cloned())
        .chain(node_modules)
    {
        let candidate = normalize(&base.join(import));
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// The import path within the bundle that `import`, written in the bundled file `from`, names.
fn bundle_path(from: &str, import: &str) -> String {
    let folder = from.rsplit_once('/').map_or("", |(folder, _)| folder);
    let mut parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    for part in import.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_files_import_each_other_relatively() {
        assert_eq!(
            bundle_path("@fluencelabs/aqua-lib/workers.aqua", "./builtin.aqua"),
            "@fluencelabs/aqua-lib/builtin.aqua"
        );
        assert_eq!(
            bundle_path("@fluencelabs/aqua-lib/workers.aqua", "../x/../y.aqua"),
            "@fluencelabs/y.aqua"
        );
    }
}
