//! `marine call`: load a service from its config and call one of its facade's functions.

use std::path::{Path, PathBuf};

use marine::{load_config, CallParameters, Runtime, RuntimeConfig, Service};
use serde_json::Value;

use crate::{Error, Result};

/// A call to make.
pub struct Call<'a> {
    pub config: &'a Path,
    pub function: &'a str,
    /// The arguments: a JSON array in order, or an object by argument name.
    pub arguments: &'a str,
    /// A JSON object of [`CallParameters`] fields; missing fields are empty.
    pub call_parameters: Option<&'a str>,
    /// Where compiled modules are kept between runs.
    pub cache_dir: Option<PathBuf>,
}

/// Loads the service and makes the call; returns the function's result (`null` when it
/// returns nothing).
pub fn call(call: &Call<'_>) -> Result<Value> {
    let arguments: Value = serde_json::from_str(call.arguments)
        .map_err(|e| Error::Input(format!("the arguments are not JSON: {e}")))?;
    let call_parameters = match call.call_parameters {
        None => CallParameters::default(),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| Error::Input(format!("--call-parameters: {e}")))?,
    };
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: call.cache_dir.clone(),
    })?;
    let service = Service::new(&runtime, load_config(&runtime, call.config)?)?;
    Ok(service.call_json(call.function, &arguments, call_parameters)?)
}
