//! Service configs in TOML, as Marine's tools and the Fluence distro crates write them.
//!
//! ```toml
//! modules_dir = "artifacts/"        # where module files are, relative to this file
//! total_memory_limit = "10 MiB"     # for all modules together; "Infinity" (the default) for none
//!
//! [[module]]                        # in load order; the last one is the facade
//! name = "sqlite3"                  # its import namespace; the file is `<name>.wasm`
//! file_name = "sqlite3.wasm"        # optional
//! load_from = "elsewhere/x.wasm"    # optional: a file or directory instead of modules_dir
//! logger_enabled = true             # default true
//! logging_mask = 5                  # default: every target
//! [module.mounted_binaries]
//! curl = "/usr/bin/curl"
//! [module.wasi]
//! envs = { KEY = "value" }
//! mapped_dirs = { "storage" = "./data" }   # path in the module = host directory
//! ```
//!
//! Keys that older Marine versions read and later dropped (`mem_pages_count`, `max_heap_size`,
//! `preopened_files`) are accepted and ignored, so old configs load unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::service::{ModuleConfig, ServiceConfig};

#[derive(Debug, Deserialize)]
struct RawConfig {
    modules_dir: Option<PathBuf>,
    total_memory_limit: Option<toml::Value>,
    #[serde(rename = "module", default)]
    modules: Vec<RawModule>,
}

#[derive(Debug, Deserialize)]
struct RawModule {
    name: String,
    file_name: Option<String>,
    load_from: Option<PathBuf>,
    logger_enabled: Option<bool>,
    logging_mask: Option<i32>,
    #[serde(default)]
    mounted_binaries: BTreeMap<String, PathBuf>,
    wasi: Option<RawWasi>,
}

#[derive(Debug, Default, Deserialize)]
struct RawWasi {
    #[serde(default)]
    envs: BTreeMap<String, String>,
    #[serde(default)]
    mapped_dirs: BTreeMap<String, PathBuf>,
}

/// Reads a service config file, loads its modules and returns the service's config. Relative
/// paths are taken from the file's directory; mapped directories are created if missing.
pub fn load_config(runtime: &Runtime, path: &Path) -> Result<ServiceConfig> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let config_error = |message: String| Error::Config {
        path: path.to_owned(),
        message,
    };
    let raw: RawConfig = toml::from_str(&text).map_err(|e| config_error(e.to_string()))?;
    if raw.modules.is_empty() {
        return Err(config_error("it lists no `[[module]]`".into()));
    }
    let modules_dir = base.join(raw.modules_dir.unwrap_or_default());
    let total_memory_limit = match raw.total_memory_limit {
        None => None,
        Some(value) => memory_limit(&value).map_err(config_error)?,
    };

    let files: Vec<(&str, PathBuf)> = raw
        .modules
        .iter()
        .map(|raw_module| {
            let file_name = raw_module
                .file_name
                .clone()
                .unwrap_or_else(|| format!("{}.wasm", raw_module.name));
            let file = match &raw_module.load_from {
                Some(from) if base.join(from).is_dir() => base.join(from).join(&file_name),
                Some(from) => base.join(from),
                None => modules_dir.join(&file_name),
            };
            (raw_module.name.as_str(), file)
        })
        .collect();
    let loaded = runtime.load_module_files(&files)?;

    let mut modules = Vec::new();
    for (raw_module, module) in raw.modules.into_iter().zip(loaded) {
        let wasi = raw_module.wasi.unwrap_or_default();
        let mut mapped_dirs = Vec::new();
        for (guest, host) in wasi.mapped_dirs {
            let host = base.join(host);
            std::fs::create_dir_all(&host).map_err(|source| Error::Io {
                path: host.clone(),
                source,
            })?;
            mapped_dirs.push((guest, host));
        }
        modules.push(ModuleConfig {
            module,
            logger_enabled: raw_module.logger_enabled.unwrap_or(true),
            logging_mask: raw_module.logging_mask.unwrap_or(i32::MAX),
            envs: wasi.envs.into_iter().collect(),
            mapped_dirs,
            mounted_binaries: raw_module.mounted_binaries.into_iter().collect(),
        });
    }
    let mut config = ServiceConfig::new(modules);
    config.total_memory_limit = total_memory_limit;
    Ok(config)
}

/// `"Infinity"`, a size with a unit (`"10 MiB"`, `"64KB"`) or a number of bytes.
fn memory_limit(value: &toml::Value) -> std::result::Result<Option<u64>, String> {
    match value {
        toml::Value::Integer(n) if *n >= 0 => Ok(Some(*n as u64)),
        toml::Value::String(s) if s.trim() == "Infinity" => Ok(None),
        toml::Value::String(s) => s
            .trim()
            .parse::<bytesize::ByteSize>()
            .map(|size| Some(size.as_u64()))
            .map_err(|e| format!("total_memory_limit `{s}` is not a size: {e}")),
        other => Err(format!(
            "total_memory_limit must be a size like \"10 MiB\", not {other}"
        )),
    }
}
