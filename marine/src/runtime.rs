//! The runtime: one Wasm engine, shared by every module and service it loads, a cache of
//! compiled code on disk, and the clock that lets calls be stopped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        load(self, name, bytes, None)
    }

    /// Loads a module from a file. With a cache, the file's content hash is remembered there
    /// under the file's identity (path, inode, size and change times), so a later load of the
    /// unchanged file finds its compiled code without hashing it again.
    pub fn load_module_file(&self, name: &str, path: &Path) -> Result<CompiledModule> {
        let reading = SystemTime::now();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        // The identity is read after the content: if the file has not changed since before
        // the read began, the hash remembered for this identity is the hash of these bytes.
        let content_hash = self
            .cache_dir
            .as_deref()
            .and_then(|dir| FileIdentity::settled_before(dir, path, reading))
            .map(|identity| {
                identity.content_hash().unwrap_or_else(|| {
                    let hash = blake3::hash(&bytes);
                    identity.remember(hash);
                    hash
                })
            });
        load(self, name, &bytes, content_hash)
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

    /// Compiles `bytes`, or takes their compiled code from the cache; `content_hash` is
    /// `blake3(bytes)` when the caller knows it already.
    pub(crate) fn compile(
        &self,
        name: &str,
        bytes: &[u8],
        content_hash: Option<blake3::Hash>,
    ) -> Result<wasmtime::Module> {
        let compile = || {
            wasmtime::Module::new(&self.engine, bytes)
                .map_err(|e| module_error(name, format!("it does not compile: {e:#}")))
        };
        let Some(dir) = &self.cache_dir else {
            return compile();
        };
        let content_hash = content_hash.unwrap_or_else(|| blake3::hash(bytes));
        let mut key = blake3::Hasher::new();
        key.update(content_hash.as_bytes());
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
            write_whole(&path, &serialized);
        }
        Ok(module)
    }
}

/// Writes a cache file under a temporary name first, so that a reader never sees half of it.
/// The cache is an optimization: a file that cannot be written is simply not cached.
fn write_whole(path: &Path, contents: &[u8]) {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&temporary, contents).is_ok() {
        let _ = std::fs::rename(&temporary, path);
    }
}

/// Where the cache remembers the content hash of a module file in one state: its name is a
/// hash of the file's path, device, inode, size and modification and change times. Any write
/// to the file changes its change time, which cannot be set back, so a changed file never
/// finds the hash of its earlier content.
struct FileIdentity {
    entry: PathBuf,
}

/// How long before a read a file must have last changed for its identity to be trusted: more
/// than the coarsest timestamp granularity of common file systems, so that a change during the
/// read cannot keep the time of the change before it.
const SETTLED: Duration = Duration::from_secs(3);

impl FileIdentity {
    /// The identity of the file at `path`, if it last changed at least [`SETTLED`] before
    /// `reading`; a file changed since might be changing still.
    #[cfg(unix)]
    fn settled_before(cache_dir: &Path, path: &Path, reading: SystemTime) -> Option<FileIdentity> {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::MetadataExt;

        let meta = std::fs::metadata(path).ok()?;
        let changed = UNIX_EPOCH
            + Duration::new(
                u64::try_from(meta.ctime()).ok()?,
                u32::try_from(meta.ctime_nsec()).ok()?,
            );
        if changed + SETTLED > reading {
            return None;
        }
        let mut identity = blake3::Hasher::new();
        identity.update(path.as_os_str().as_bytes());
        for number in [
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
            meta.ctime() as u64,
            meta.ctime_nsec() as u64,
        ] {
            identity.update(&number.to_le_bytes());
        }
        Some(FileIdentity {
            entry: cache_dir.join(format!("{}.source", identity.finalize().to_hex())),
        })
    }

    #[cfg(not(unix))]
    fn settled_before(_: &Path, _: &Path, _: SystemTime) -> Option<FileIdentity> {
        None
    }

    fn content_hash(&self) -> Option<blake3::Hash> {
        let bytes: [u8; 32] = std::fs::read(&self.entry).ok()?.try_into().ok()?;
        Some(blake3::Hash::from_bytes(bytes))
    }

    fn remember(&self, content_hash: blake3::Hash) {
        write_whole(&self.entry, content_hash.as_bytes());
    }
}
