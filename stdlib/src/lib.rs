//! The Aqua standard library: the Aqua files that declare the builtin services of a Fluence peer,
//! bundled into the compiler so that programs written for Fluence's `@fluencelabs/aqua-lib`
//! compile without it installed.
//!
//! | import path | module | services |
//! |---|---|---|
//! | `@fluencelabs/aqua-lib/builtin.aqua` | `Builtin` | `Op`, `Peer`, `Kademlia`, `Srv`, `Dist`, `Sig`, `Stat`, `Debug`, `Console`, `Vault` |
//! | `@fluencelabs/aqua-lib/math.aqua` | `MathLib` | `Math`, `Compare`, `Array` |
//! | `@fluencelabs/aqua-lib/workers.aqua` | `WorkersLib` | `Worker` |
//! | `@fluencelabs/aqua-lib/subnet.aqua` | `SubnetLib` | `Subnet` |
//!
//! The files are our own, but they declare exactly the interface of aqua-lib
//! [`AQUA_LIB_VERSION`] (0.12.1): module names, service names and default ids, function names,
//! argument names and types, result types, and the names, fields and field order of the data
//! types and aliases. `tools/aqua-corpus/check-stdlib.mjs` checks this with the reference
//! compiler. The doc comments are ours and say what the services of a nox node (0.28) really do,
//! including where a node's answers differ from the declared types.
//!
//! A compiler resolves an import first relative to the importing file and then through the
//! user's import paths; only when neither provides the file does it fall back to [`get`], so a
//! project that installs its own aqua-lib keeps using it.
//!
//! ```
//! let builtin = aqua_stdlib::get("@fluencelabs/aqua-lib/builtin.aqua").unwrap();
//! assert!(builtin.source.contains("service Peer(\"peer\"):"));
//! assert!(aqua_stdlib::get("@fluencelabs/aqua-lib/binary.aqua").is_none());
//! ```

#![deny(missing_docs)]

/// The aqua-lib release whose interface the bundled files declare.
pub const AQUA_LIB_VERSION: &str = "0.12.1";

/// The directory part of every bundled file's import path.
///
/// Bundled files import each other only by relative paths of the form `./<name>.aqua`; joined
/// to this prefix they give the import path of another bundled file.
pub const IMPORT_PREFIX: &str = "@fluencelabs/aqua-lib/";

/// One bundled Aqua file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct File {
    /// The path Aqua code imports the file by: [`IMPORT_PREFIX`] and the file name.
    pub import_path: &'static str,
    /// The file's Aqua source text.
    pub source: &'static str,
}

/// Every bundled file, `builtin.aqua` first.
pub const FILES: &[File] = &[
    File {
        import_path: "@fluencelabs/aqua-lib/builtin.aqua",
        source: include_str!("../builtin.aqua"),
    },
    File {
        import_path: "@fluencelabs/aqua-lib/math.aqua",
        source: include_str!("../math.aqua"),
    },
    File {
        import_path: "@fluencelabs/aqua-lib/workers.aqua",
        source: include_str!("../workers.aqua"),
    },
    File {
        import_path: "@fluencelabs/aqua-lib/subnet.aqua",
        source: include_str!("../subnet.aqua"),
    },
];

/// The bundled file that `import_path` names exactly, as written in an `import` or `use`.
pub fn get(import_path: &str) -> Option<&'static File> {
    FILES.iter().find(|file| file.import_path == import_path)
}
