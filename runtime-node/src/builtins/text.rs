//! `json`, `debug` and `run-console`: building, reading and showing JSON values.

use serde_json::{Map, Value};

use super::args::{kind, no_such_function, Args};
use super::Console;
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const JSON: &str = "json";
pub(crate) const DEBUG: &str = "debug";
pub(crate) const CONSOLE: &str = "run-console";

pub(crate) struct Json;

impl Service for Json {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let mut args = Args::new(JSON, &call.function_name, call.arguments);
        let outcome = match call.function_name.as_str() {
            "obj" => put_all(Map::new(), &mut args).into(),
            "put" => put(&mut args).into(),
            "puts" => args
                .next::<Map<String, Value>>("object")
                .and_then(|object| put_all(object, &mut args))
                .into(),
            "parse" => parse(&mut args).into(),
            "stringify" => args
                .expect_count(1)
                .and_then(|()| args.next::<Value>("value"))
                .map(|value| Value::String(value.to_string()))
                .into(),
            "obj_pairs" => args
                .expect_count(1)
                .and_then(|()| args.next::<Vec<(String, Value)>>("pairs"))
                .map(|pairs| Value::Object(pairs.into_iter().collect()))
                .into(),
            "puts_pairs" => puts_pairs(&mut args).into(),
            other => no_such_function(JSON, other),
        };
        Reply::Ready(outcome)
    }
}

/// `object` with the rest of the arguments, key and value after key and value, put in it.
fn put_all(mut object: Map<String, Value>, args: &mut Args) -> Result<Value, String> {
    let mut rest = args.rest().into_iter();
    while let Some(key) = rest.next() {
        let Some(value) = rest.next() else {
            return Err(args.error(format_args!("key {key} has no value")));
        };
        match key {
            Value::String(key) => object.insert(key, value),
            other => {
                return Err(args.error(format_args!(
                    "keys must be strings, got {} ({other})",
                    kind(&other)
                )))
            }
        };
    }
    Ok(Value::Object(object))
}

fn put(args: &mut Args) -> Result<Value, String> {
    let mut object: Map<String, Value> = args.next("object")?;
    let key: String = args.next("key")?;
    let value: Value = args.next("value")?;
    object.insert(key, value);
    Ok(Value::Object(object))
}

fn parse(args: &mut Args) -> Result<Value, String> {
    args.expect_count(1)?;
    let text: String = args.next("json")?;
    serde_json::from_str(&text).map_err(|e| args.error(format_args!("invalid JSON: {e}")))
}

fn puts_pairs(args: &mut Args) -> Result<Value, String> {
    args.expect_count(2)?;
    let object: Value = args.next("object")?;
    let pairs: Vec<(String, Value)> = args.next("pairs")?;
    match object {
        Value::Object(mut object) => {
            object.extend(pairs);
            Ok(Value::Object(object))
        }
        other => Err(args.error(format_args!(
            "argument 1 must be an object, got {}",
            kind(&other)
        ))),
    }
}

pub(crate) struct Debug;

impl Service for Debug {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let outcome = match call.function_name.as_str() {
            "stringify" => Outcome::Value(Value::String(stringify(call.arguments))),
            other => no_such_function(DEBUG, other),
        };
        Reply::Ready(outcome)
    }
}

/// The JSON text of the one argument, of all arguments as an array when there are several,
/// and (still valid JSON) `"<empty argument list>"` when there is none.
fn stringify(mut arguments: Vec<Value>) -> String {
    match arguments.len() {
        0 => Value::String("<empty argument list>".to_owned()).to_string(),
        1 => arguments.remove(0).to_string(),
        _ => Value::Array(arguments).to_string(),
    }
}

/// `run-console.print`: shows its arguments on the host's console.
///
/// The reference peer lets only its host and management peer print (to its log). Here every
/// particle may: printing writes one line to a sink the host chose and changes nothing else,
/// and on the embedded network the console is the developer's own terminal, where a script's
/// prints are its output. A host that must not be flooded gives a sink that filters or drops.
pub(crate) struct RunConsole {
    console: Console,
}

impl RunConsole {
    pub(crate) fn new(console: Console) -> RunConsole {
        RunConsole { console }
    }
}

impl Service for RunConsole {
    fn call(&self, call: Call, particle: &ParticleParams) -> Reply {
        if call.function_name != "print" {
            return Reply::Ready(no_such_function(CONSOLE, &call.function_name));
        }
        let line = console_line(&call.arguments);
        tracing::info!(target: "run-console", particle_id = %particle.id, "{line}");
        (self.console)(&line);
        Reply::Ready(Outcome::Empty)
    }
}

/// The arguments separated by spaces: strings as they are, other values as JSON.
fn console_line(arguments: &[Value]) -> String {
    let shown: Vec<String> = arguments
        .iter()
        .map(|value| match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    shown.join(" ")
}
