//! Marine services on a peer: created from stored blueprints (`srv.create`), called by
//! particles, measured (`stat`), and kept across restarts.
//!
//! Each service has two directories of its own, given to every module as Fluence peers give
//! them: `/storage` (kept while the service exists) and `/tmp` (its ephemeral files), each with
//! a `module` subdirectory per module, plus `/tmp/vault`, the peer's particle vaults, where a
//! call finds the files of its particle (see [`Vault`]). Modules see nothing else of the host.
//!
//! A service's calls run one at a time, on a blocking thread, so a long call holds neither the
//! particle engine nor other services. Its description (`{id}_service.toml`: blueprint, owner,
//! aliases) is written when it is created or its aliases change, and [`Apps::restore`] brings
//! every described service back when the peer starts again.

mod stats;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use marine::{
    CallParameters, ModuleConfig, ParticleParameters, Runtime, SecurityTetraplet, ServiceConfig,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::builtins::Vault;
use crate::engine::now_ms;
use crate::identity::PeerId;
use crate::modules::{interface_json, read_toml, write_toml, ModuleError, ModuleStore};
use crate::service::{
    Call, Outcome, ParticleParams, Reply, Service, ServiceRegistry, WeakServiceRegistry,
};
use crate::sync::{lock, read, write};
use stats::{CallRecord, ServiceStats};

/// Where services see the peer's particle vaults.
const VAULT_DIR: &str = "/tmp/vault";

/// How the Marine services of a peer run.
#[derive(Debug, Clone)]
pub struct AppsConfig {
    /// The peer's directory for modules, blueprints and services (made if missing).
    pub dir: PathBuf,
    /// The most linear memory one service may hold, in bytes; `None` for no limit.
    pub service_memory_limit: Option<u64>,
    /// The longest one call may run before it is stopped.
    pub call_timeout: Duration,
    /// Effector modules by CID, with the host binaries each may run.
    pub effectors: HashMap<String, crate::modules::Binaries>,
}

impl AppsConfig {
    /// Services in `dir`, 1 GiB each at most, calls stopped after a minute, no effectors.
    pub fn new(dir: impl Into<PathBuf>) -> AppsConfig {
        AppsConfig {
            dir: dir.into(),
            service_memory_limit: Some(1 << 30),
            call_timeout: Duration::from_secs(60),
            effectors: HashMap::new(),
        }
    }
}

/// Why a service could not be created, restored or described.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Module(#[from] ModuleError),
    #[error("cannot instantiate blueprint `{blueprint}`: {source}")]
    Instantiate {
        blueprint: String,
        source: marine::Error,
    },
    #[error("service `{0}` is not a Marine service of this peer")]
    NotMarine(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Registry(#[from] crate::service::RegistryError),
    #[error("the peer's service registry is gone")]
    RegistryGone,
    #[error("restoring the services failed unexpectedly")]
    RestorePanicked,
}

/// What is kept of a service between runs (`{id}_service.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PersistedService {
    service_id: String,
    blueprint_id: String,
    owner_id: String,
    #[serde(default)]
    aliases: Vec<String>,
}

/// The Marine services of one peer, and the modules they are made of.
pub struct Apps {
    store: ModuleStore,
    runtime: Runtime,
    config: AppsConfig,
    services_dir: PathBuf,
    vault: Vault,
    host_id: PeerId,
    registry: WeakServiceRegistry,
    running: RwLock<HashMap<String, Arc<AppService>>>,
}

impl Apps {
    /// Opens the peer's store of modules and services. Services are not started: see
    /// [`Apps::restore`].
    pub fn open(
        config: AppsConfig,
        runtime: Runtime,
        registry: &ServiceRegistry,
        vault: Vault,
        host_id: PeerId,
    ) -> Result<Apps, AppError> {
        let store = ModuleStore::open(&config.dir, runtime.clone(), config.effectors.clone())?;
        let services_dir = config.dir.join("services");
        create_dir(&services_dir)?;
        Ok(Apps {
            store,
            runtime,
            config,
            services_dir,
            vault,
            host_id,
            registry: registry.downgrade(),
            running: RwLock::new(HashMap::new()),
        })
    }

    /// The stored modules and blueprints.
    pub fn modules(&self) -> &ModuleStore {
        &self.store
    }

    /// Creates a service of blueprint `blueprint_id`, owned by `owner`, registers it and
    /// gives its id.
    pub fn create(&self, blueprint_id: &str, owner: PeerId) -> Result<String, AppError> {
        let registry = self.registry()?;
        let id = uuid::Uuid::new_v4().to_string();
        let service = self.instantiate(&id, blueprint_id, owner)?;
        registry.register(id.clone(), Arc::new(Handle(service.clone())), owner)?;
        write(&self.running).insert(id.clone(), service);
        if let Err(e) = self.persist(&id) {
            // A service that would not come back after a restart is not created.
            let _ = registry.remove(&id);
            self.forget(&id);
            return Err(e);
        }
        Ok(id)
    }

