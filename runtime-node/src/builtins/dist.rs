//! `dist`: the Marine modules and blueprints stored on the peer (see [`crate::modules`]).
//!
//! Storing (`add_module*`, `add_blueprint`) is open only to trusted initiators, as on the
//! reference peer; reading and the pure helpers (`make_*`, `default_module_config`) are open
//! to all. Compiling a module takes a while, so storing runs on a blocking thread.

use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::args::{no_such_function, Args};
use super::Host;
use crate::apps::Apps;
use crate::modules::blueprint::{self, parse_cid};
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const SERVICE: &str = "dist";

pub(crate) struct Dist {
    apps: Arc<Apps>,
    host: Arc<Host>,
}

impl Dist {
    pub(crate) fn new(apps: Arc<Apps>, host: Arc<Host>) -> Dist {
        Dist { apps, host }
    }

    fn guard(&self, args: &Args, particle: &ParticleParams) -> Result<(), String> {
        if self.host.trusts(&particle.init_peer_id) {
            Ok(())
        } else {
            Err(args.error(format_args!(
                "only the peer and its management peer may store modules and blueprints, not '{}'",
                particle.init_peer_id
            )))
        }
    }

    /// Stores a module, on a blocking thread.
    fn add_module(&self, args: &Args, name: String, bytes: Vec<u8>) -> Reply {
        let apps = self.apps.clone();
        let prefix = args.error("");
        Reply::blocking(move || {
            apps.modules()
                .add_module(&name, &bytes)
                .map(Value::String)
                .map_err(|e| format!("{prefix}{e}"))
                .into()
        })
    }

    fn vault_bytes(
        &self,
        args: &Args,
        particle: &ParticleParams,
        path: &str,
    ) -> Result<Vec<u8>, String> {
        self.host
            .vault
            .read(particle, path)
            .map_err(|e| args.error(e))
    }
}

/// The name in a module config given as an argument.
fn config_name(args: &Args, config: &Value) -> Result<String, String> {
    config
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| args.error("the module config has no `name` string"))
}

/// `[[key, value], ...]` as a JSON object.
fn pairs(pairs: Option<Vec<(String, String)>>) -> Value {
    match pairs {
        None => Value::Null,
        Some(pairs) => Value::Object(
            pairs
                .into_iter()
                .map(|(key, value)| (key, Value::String(value)))
                .collect::<Map<_, _>>(),
        ),
    }
}

fn make_module_config(args: &mut Args) -> Result<Value, String> {
    let name: String = args.next("name")?;
    // Older peers read these; current ones ignore them, and the positions stay.
    let _: Option<u32> = args.next_opt("mem_pages_count")?;
    let _: Option<String> = args.next_opt("max_heap_size")?;
    let logger_enabled: Option<bool> = args.next_opt("logger_enabled")?;
    let _: Option<Vec<String>> = args.next_opt("preopened_files")?;
    let envs = args.next_opt("envs")?;
    let mapped_dirs = args.next_opt("mapped_dirs")?;
    let mounted_binaries = args.next_opt("mounted_binaries")?;
    let logging_mask: Option<i32> = args.next_opt("logging_mask")?;
    Ok(json!({
        "name": name,
        "logger_enabled": logger_enabled,
        "logging_mask": logging_mask,
        "wasi": { "envs": pairs(envs), "mapped_dirs": pairs(mapped_dirs) },
        "mounted_binaries": pairs(mounted_binaries),
    }))
}

impl Service for Dist {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        let mut args = Args::new(SERVICE, &call.function_name, call.arguments);
        let store = self.apps.modules();
        let outcome: Result<Value, String> = match call.function_name.as_str() {
            "add_module" => {
                let mut read = || -> Result<(String, Vec<u8>), String> {
                    let encoded: String = args.next("module_bytes")?;
                    let config: Value = args.next("config")?;
                    self.guard(&args, particle)?;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|e| args.error(format_args!("the module is not base64: {e}")))?;
                    Ok((config_name(&args, &config)?, bytes))
                };
                return match read() {
                    Ok((name, bytes)) => self.add_module(&args, name, bytes),
                    Err(message) => Reply::Ready(Outcome::Error(message)),
                };
            }
            "add_module_from_vault" | "add_module_bytes_from_vault" => {
                let from_config = call.function_name == "add_module_from_vault";
                let mut read = || -> Result<(String, Vec<u8>), String> {
                    let (name, path) = if from_config {
                        let path: String = args.next("module_path")?;
                        let config: Value = args.next("config")?;
                        (config_name(&args, &config)?, path)
                    } else {
                        let name: String = args.next("module_name")?;
                        (name, args.next("module_path")?)
                    };
                    self.guard(&args, particle)?;
                    Ok((name, self.vault_bytes(&args, particle, &path)?))
                };
                return match read() {
                    Ok((name, bytes)) => self.add_module(&args, name, bytes),
                    Err(message) => Reply::Ready(Outcome::Error(message)),
                };
            }
            "add_blueprint" => args.next::<String>("blueprint").and_then(|document| {
                self.guard(&args, particle)?;
                store
                    .add_blueprint(&document)
                    .map(Value::String)
                    .map_err(|e| args.error(e))
            }),
            "make_module_config" => make_module_config(&mut args),
            "default_module_config" => args
                .next::<String>("module_name")
                .map(|name| json!({ "name": name })),
            "load_module_config" => args.next::<String>("config_path").and_then(|path| {
                let bytes = self.vault_bytes(&args, particle, &path)?;
                let config: Value = serde_json::from_slice(&bytes).map_err(|e| {
                    args.error(format_args!("`{path}` is not a module config: {e}"))
                })?;
                config_name(&args, &config)?;
                Ok(config)
            }),
            "make_blueprint" => (|| {
                let name: String = args.next("name")?;
                let texts: Vec<String> = args.next("dependencies")?;
                let dependencies = texts
                    .iter()
                    .map(|text| {
                        parse_cid(text).map_err(|e| {
                            args.error(format_args!("dependency `{text}` is not a CID: {e}"))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::String(blueprint::document(&name, &dependencies)))
            })(),
            "load_blueprint" => args.next::<String>("blueprint_path").and_then(|path| {
                let bytes = self.vault_bytes(&args, particle, &path)?;
                let text = String::from_utf8_lossy(&bytes);
                let (name, dependencies) = blueprint::parse_document(&text)
                    .map_err(|e| args.error(format_args!("`{path}`: {e}")))?;
                Ok(Value::String(blueprint::document(&name, &dependencies)))
            }),
            "list_modules" => store
                .list_modules()
                .map(Value::from)
                .map_err(|e| args.error(e)),
            "get_module_interface" => args
                .next::<String>("module_hash")
                .and_then(|cid| store.module_interface(&cid).map_err(|e| args.error(e))),
            "list_blueprints" => Ok(json!(store.blueprints())),
            "get_blueprint" => args.next::<String>("blueprint_id").and_then(|id| {
                store
                    .blueprint(&id)
                    .map(|blueprint| json!(blueprint))
                    .map_err(|e| args.error(e))
            }),
            other => return Reply::Ready(no_such_function(SERVICE, other)),
        };
        Reply::Ready(Outcome::from(outcome))
    }
}
