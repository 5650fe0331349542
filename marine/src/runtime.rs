//! The runtime: one Wasm engine, shared by every module and service it loads, a cache of
//! compiled code on disk, and the clock that lets calls be stopped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::module::{load, module_error, CompiledModule};
use crate::service::StoreData;
use wasmtime::Linker;

/// How often the engine's epoch advances; a call's deadline is checked at this granularity.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// Settings of a [`Runtime`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Where compiled code is kept between runs, keyed by the module's hash and the engine's
    /// settings. `None` (the default) compiles every module on load.
    pub cache_dir: Option<PathBuf>,
}

/// A Marine runtime. Cheap to clone; clones share the engine and the cache.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: wasmtime::Engine,
    cache_dir: Option<PathBuf>,
    /// A hash of the engine's settings: compiled code is valid only for the same settings.
    settings_hash: u64,
    /// WASI's functions, defined once: each module's linker starts as a copy.
    pub(crate) wasi: Arc<OnceLock<Linker<StoreData>>>,
    _ticker: Arc<Ticker>,
}

/// Advances the engine's epoch on a thread until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Creates a runtime.
    pub fn new(config: RuntimeConfig) -> Result<Runtime> {
        let mut wasm = wasmtime::Config::new();
        wasm.epoch_interruption(true);
        // Deep recursion (AquaVM folding long arrays) needs more than the default stack.
        wasm.max_wasm_stack(2 << 20);
        let engine = wasmtime::Engine::new(&wasm).map_err(|e| Error::Link(format!("{e:#}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticking = (engine.weak(), stop.clone());
        std::thread::Builder::new()
            .name("marine-epoch".into())
            .spawn(move || {
                let (engine, stop) = ticking;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => return,
                    }
                }
            })
            .map_err(|e| Error::Link(format!("cannot start the epoch thread: {e}")))?;
        if let Some(dir) = &config.cache_dir {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let settings_hash = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut hasher);
            hasher.finish()
        };
        Ok(Runtime {
            engine,
            cache_dir: config.cache_dir,
            settings_hash,
            wasi: Arc::default(),
            _ticker: Arc::new(Ticker { stop }),
        })
    }

    /// Loads a module: checks its interface-types and SDK sections and its code against them,
    /// and compiles it (or takes it from the cache). `name` is how other modules of a service
    /// import it.
    pub fn load_module(&self, name: &str, bytes: &[u8]) -> Result<CompiledModule> {
        load(self, name, bytes)
    }

    /// Loads a module from a file.
    pub fn load_module_file(&self, name: &str, path: &Path) -> Result<CompiledModule> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        self.load_module(name, &bytes)
    }

    /// Loads the modules in `files` (name and path), each on its own thread when there are
    /// several: a service's start from the cache waits for its largest module rather than for
    /// all of them in turn. Errors are reported in the order of `files`.
    pub fn load_module_files<P: AsRef<Path> + Sync>(
        &self,
        files: &[(&str, P)],
    ) -> Result<Vec<CompiledModule>> {
        if let [(name, path)] = files {
            return Ok(vec![self.load_module_file(name, path.as_ref())?]);
        }
        std::thread::scope(|scope| {
            let loading: Vec<_> = files
                .iter()
                .map(|(name, path)| scope.spawn(move || self.load_module_file(name, path.as_ref())))
                .collect();
            loading
                .into_iter()
                .map(|thread| match thread.join() {
                    Ok(loaded) => loaded,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        })
    }

    pub(crate) fn compile(&self, name: &str, bytes: &[u8]) -> Result<wasmtime::Module> {
        let compile = || {
            wasmtime::Module::new(&self.engine, bytes)
                .map_err(|e| module_error(name, format!("it does not compile: {e:#}")))
        };
        let Some(dir) = &self.cache_dir else {
            return compile();
        };
        let mut key = blake3::Hasher::new();
        key.update(bytes);
        key.update(&self.settings_hash.to_le_bytes());
        let path = dir.join(format!("{}.cwasm", key.finalize().to_hex()));
        if path.exists() {
            // SAFETY: the file was written by `serialize` below, into a directory this
            // runtime owns, for this engine's settings (they are part of the file name).
            // A file that fails to load is compiled again and replaced.
            if let Ok(module) = unsafe { wasmtime::Module::deserialize_file(&self.engine, &path) } {
                return Ok(module);
            }
        }
        let module = compile()?;
        if let Ok(serialized) = module.serialize() {
            // Written under a temporary name first so that a reader never sees half a file.
            let temporary = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&temporary, serialized).is_ok() {
                let _ = std::fs::rename(&temporary, &path);
            }
        }
        Ok(module)
    }
}