    /// Starts every service described in the peer's directory, with its id, owner and
    /// aliases; gives the ones that could not start, with why. Each is logged.
    ///
    /// Instantiating runs module code through WASI, which must not happen on a thread that
    /// drives async tasks: the work runs on a thread of its own, whatever the caller's.
    pub fn restore(&self) -> Vec<(String, AppError)> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.restore_all())
                .join()
                .unwrap_or_else(|_| vec![(String::new(), AppError::RestorePanicked)])
        })
    }

    fn restore_all(&self) -> Vec<(String, AppError)> {
        let registry = match self.registry() {
            Ok(registry) => registry,
            Err(e) => return vec![(String::new(), e)],
        };
        let paths = match std::fs::read_dir(&self.services_dir) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.to_string_lossy().ends_with(SERVICE_SUFFIX)),
            Err(source) => {
                let path = self.services_dir.clone();
                return vec![(String::new(), AppError::Io { path, source })];
            }
        };
        let mut failed = Vec::new();
        for path in paths {
            let name = path.display().to_string();
            if let Err(e) = self.restore_one(&registry, &path) {
                tracing::warn!("cannot restore the service of {name}: {e}");
                failed.push((name, e));
            }
        }
        failed
    }

    fn restore_one(&self, registry: &ServiceRegistry, path: &Path) -> Result<(), AppError> {
        let persisted: PersistedService = read_toml(path)?;
        let owner = persisted.owner_id.parse::<PeerId>().map_err(|e| {
            AppError::Module(ModuleError::Corrupt {
                path: path.to_owned(),
                message: format!("owner_id: {e}"),
            })
        })?;
        let id = persisted.service_id;
        let service = self.instantiate(&id, &persisted.blueprint_id, owner)?;
        registry.register(id.clone(), Arc::new(Handle(service.clone())), owner)?;
        for alias in &persisted.aliases {
            registry.add_alias(alias, &id)?;
        }
        write(&self.running).insert(id, service);
        Ok(())
    }

    /// Writes service `id`'s description as it is now (after its aliases changed). A service
    /// that is not a Marine service of this peer is left alone.
    pub fn persist(&self, id: &str) -> Result<(), AppError> {
        let Some(service) = self.service(id) else {
            return Ok(());
        };
        let registered = self.registry()?.info(id)?;
        let persisted = PersistedService {
            service_id: id.to_owned(),
            blueprint_id: service.blueprint_id.clone(),
            owner_id: registered.owner.to_base58(),
            aliases: registered.aliases,
        };
        Ok(write_toml(&self.description_path(id), &persisted)?)
    }

    /// Drops what is kept of service `id` after it was removed from the registry: its
    /// description and its directories.
    pub fn forget(&self, id: &str) {
        if write(&self.running).remove(id).is_none() {
            return;
        }
        let _ = std::fs::remove_file(self.description_path(id));
        for dir in [self.persistent_dir(id), self.ephemeral_dir(id)] {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                tracing::warn!("cannot remove {}: {e}", dir.display());
            }
        }
    }

    /// The blueprint service `id` was made of, if it is a Marine service.
    pub fn blueprint_of(&self, id: &str) -> Option<String> {
        self.service(id).map(|service| service.blueprint_id.clone())
    }

    /// The interface of service `id`'s facade.
    pub fn interface(&self, id: &str) -> Result<Value, AppError> {
        let service = self.marine(id)?;
        let marine = lock(&service.marine);
        Ok(interface_json(marine.interface()))
    }

    /// The memory of each module of service `id`: `[{name, memory_size_bytes,
    /// max_memory_size_bytes}]`.
    pub fn memory(&self, id: &str) -> Result<Value, AppError> {
        let service = self.marine(id)?;
        let marine = lock(&service.marine);
        // A module can never hold more than a 32-bit memory, whatever the service's limit.
        let most = marine.memory_limit().unwrap_or(u64::MAX).min(1 << 32);
        Ok(Value::from_iter(marine.memory_by_module().into_iter().map(
            |(name, bytes)| {
                json!({ "name": name, "memory_size_bytes": bytes, "max_memory_size_bytes": most })
            },
        )))
    }

    /// The call statistics of service `id`.
    pub fn stats(&self, id: &str) -> Result<Value, AppError> {
        let service = self.marine(id)?;
        let stats = lock(&service.stats);
        Ok(stats.to_json(id))
    }

    fn marine(&self, id: &str) -> Result<Arc<AppService>, AppError> {
        self.service(id)
            .ok_or_else(|| AppError::NotMarine(id.to_owned()))
    }

    fn service(&self, id: &str) -> Option<Arc<AppService>> {
        read(&self.running).get(id).cloned()
    }

    fn registry(&self) -> Result<ServiceRegistry, AppError> {
        self.registry.upgrade().ok_or(AppError::RegistryGone)
    }

    fn instantiate(
        &self,
        id: &str,
        blueprint_id: &str,
        owner: PeerId,
    ) -> Result<Arc<AppService>, AppError> {
        let persistent = self.persistent_dir(id);
        let ephemeral = self.ephemeral_dir(id);
        let vaults = self.vault.peer_dir();
        create_dir(&vaults)?;
        let mut modules = Vec::new();
        for (module, stored) in self.store.blueprint_modules(blueprint_id)? {
            let own_persistent = persistent.join(&stored.name);
            let own_ephemeral = ephemeral.join(&stored.name);
            create_dir(&own_persistent)?;
            create_dir(&own_ephemeral)?;
            let mut config = ModuleConfig::new(module);
            config.logger_enabled = stored.logger_enabled;
            config.mounted_binaries = stored.mounted_binaries.into_iter().collect();
            config.mapped_dirs = vec![
                ("/storage".into(), persistent.clone()),
                ("/storage/module".into(), own_persistent),
                ("/tmp".into(), ephemeral.clone()),
                ("/tmp/module".into(), own_ephemeral),
                (VAULT_DIR.into(), vaults.clone()),
            ];
            modules.push(config);
        }
        let mut config = ServiceConfig::new(modules);
        config.total_memory_limit = self.config.service_memory_limit;
        config.call_timeout = self.config.call_timeout;
        let marine = marine::Service::new(&self.runtime, config).map_err(|source| {
            AppError::Instantiate {
                blueprint: blueprint_id.to_owned(),
                source,
            }
        })?;
        let startup = marine.startup();
        tracing::debug!(
            service = id,
            blueprint = blueprint_id,
            instantiation = ?startup.instantiation,
            start_code = ?startup.start_code,
            "service started"
        );
        Ok(Arc::new(AppService {
            id: id.to_owned(),
            blueprint_id: blueprint_id.to_owned(),
            owner,
            host_id: self.host_id.to_base58(),
            vault: self.vault.clone(),
            marine: Mutex::new(marine),
            stats: Mutex::new(ServiceStats::default()),
        }))
    }

    fn description_path(&self, id: &str) -> PathBuf {
        self.services_dir.join(format!("{id}{SERVICE_SUFFIX}"))
    }

    fn persistent_dir(&self, id: &str) -> PathBuf {
        self.services_dir.join("persistent").join(id)
    }

    fn ephemeral_dir(&self, id: &str) -> PathBuf {
        self.services_dir.join("ephemeral").join(id)
    }
}

