//! Services as the particle engine sees them: something that answers a particle's calls.
//!
//! A particle's script calls `(call peer (service function) [args] result)`; when `peer` is
//! this peer, the VM hands the call to the engine, which looks the service up in a
//! [`ServiceRegistry`] and asks it for a [`Reply`]. Builtins, services the host registers and
//! (later) Marine services all implement [`Service`].
//!
//! Most functions answer at once ([`Reply::Ready`]); a function that waits (a timer, a remote
//! call) answers [`Reply::Later`] with a future, which the engine runs without blocking the
//! particle's other calls.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock, Weak};

use serde_json::Value;
use vm::data::calls::CallServiceResult;
use vm::data::Tetraplet;

use crate::identity::PeerId;
use crate::sync::{read, write};

/// One call of a service function by a particle.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The service id (or alias) the script named.
    pub service_id: String,
    pub function_name: String,
    /// Positional arguments, as JSON.
    pub arguments: Vec<Value>,
    /// Where each argument came from: one list per argument.
    pub tetraplets: Vec<Vec<Tetraplet>>,
}

/// The facts of the particle that makes a call, as services may use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticleParams {
    pub id: String,
    pub init_peer_id: PeerId,
    /// Creation time, ms since the Unix epoch.
    pub timestamp: u64,
    /// Time to live, ms.
    pub ttl: u32,
    pub signature: Vec<u8>,
}

impl ParticleParams {
    /// When the particle expires (ms since the Unix epoch), saturating.
    pub fn deadline(&self) -> u64 {
        self.timestamp.saturating_add(u64::from(self.ttl))
    }
}

/// What a function gives: a value, nothing, or an error message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Value(Value),
    /// No result: the script sees `""`, as on a Fluence peer.
    Empty,
    /// The call failed; the script sees code 1 and this message.
    Error(String),
    /// The call failed with this code (not 0) and value, for services whose callers tell
    /// failures apart by code.
    Fail(i32, Value),
}

impl Outcome {
    /// An error outcome from anything printable.
    pub fn error(message: impl fmt::Display) -> Outcome {
        Outcome::Error(message.to_string())
    }

    /// The result as the VM takes it: code 0 with the value (`""` for none), or code 1 with
    /// the error message as a JSON string.
    pub fn into_call_result(self) -> CallServiceResult {
        match self {
            Outcome::Value(value) => CallServiceResult::ok(&value),
            Outcome::Empty => CallServiceResult::ok(&Value::String(String::new())),
            Outcome::Error(message) => CallServiceResult::err(1, &Value::String(message)),
            Outcome::Fail(code, value) => CallServiceResult::err(code, &value),
        }
    }
}

impl From<Result<Value, String>> for Outcome {
    fn from(result: Result<Value, String>) -> Outcome {
        match result {
            Ok(value) => Outcome::Value(value),
            Err(message) => Outcome::Error(message),
        }
    }
}

/// A future outcome, for functions that wait.
pub type PendingOutcome = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// How a service answers a call.
pub enum Reply {
    /// The outcome, computed during the call.
    Ready(Outcome),
    /// The outcome comes later; the engine awaits it.
    Later(PendingOutcome),
}

impl Reply {
    /// The outcome of `work`, run on a blocking thread: for calls that compile, instantiate
    /// or run Wasm, which would hold the engine's threads.
    pub fn blocking(work: impl FnOnce() -> Outcome + Send + 'static) -> Reply {
        Reply::Later(Box::pin(async move {
            tokio::task::spawn_blocking(work)
                .await
                .unwrap_or_else(|e| Outcome::error(format_args!("the call did not finish: {e}")))
        }))
    }
}

impl From<Outcome> for Reply {
    fn from(outcome: Outcome) -> Reply {
        Reply::Ready(outcome)
    }
}

/// Something that answers calls: a builtin, a host service, a Marine service.
pub trait Service: Send + Sync + 'static {
    /// Answers `call`, made by the particle `particle`. A function the service does not have
    /// is an error outcome, not a panic.
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply;

    /// What [`ServiceRegistry::info`] says about the service (its functions, its kind).
    fn describe(&self) -> Value {
        Value::Null
    }
}

/// A registered service and what the registry knows of it.
#[derive(Clone)]
pub struct Registered {
    pub id: String,
    pub service: Arc<dyn Service>,
    /// The peer that registered it.
    pub owner: PeerId,
    pub aliases: Vec<String>,
}

/// Why a registry operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("Service with id '{0}' not found")]
    NotFound(String),
    #[error("alias '{alias}' names a builtin service and cannot be reassigned")]
    BuiltinAlias { alias: String },
    #[error("service id '{0}' is already registered")]
    Duplicate(String),
    #[error("alias '{0}' is the id of a service and cannot name another")]
    AliasIsServiceId(String),
}

/// The services of one peer: builtins by their fixed names, then services registered by the
/// host under an id and any number of aliases.
///
/// Lookups take a read lock only; registrations are rare. Cloning shares the registry.
#[derive(Clone, Default)]
pub struct ServiceRegistry {
    inner: Arc<RwLock<Services>>,
}

