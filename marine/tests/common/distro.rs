//! Running the services that Fluence ships in its `*-distro` crates: the files are written into
//! a directory and loaded through their own Config.toml, as a node deploys them.

use std::path::Path;
use std::sync::OnceLock;

use marine::{load_config, CallParameters, Runtime, RuntimeConfig, Service, ServiceConfig};
use serde_json::Value;

/// One runtime per test binary, with a compile cache so each module compiles once (sqlite3
/// takes seconds).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<(tempfile::TempDir, Runtime)> = OnceLock::new();
    let (_, runtime) = RUNTIME.get_or_init(|| {
        let cache = tempfile::tempdir().unwrap();
        let config = RuntimeConfig {
            cache_dir: Some(cache.path().to_owned()),
        };
        (cache, Runtime::new(config).unwrap())
    });
    runtime
}

/// A service running from the files in its directory.
pub struct Deployed {
    /// Kept for its lifetime; some tests also look inside.
    #[allow(dead_code)]
    pub dir: tempfile::TempDir,
    pub service: Service,
}

/// Writes `files` (name and contents, Config.toml among them) into `dir` and starts the service
/// its Config.toml describes, in the surroundings a node gives it, with `mapped` (path in the
/// module, host directory) added to every module's mapped directories, as a node adds the
/// particle vault.
pub fn deploy(
    dir: tempfile::TempDir,
    files: &[(&str, &[u8])],
    mapped: &[(&str, &std::path::Path)],
) -> Deployed {
    write_files(dir.path(), files);
    let runtime = runtime();
    let mut config = node_config(runtime, dir.path());
    for module in &mut config.modules {
        for (guest, host) in mapped {
            module
                .mapped_dirs
                .push(((*guest).to_owned(), (*host).to_owned()));
        }
    }
    let service = Service::new(runtime, config).unwrap();
    Deployed { dir, service }
}

/// Writes `files` (name and contents) into `dir`.
pub fn write_files(dir: &Path, files: &[(&str, &[u8])]) {
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Reads the config of the service in `dir` (loading its modules into `runtime`), with the
/// directories a node maps.
pub fn node_config(runtime: &Runtime, dir: &Path) -> ServiceConfig {
    let mut config = load_config(runtime, &dir.join("Config.toml")).unwrap();
    // Modules keep files in `/tmp` without their configs mapping it: a node maps the service's
    // own directory there for every module (Nox: `inject_ephemeral_dirs`). Here it is `tmp` in
    // the service's directory, where the configs that do map `tmp` point too.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    for module in &mut config.modules {
        if !module.mapped_dirs.iter().any(|(guest, _)| guest == "tmp") {
            module.mapped_dirs.push(("/tmp".into(), tmp.clone()));
        }
    }
    config
}

impl Deployed {
    /// Calls `function`; a failure of the runtime (not a refusal the service reports in its
    /// result) fails the test.
    pub fn call(&self, function: &str, arguments: Value, parameters: CallParameters) -> Value {
        self.service
            .call_json(function, &arguments, parameters)
            .unwrap_or_else(|e| panic!("{function}: {e}"))
    }
}
