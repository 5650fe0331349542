//! `stat`: measurements of the peer's Marine services: memory per module and call statistics.

use std::sync::Arc;

use serde_json::Value;

use super::args::{no_such_function, Args};
use crate::apps::Apps;
use crate::service::{Call, Outcome, ParticleParams, Reply, Service, WeakServiceRegistry};

pub(crate) const SERVICE: &str = "stat";

pub(crate) struct Stat {
    apps: Arc<Apps>,
    /// To resolve aliases; weak because the registry holds this service.
    registry: WeakServiceRegistry,
}

impl Stat {
    pub(crate) fn new(apps: Arc<Apps>, registry: WeakServiceRegistry) -> Stat {
        Stat { apps, registry }
    }

    /// The id of the service the next argument names by id or alias.
    fn service_id(&self, args: &mut Args) -> Result<String, String> {
        let id_or_alias: String = args.next("service_id")?;
        let registry = self
            .registry
            .upgrade()
            .ok_or_else(|| args.error("the peer's service registry is gone"))?;
        registry
            .info(&id_or_alias)
            .map(|service| service.id)
            .map_err(|e| args.error(e))
    }
}

impl Service for Stat {
    fn call(&self, call: Call, _: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let outcome: Result<Value, String> = match call.function_name.as_str() {
            "service_memory" => self
                .service_id(&mut args)
                .and_then(|id| self.apps.memory(&id).map_err(|e| args.error(e))),
            "service_stat" => self
                .service_id(&mut args)
                .and_then(|id| self.apps.stats(&id).map_err(|e| args.error(e))),
            other => return Reply::Ready(no_such_function(SERVICE, other)),
        };
        Reply::Ready(Outcome::from(outcome))
    }
}
