//! The Marine modules and blueprints stored on a peer, from which services are created.
//!
//! Files, in the peer's directory, named as a Fluence peer names them:
//!
//! - `modules/{cid}.wasm`: a module, named by its content id ([`cid::file_cid`]);
//! - `modules/{cid}_config.toml`: how it loads: its import name, whether its logger is on, the
//!   host binaries it is given;
//! - `blueprints/{id}_blueprint.toml`: a blueprint ([`Blueprint`]).
//!
//! A module's config is not the client's to choose: the peer derives it from what the module
//! imports (the logger; mounted binaries, which only modules listed as effectors get, with the
//! binaries the operator allowed for them). Directories are given per service when it is
//! created, never by a module's config.

pub mod blueprint;
pub mod cid;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use marine::{CompiledModule, ModuleInterface, Runtime};
use marine_it::{type_text, Notation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use blueprint::{Blueprint, BlueprintError};

use crate::sync::{lock, read, write};

/// Host binaries an effector module may run: import name to path on the host.
pub type Binaries = BTreeMap<String, PathBuf>;

/// Why a module or blueprint operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("module `{name}` is not a Marine module: {message}")]
    Invalid { name: String, message: String },
    #[error(
        "module `{name}` ({cid}) imports host binaries ({}), but it is not an effector this peer allows",
        binaries.join(", ")
    )]
    ForbiddenEffector {
        name: String,
        cid: String,
        binaries: Vec<String>,
    },
    #[error("effector module `{name}` ({cid}) imports host binary `{binary}`, which this peer does not allow it")]
    ForbiddenBinary {
        name: String,
        cid: String,
        binary: String,
    },
    #[error("no module with id `{0}` is stored on this peer")]
    NoModule(String),
    #[error("`{0}` is not a module id (a CID)")]
    BadCid(String),
    #[error("no blueprint with id `{0}` is stored on this peer")]
    NoBlueprint(String),
    #[error(transparent)]
    Blueprint(#[from] BlueprintError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
}

/// How a stored module loads (`{cid}_config.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConfig {
    /// The module's import name, under which other modules of a service reach it.
    pub name: String,
    pub file_name: String,
    pub logger_enabled: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mounted_binaries: Binaries,
}

/// The modules and blueprints of one peer (or worker).
pub struct ModuleStore {
    modules_dir: PathBuf,
    blueprints_dir: PathBuf,
    runtime: Runtime,
    /// Effector modules by CID, with the binaries each may run.
    effectors: HashMap<String, Binaries>,
    blueprints: RwLock<BTreeMap<String, Blueprint>>,
    /// Modules compiled since the peer started, by CID.
    compiled: Mutex<HashMap<String, CompiledModule>>,
}