const SERVICE_SUFFIX: &str = "_service.toml";

fn create_dir(path: &Path) -> Result<(), AppError> {
    std::fs::create_dir_all(path).map_err(|source| AppError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A running Marine service.
struct AppService {
    id: String,
    blueprint_id: String,
    owner: PeerId,
    host_id: String,
    vault: Vault,
    /// Held for the whole of a call: a service's calls run one at a time.
    marine: Mutex<marine::Service>,
    stats: Mutex<ServiceStats>,
}

impl AppService {
    fn call_parameters(&self, call: &Call, particle: &ParticleParams) -> CallParameters {
        CallParameters {
            particle: ParticleParameters {
                id: particle.id.clone(),
                init_peer_id: particle.init_peer_id.to_base58(),
                timestamp: particle.timestamp,
                ttl: particle.ttl,
                script: String::new(),
                signature: particle.signature.clone(),
                token: self.vault.token(particle),
            },
            service_id: self.id.clone(),
            service_creator_peer_id: self.owner.to_base58(),
            host_id: self.host_id.clone(),
            worker_id: self.host_id.clone(),
            tetraplets: call
                .tetraplets
                .iter()
                .map(|argument| {
                    argument
                        .iter()
                        .map(|t| SecurityTetraplet {
                            peer_pk: t.peer_pk.to_string(),
                            service_id: t.service_id.to_string(),
                            function_name: t.function_name.to_string(),
                            lens: t.lens.to_string(),
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// Runs one call; blocks for as long as the module runs.
    fn run(&self, function: &str, arguments: Value, parameters: CallParameters) -> Outcome {
        let marine = lock(&self.marine);
        let returns = marine
            .interface()
            .function(function)
            .map(|f| f.output.is_some());
        let memory_before = marine.memory_used();
        let started = Instant::now();
        let result = marine.call_json(function, &arguments, parameters);
        let record = CallRecord {
            succeeded: result.is_ok(),
            seconds: started.elapsed().as_secs_f64(),
            memory_delta: marine.memory_used().saturating_sub(memory_before),
            timestamp: now_ms(),
        };
        drop(marine);
        lock(&self.stats).record(function, &record);
        match result {
            Ok(_) if returns == Some(false) => Outcome::Empty,
            Ok(value) => Outcome::Value(value),
            Err(e) => Outcome::Error(format!("service `{}`: {e}", self.id)),
        }
    }
}

/// What the registry holds of a Marine service: a handle that calls can take to their thread.
struct Handle(Arc<AppService>);

impl Service for Handle {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        let service = self.0.clone();
        if let Err(e) = service.vault.create_particle_dir(particle) {
            return Reply::Ready(Outcome::error(format_args!(
                "service `{}`: cannot make the particle's vault: {e}",
                service.id
            )));
        }
        let parameters = service.call_parameters(&call, particle);
        let arguments = Value::Array(call.arguments);
        Reply::blocking(move || service.run(&call.function_name, arguments, parameters))
    }
}
