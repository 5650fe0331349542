//! Reading a Marine module's custom sections into a checked interface, without compiling its
//! code: inspecting a module needs no Wasm engine.

use std::path::{Path, PathBuf};

use marine::ModuleInterface;
use marine_it::Interfaces;

use crate::{Error, Result};

/// A module's description, as its sections give it.
#[derive(Debug)]
pub struct Module {
    pub path: PathBuf,
    pub sdk_version: String,
    /// The section as written, for its text form.
    pub interfaces: Interfaces,
    /// The section checked and resolved.
    pub interface: ModuleInterface,
}

impl Module {
    /// Reads the file at `path` and checks that it is a Marine module.
    pub fn read(path: &Path) -> Result<Module> {
        let fail = |message: String| Error::File {
            path: path.to_owned(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
        Module::from_bytes(path, &bytes).map_err(fail)
    }

    fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Module, String> {
        let description = marine::describe(bytes)?;
        Ok(Module {
            path: path.to_owned(),
            sdk_version: description.sdk_version,
            interfaces: description.interfaces,
            interface: description.interface,
        })
    }
}