#[derive(Default)]
struct Services {
    builtins: HashMap<String, Arc<dyn Service>>,
    by_id: HashMap<String, Registered>,
    /// Alias to service id.
    aliases: HashMap<String, String>,
}

impl ServiceRegistry {
    pub fn new() -> ServiceRegistry {
        ServiceRegistry::default()
    }

    /// Adds a builtin service under `name` (replacing one of the same name).
    pub fn add_builtin(&self, name: impl Into<String>, service: Arc<dyn Service>) {
        self.write().builtins.insert(name.into(), service);
    }

    /// Registers a host service under `id`.
    pub fn register(
        &self,
        id: impl Into<String>,
        service: Arc<dyn Service>,
        owner: PeerId,
    ) -> Result<(), RegistryError> {
        let id = id.into();
        let mut services = self.write();
        if services.by_id.contains_key(&id) || services.builtins.contains_key(&id) {
            return Err(RegistryError::Duplicate(id));
        }
        services.by_id.insert(
            id.clone(),
            Registered {
                id,
                service,
                owner,
                aliases: Vec::new(),
            },
        );
        Ok(())
    }

    /// The service that answers calls to `id`: a builtin, a registered id, or an alias.
    pub fn resolve(&self, id: &str) -> Option<Arc<dyn Service>> {
        let services = self.read();
        if let Some(builtin) = services.builtins.get(id) {
            return Some(builtin.clone());
        }
        let id = services.aliases.get(id).map_or(id, String::as_str);
        services.by_id.get(id).map(|r| r.service.clone())
    }

    /// Points `alias` at the registered service `id_or_alias`, moving it from any service it
    /// named before.
    pub fn add_alias(&self, alias: &str, id_or_alias: &str) -> Result<(), RegistryError> {
        let mut services = self.write();
        if services.builtins.contains_key(alias) {
            return Err(RegistryError::BuiltinAlias {
                alias: alias.to_owned(),
            });
        }
        // An alias is looked up before ids, so one equal to an id would hide that service.
        if services.by_id.contains_key(alias) {
            return Err(RegistryError::AliasIsServiceId(alias.to_owned()));
        }
        let id = services.id_of(id_or_alias)?;
        if let Some(previous) = services.aliases.insert(alias.to_owned(), id.clone()) {
            if let Some(old) = services.by_id.get_mut(&previous) {
                old.aliases.retain(|a| a != alias);
            }
        }
        let registered = services.by_id.get_mut(&id).expect("id_of found it");
        registered.aliases.push(alias.to_owned());
        Ok(())
    }

    /// The id that `alias` names, if any.
    pub fn resolve_alias(&self, alias: &str) -> Option<String> {
        self.read().aliases.get(alias).cloned()
    }

    /// Removes the registered service `id_or_alias` and its aliases.
    pub fn remove(&self, id_or_alias: &str) -> Result<Registered, RegistryError> {
        let mut services = self.write();
        let id = services.id_of(id_or_alias)?;
        let registered = services.by_id.remove(&id).expect("id_of found it");
        for alias in &registered.aliases {
            services.aliases.remove(alias);
        }
        Ok(registered)
    }

    /// The registered service `id_or_alias`.
    pub fn info(&self, id_or_alias: &str) -> Result<Registered, RegistryError> {
        let services = self.read();
        let id = services.id_of(id_or_alias)?;
        Ok(services.by_id[&id].clone())
    }

    /// Every registered (non-builtin) service, by id.
    pub fn list(&self) -> Vec<Registered> {
        let mut all: Vec<Registered> = self.read().by_id.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// A handle that does not keep the registry alive: for services held by the registry
    /// that need to reach it (`srv`), without a reference cycle.
    pub fn downgrade(&self) -> WeakServiceRegistry {
        WeakServiceRegistry(Arc::downgrade(&self.inner))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Services> {
        read(&self.inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Services> {
        write(&self.inner)
    }
}

/// A [`ServiceRegistry`] that may be gone; see [`ServiceRegistry::downgrade`].
#[derive(Clone)]
pub struct WeakServiceRegistry(Weak<RwLock<Services>>);

impl WeakServiceRegistry {
    /// The registry, if it still exists.
    pub fn upgrade(&self) -> Option<ServiceRegistry> {
        self.0.upgrade().map(|inner| ServiceRegistry { inner })
    }
}

impl Services {
    fn id_of(&self, id_or_alias: &str) -> Result<String, RegistryError> {
        if self.by_id.contains_key(id_or_alias) {
            return Ok(id_or_alias.to_owned());
        }
        self.aliases
            .get(id_or_alias)
            .cloned()
            .ok_or_else(|| RegistryError::NotFound(id_or_alias.to_owned()))
    }
}

/// A service made of one closure, for hosts and tests that serve a few functions natively.
pub struct FnService<F>(pub F);

impl<F> Service for FnService<F>
where
    F: Fn(Call, &ParticleParams) -> Reply + Send + Sync + 'static,
{
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        (self.0)(call, particle)
    }
}