impl ModuleStore {
    /// Opens the store under `dir` (made if missing) and reads its blueprints. A blueprint file
    /// that cannot be read is skipped with a warning: one bad file must not stop a peer.
    pub fn open(
        dir: &Path,
        runtime: Runtime,
        effectors: HashMap<String, Binaries>,
    ) -> Result<ModuleStore, ModuleError> {
        let modules_dir = dir.join("modules");
        let blueprints_dir = dir.join("blueprints");
        for dir in [&modules_dir, &blueprints_dir] {
            std::fs::create_dir_all(dir).map_err(|source| ModuleError::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let mut blueprints = BTreeMap::new();
        for path in files_ending(&blueprints_dir, BLUEPRINT_SUFFIX)? {
            match read_toml::<Blueprint>(&path) {
                Ok(blueprint) => {
                    blueprints.insert(blueprint.id.clone(), blueprint);
                }
                Err(e) => tracing::warn!("skipping a blueprint: {e}"),
            }
        }
        Ok(ModuleStore {
            modules_dir,
            blueprints_dir,
            runtime,
            effectors,
            blueprints: RwLock::new(blueprints),
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// Checks and stores a module under the import name `name`; gives its CID. Adding the same
    /// module again gives the same CID and changes only its name.
    pub fn add_module(&self, name: &str, bytes: &[u8]) -> Result<String, ModuleError> {
        let cid = cid::file_cid(bytes).to_string();
        let module = self
            .runtime
            .load_module(name, bytes)
            .map_err(|e| ModuleError::Invalid {
                name: name.to_owned(),
                message: e.to_string(),
            })?;
        let wanted = module.mounted_binary_imports();
        let mounted_binaries = if wanted.is_empty() {
            Binaries::new()
        } else {
            let allowed =
                self.effectors
                    .get(&cid)
                    .ok_or_else(|| ModuleError::ForbiddenEffector {
                        name: name.to_owned(),
                        cid: cid.clone(),
                        binaries: wanted.clone(),
                    })?;
            let mut mounted = Binaries::new();
            for binary in wanted {
                let path = allowed
                    .get(&binary)
                    .ok_or_else(|| ModuleError::ForbiddenBinary {
                        name: name.to_owned(),
                        cid: cid.clone(),
                        binary: binary.clone(),
                    })?;
                mounted.insert(binary, path.clone());
            }
            mounted
        };
        let config = StoredConfig {
            name: name.to_owned(),
            file_name: format!("{cid}.wasm"),
            logger_enabled: module.uses_logger(),
            mounted_binaries,
        };
        let wasm = self.modules_dir.join(&config.file_name);
        std::fs::write(&wasm, bytes).map_err(|source| ModuleError::Io { path: wasm, source })?;
        write_toml(&self.config_path(&cid), &config)?;
        lock(&self.compiled).insert(cid.clone(), module);
        Ok(cid)
    }

    /// Every stored module: `{name, hash, config}`. Unreadable ones are listed with the error.
    pub fn list_modules(&self) -> Result<Vec<Value>, ModuleError> {
        let mut modules = Vec::new();
        for path in files_ending(&self.modules_dir, ".wasm")? {
            let Some(cid) = file_stem(&path, ".wasm") else {
                continue;
            };
            modules.push(match self.config(&cid) {
                Ok(config) => json!({
                    "name": config.name,
                    "hash": cid,
                    "config": {
                        "name": config.name,
                        "logger_enabled": config.logger_enabled,
                        "mounted_binaries": (!config.mounted_binaries.is_empty())
                            .then_some(&config.mounted_binaries),
                    },
                }),
                Err(e) => json!({ "invalid_file_name": cid, "error": e.to_string() }),
            });
        }
        Ok(modules)
    }

    /// A module's interface, as Fluence peers describe it.
    pub fn module_interface(&self, cid: &str) -> Result<Value, ModuleError> {
        Ok(interface_json(self.module(cid)?.interface()))
    }

    /// Stores the blueprint of a DAG-JSON document; every module it lists must be stored.
    pub fn add_blueprint(&self, document: &str) -> Result<String, ModuleError> {
        let blueprint = Blueprint::from_document(document)?;
        for cid in &blueprint.dependencies {
            if !self.modules_dir.join(format!("{cid}.wasm")).is_file() {
                return Err(ModuleError::NoModule(cid.clone()));
            }
        }
        let path = self
            .blueprints_dir
            .join(format!("{}{BLUEPRINT_SUFFIX}", blueprint.id));
        write_toml(&path, &blueprint)?;
        let id = blueprint.id.clone();
        write(&self.blueprints).insert(id.clone(), blueprint);
        Ok(id)
    }

    /// Every stored blueprint, by id.
    pub fn blueprints(&self) -> Vec<Blueprint> {
        read(&self.blueprints).values().cloned().collect()
    }

    pub fn blueprint(&self, id: &str) -> Result<Blueprint, ModuleError> {
        read(&self.blueprints)
            .get(id)
            .cloned()
            .ok_or_else(|| ModuleError::NoBlueprint(id.to_owned()))
    }

    /// The modules of blueprint `id`, compiled, with their stored configs, facade last.
    pub fn blueprint_modules(
        &self,
        id: &str,
    ) -> Result<Vec<(CompiledModule, StoredConfig)>, ModuleError> {
        self.blueprint(id)?
            .dependencies
            .iter()
            .map(|cid| Ok((self.module(cid)?, self.config(cid)?)))
            .collect()
    }

    /// The compiled module `cid`, from memory, the runtime's cache or its file.
    fn module(&self, cid: &str) -> Result<CompiledModule, ModuleError> {
        if blueprint::parse_cid(cid).is_err() {
            return Err(ModuleError::BadCid(cid.to_owned()));
        }
        if let Some(module) = lock(&self.compiled).get(cid) {
            return Ok(module.clone());
        }
        let config = self.config(cid)?;
        let path = self.modules_dir.join(&config.file_name);
        let module = self
            .runtime
            .load_module_file(&config.name, &path)
            .map_err(|e| ModuleError::Corrupt {
                path,
                message: e.to_string(),
            })?;
        lock(&self.compiled).insert(cid.to_owned(), module.clone());
        Ok(module)
    }

    fn config(&self, cid: &str) -> Result<StoredConfig, ModuleError> {
        let path = self.config_path(cid);
        if !path.is_file() {
            return Err(ModuleError::NoModule(cid.to_owned()));
        }
        read_toml(&path)
    }

    fn config_path(&self, cid: &str) -> PathBuf {
        self.modules_dir.join(format!("{cid}_config.toml"))
    }
}

const BLUEPRINT_SUFFIX: &str = "_blueprint.toml";

/// `{function_signatures: [{name, arguments: [[name, type]], output_types}], record_types:
/// [{name, id, fields: [{name, ty}]}]}`, types named as in Aqua.
pub fn interface_json(interface: &ModuleInterface) -> Value {
    let text = |ty| type_text(ty, interface, Notation::Aqua);
    let functions: Vec<Value> = interface
        .functions
        .iter()
        .map(|function| {
            json!({
                "name": function.name,
                "arguments": function
                    .arguments
                    .iter()
                    .map(|argument| json!([argument.name, text(&argument.ty)]))
                    .collect::<Vec<_>>(),
                "output_types": function.output.iter().map(text).collect::<Vec<_>>(),
            })
        })
        .collect();
    let records: Vec<Value> = interface
        .records
        .iter()
        .map(|(id, record)| {
            json!({
                "name": record.name,
                "id": id,
                "fields": record
                    .fields
                    .iter()
                    .map(|field| json!({ "name": field.name, "ty": text(&field.ty) }))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "function_signatures": functions, "record_types": records })
}

/// The files of `dir` whose names end with `suffix`, sorted.
fn files_ending(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, ModuleError> {
    let io = |source| ModuleError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() && file_stem(&path, suffix).is_some() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The file name of `path` without `suffix`, if it ends so.
fn file_stem(path: &Path, suffix: &str) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(suffix)
        .filter(|stem| !stem.is_empty())
        .map(str::to_owned)
}

pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModuleError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModuleError::Io {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ModuleError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Writes `value` to `path` through a temporary file, so a crash never leaves half a file.
pub(crate) fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), ModuleError> {
    let text = toml::to_string(value).map_err(|e| ModuleError::Corrupt {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let temporary = path.with_extension("toml.new");
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|source| ModuleError::Io {
            path: path.to_owned(),
            source,
        })
}
