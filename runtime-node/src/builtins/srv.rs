//! `srv`: the peer's services, their creation from blueprints, their aliases and their
//! removal.
//!
//! Service descriptions have the reference peer's shape: `{id, blueprint_id, service_type,
//! owner_id, aliases, worker_id}`. Services the host registered natively come from no
//! blueprint (`blueprint_id` is empty); Marine services name theirs. All are of type
//! `"service"` and live on the host (`worker_id` is the host's id). Creating a Marine service
//! is open only to the peer and its management peer, as on the reference peer.
//!
//! Who may change them: the reference peer lets only its host and management peer add aliases
//! and remove services. Here the service's owner (the peer that registered it) may too: it
//! chose to put the service there. Moving an alias from one service to another needs the
//! right to both, so nobody takes over another owner's alias. The aliases `spell` and `self`
//! are reserved, as on the reference peer, for spells.

use std::sync::Arc;

use serde_json::{json, Value};

use super::args::{no_such_function, Args};
use super::Host;
use crate::identity::PeerId;
use crate::service::{
    Call, Outcome, ParticleParams, Registered, Reply, Service, ServiceRegistry, WeakServiceRegistry,
};

pub(crate) const SERVICE: &str = "srv";

/// Aliases that name the calling spell on the reference peer.
const RESERVED_ALIASES: [&str; 2] = ["spell", "self"];

pub(crate) struct Srv {
    /// Weak: the registry holds this service.
    registry: WeakServiceRegistry,
    host: Arc<Host>,
}

impl Srv {
    pub(crate) fn new(registry: &ServiceRegistry, host: Arc<Host>) -> Srv {
        Srv {
            registry: registry.downgrade(),
            host,
        }
    }

    fn describe(&self, service: &Registered) -> Value {
        let blueprint_id = self
            .host
            .apps
            .as_ref()
            .and_then(|apps| apps.blueprint_of(&service.id))
            .unwrap_or_default();
        json!({
            "id": service.id,
            "blueprint_id": blueprint_id,
            "service_type": "service",
            "owner_id": service.owner.to_base58(),
            "aliases": service.aliases,
            "worker_id": self.host.key_pair.peer_id().to_base58(),
        })
    }

    /// Fails unless `caller` may change `service`.
    fn check_may_change(
        &self,
        args: &Args,
        caller: &PeerId,
        service: &Registered,
    ) -> Result<(), String> {
        if self.host.trusts(caller) || service.owner == *caller {
            Ok(())
        } else {
            Err(args.error(format_args!(
                "peer '{caller}' may not change service '{}': only its owner, the host and the management peer may",
                service.id
            )))
        }
    }

    fn add_alias(
        &self,
        registry: &ServiceRegistry,
        args: &mut Args,
        particle: &ParticleParams,
    ) -> Result<(), String> {
        let alias: String = args.next("alias")?;
        let service_id: String = args.next("service_id")?;
        let target = registry.info(&service_id).map_err(|e| args.error(e))?;
        self.check_may_change(args, &particle.init_peer_id, &target)?;
        let previous = registry.resolve_alias(&alias);
        if let Some(current) = &previous {
            if let Ok(current) = registry.info(current) {
                self.check_may_change(args, &particle.init_peer_id, &current)?;
            }
        }
        if RESERVED_ALIASES.contains(&alias.as_str()) {
            return Err(args.error(format_args!("alias '{alias}' is reserved")));
        }
        registry
            .add_alias(&alias, &service_id)
            .map_err(|e| args.error(e))?;
        if let Some(apps) = &self.host.apps {
            for changed in previous.iter().chain([&target.id]) {
                apps.persist(changed).map_err(|e| args.error(e))?;
            }
        }
        Ok(())
    }

    fn remove(
        &self,
        registry: &ServiceRegistry,
        args: &mut Args,
        particle: &ParticleParams,
    ) -> Result<(), String> {
        let id_or_alias: String = args.next("service_id_or_alias")?;
        let service = registry.info(&id_or_alias).map_err(|e| args.error(e))?;
        self.check_may_change(args, &particle.init_peer_id, &service)?;
        registry.remove(&service.id).map_err(|e| args.error(e))?;
        if let Some(apps) = &self.host.apps {
            apps.forget(&service.id);
        }
        Ok(())
    }

    /// Creates a Marine service from a blueprint, on a blocking thread: instantiating
    /// compiles and links its modules.
    fn create(&self, args: &mut Args, particle: &ParticleParams) -> Reply {
        let blueprint_id = match args.next::<String>("blueprint_id") {
            Ok(id) => id,
            Err(message) => return Reply::Ready(Outcome::Error(message)),
        };
        let Some(apps) = self.host.apps.clone() else {
            return Reply::Ready(Outcome::Error(
                args.error("this peer runs no Marine services"),
            ));
        };
        if !self.host.trusts(&particle.init_peer_id) {
            return Reply::Ready(Outcome::Error(args.error(format_args!(
                "only the peer and its management peer may create services, not '{}'",
                particle.init_peer_id
            ))));
        }
        let owner = particle.init_peer_id;
        let prefix = args.error("");
        Reply::blocking(move || {
            apps.create(&blueprint_id, owner)
                .map(Value::String)
                .map_err(|e| format!("{prefix}{e}"))
                .into()
        })
    }

    fn interface(&self, registry: &ServiceRegistry, args: &mut Args) -> Result<Value, String> {
        let id_or_alias: String = args.next("service_id")?;
        let service = registry.info(&id_or_alias).map_err(|e| args.error(e))?;
        let apps = self.host.apps.as_ref();
        apps.ok_or_else(|| args.error("this peer runs no Marine services"))?
            .interface(&service.id)
            .map_err(|e| args.error(e))
    }

    /// The alias in the arguments, and the id it names if any.
    fn resolve_alias(
        registry: &ServiceRegistry,
        args: &mut Args,
    ) -> Result<(String, Option<String>), String> {
        let alias: String = args.next("alias")?;
        let id = registry.resolve_alias(&alias);
        Ok((alias, id))
    }
}

impl Service for Srv {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let Some(registry) = self.registry.upgrade() else {
            return Reply::Ready(Outcome::Error(
                args.error("the peer's service registry is gone"),
            ));
        };
        let outcome = match call.function_name.as_str() {
            "list" => Outcome::Value(Value::from_iter(
                registry.list().iter().map(|service| self.describe(service)),
            )),
            "add_alias" => empty(self.add_alias(&registry, &mut args, particle)),
            "remove" => empty(self.remove(&registry, &mut args, particle)),
            "resolve_alias" => match Srv::resolve_alias(&registry, &mut args) {
                Ok((_, Some(id))) => Outcome::Value(Value::String(id)),
                Ok((alias, None)) => {
                    Outcome::Error(args.error(format_args!("no service has the alias '{alias}'")))
                }
                Err(message) => Outcome::Error(message),
            },
            "resolve_alias_opt" => Srv::resolve_alias(&registry, &mut args)
                .map(|(_, id)| Value::from_iter(id))
                .into(),
            "create" => return self.create(&mut args, particle),
            "get_interface" => self.interface(&registry, &mut args).into(),
            "info" => args
                .next::<String>("service_id_or_alias")
                .and_then(|id| registry.info(&id).map_err(|e| args.error(e)))
                .map(|service| self.describe(&service))
                .into(),
            other => no_such_function(SERVICE, other),
        };
        Reply::Ready(outcome)
    }
}

/// Nothing on success.
fn empty(result: Result<(), String>) -> Outcome {
    match result {
        Ok(()) => Outcome::Empty,
        Err(message) => Outcome::Error(message),
    }
}
