//! `aquac run`: compile, start an embedded network, call one function from a client, print.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use aqua::interface::TypeDef;
use runtime_node::client::{CallError, FunctionCall};
use runtime_node::embedded::{Embedded, EmbeddedOptions};
use runtime_node::network::{Fate, Hop};
use runtime_node::PeerId;
use serde_json::Value;

/// What `run` needs beyond the compilation.
pub struct RunArgs {
    /// `name(arg, ...)`.
    pub call: String,
    pub peers: u32,
    pub seed: u64,
    pub data: Option<PathBuf>,
    /// Where peers keep deployed Marine services between runs.
    pub data_dir: Option<PathBuf>,
    pub json: bool,
    pub timeout_ms: u32,
    pub verbose: bool,
}

/// A call written on the command line: a function name and its arguments.
#[derive(Debug, PartialEq)]
pub struct CallExpr {
    pub function: String,
    pub arguments: Vec<Argument>,
}

/// One argument: a JSON literal or a name to look up.
#[derive(Debug, PartialEq)]
pub enum Argument {
    Literal(Value),
    Name(String),
}

/// Parses `name(arg, ...)`, where each argument is a JSON literal or a name.
pub fn parse_call(text: &str) -> Result<CallExpr, String> {
    let text = text.trim();
    let open = text
        .find('(')
        .ok_or_else(|| format!("`{text}` is not a call: expected `name(arg, ...)`"))?;
    let function = text[..open].trim();
    if !is_name(function) {
        return Err(format!("`{function}` is not a function name"));
    }
    let Some(inner) = text[open + 1..].strip_suffix(')') else {
        return Err(format!("`{text}` does not end with `)`"));
    };
    let mut arguments = Vec::new();
    let mut rest = inner.trim_start();
    // 1-based column, in `text`, of the start of `rest`.
    let column = |rest: &str| open + 1 + (inner.len() - rest.len()) + 1;
    while !rest.is_empty() {
        let name_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..name_len];
        let is_literal_word = matches!(word, "true" | "false" | "null");
        if name_len > 0 && is_name(word) && !is_literal_word {
            arguments.push(Argument::Name(word.to_owned()));
            rest = &rest[name_len..];
        } else {
            let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            match values.next() {
                Some(Ok(value)) => {
                    let used = values.byte_offset();
                    arguments.push(Argument::Literal(value));
                    rest = &rest[used..];
                }
                Some(Err(e)) => {
                    return Err(format!(
                        "argument at column {}: not JSON or a name: {e}",
                        column(rest)
                    ))
                }
                None => return Err(format!("missing argument at column {}", column(rest))),
            }
        }
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
            if rest.is_empty() {
                return Err("a `,` is followed by no argument".to_owned());
            }
        } else if !rest.is_empty() {
            return Err(format!(
                "expected `,` or `)` at column {}, found `{}`",
                column(rest),
                rest.chars().next().unwrap_or(' ')
            ));
        }
    }
    Ok(CallExpr {
        function: function.to_owned(),
        arguments,
    })
}

fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// The value of each argument: literals as they are, `PEERS` the network's peer ids (relay
/// first), other names from `data`.
fn resolve(
    arguments: &[Argument],
    data: &serde_json::Map<String, Value>,
    peers: &[PeerId],
) -> Result<Vec<Value>, String> {
    arguments
        .iter()
        .map(|argument| match argument {
            Argument::Literal(value) => Ok(value.clone()),
            Argument::Name(name) => match data.get(name) {
                Some(value) => Ok(value.clone()),
                None if name == "PEERS" => Ok(Value::Array(
                    peers.iter().map(|p| Value::String(p.to_base58())).collect(),
                )),
                None => Err(format!(
                    "`{name}` is neither JSON nor a name from --data{}",
                    if data.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (which has {})",
                            data.keys()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                )),
            },
        })
        .collect()
}

/// Reads `--data`: a JSON object of named values.
fn read_data(path: &Option<PathBuf>) -> Result<serde_json::Map<String, Value>, String> {
    let Some(path) = path else {
        return Ok(serde_json::Map::new());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("{}: expected a JSON object", path.display())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The function to run: its AIR, its parameters and its results.
pub struct Function {
    pub air: String,
    /// The parameters' names and types, in order.
    pub params: Vec<(String, TypeDef)>,
    /// The results: `Nil` for none, else a product of one or more types.
    pub results: TypeDef,
}

impl Function {
    /// The exported function `name` of a compilation without errors.
    pub fn of(compilation: &aqua::compile::Compilation, name: &str) -> Result<Function, String> {
        let Some(function) = compilation.functions.iter().find(|f| f.name == name) else {
            let exported: Vec<&str> = compilation
                .functions
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            return Err(format!(
                "no exported function `{name}`; exported: {}",
                if exported.is_empty() {
                    "none".to_owned()
                } else {
                    exported.join(", ")
                }
            ));
        };
        let air = function.air.clone().map_err(|unsupported| {
            format!(
                "function `{name}` cannot be compiled yet: {}",
                unsupported.0
            )
        })?;
        let def = compilation
            .interface(function.module)
            .functions
            .into_iter()
            .find(|f| f.name == function.name)
            .expect("an exported function is in its module's interface");
        Ok(Function {
            air,
            params: def.domain,
            results: def.codomain,
        })
    }

    /// The parameters' names, in order.
    pub fn param_names(&self) -> Vec<String> {
        self.params.iter().map(|(name, _)| name.clone()).collect()
    }

    /// The client's call of the function with `values`, one per parameter in order, given as
    /// a client gives them (see [`to_air`]).
    pub fn call(&self, values: Vec<Value>, ttl: Duration) -> FunctionCall {
        FunctionCall {
            script: self.air.clone(),
            arguments: self
                .params
                .iter()
                .zip(values)
                .map(|((name, ty), value)| (name.clone(), to_air(value, ty)))
                .collect(),
            callbacks: HashMap::new(),
            returns: self.results != TypeDef::Nil,
            ttl,
        }
    }

    /// The result of a call as a client shows it (see [`from_air`]): one value, or an array
    /// of several.
    pub fn result(&self, value: Value) -> Value {
        match (&self.results, value) {
            (TypeDef::UnlabeledProduct(types), value) if types.len() == 1 => {
                from_air(value, &types[0])
            }
            (TypeDef::UnlabeledProduct(types), Value::Array(values)) => Value::Array(
                values
                    .into_iter()
                    .zip(types)
                    .map(|(value, ty)| from_air(value, ty))
                    .collect(),
            ),
            (_, value) => value,
        }
    }
}

/// A value of type `ty` as a client gives it, in the form the script holds it: an option is
/// the value or `null` for a client (as the Fluence JS client takes it), an array of none or
/// one value in AIR. Anything else is kept as it is.
pub fn to_air(value: Value, ty: &TypeDef) -> Value {
    match (ty, value) {
        (TypeDef::Option(_), Value::Null) => Value::Array(Vec::new()),
        (TypeDef::Option(inner), value) => Value::Array(vec![to_air(value, inner)]),
        (TypeDef::Array(inner), Value::Array(items)) => {
            Value::Array(items.into_iter().map(|item| to_air(item, inner)).collect())
        }
        (TypeDef::Struct { fields, .. }, Value::Object(values)) => {
            Value::Object(convert_fields(values, fields, to_air))
        }
        (_, value) => value,
    }
}

/// The fields of a struct value, each converted with `convert` by its type in `fields`.
fn convert_fields(
    mut values: serde_json::Map<String, Value>,
    fields: &[(String, TypeDef)],
    convert: fn(Value, &TypeDef) -> Value,
) -> serde_json::Map<String, Value> {
    for (name, ty) in fields {
        if let Some(value) = values.remove(name) {
            values.insert(name.clone(), convert(value, ty));
        }
    }
    values
}

/// A value of type `ty` from the script, as a client shows it: the inverse of [`to_air`].
pub fn from_air(value: Value, ty: &TypeDef) -> Value {
    match (ty, value) {
        (TypeDef::Option(inner), Value::Array(mut items)) if items.len() <= 1 => items
            .pop()
            .map_or(Value::Null, |item| from_air(item, inner)),
        (TypeDef::Array(inner), Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|item| from_air(item, inner))
                .collect(),
        ),
        (TypeDef::Struct { fields, .. }, Value::Object(values)) => {
            Value::Object(convert_fields(values, fields, from_air))
        }
        (_, value) => value,
    }
}

/// Runs `function` as `args` asks. Returns whether the function returned (not an Aqua error,
/// a timeout, or a problem with the input).
pub fn run(function: Function, args: &RunArgs, call: &CallExpr) -> bool {
    let params = function.param_names();
    let fail = |message: String| {
        eprintln!("error: {message}");
        false
    };
    if call.arguments.len() != params.len() {
        return fail(format!(
            "`{}` takes {} argument{} ({}), the call gives {}",
            call.function,
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            params.join(", "),
            call.arguments.len()
        ));
    }
    let data = match read_data(&args.data) {
        Ok(data) => data,
        Err(message) => return fail(message),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    runtime.block_on(async {
        let options = EmbeddedOptions {
            peers: args.peers,
            seed: args.seed,
            data_dir: args.data_dir.clone(),
            ..EmbeddedOptions::default()
        };
        let embedded = match Embedded::start(&options) {
            Ok(embedded) => embedded,
            Err(e) => return fail(format!("cannot start the local network: {e}")),
        };
        let values = match resolve(&call.arguments, &data, &embedded.peers) {
            Ok(values) => values,
            Err(message) => return fail(message),
        };
        if args.verbose {
            let names: HashMap<PeerId, String> = embedded
                .peers
                .iter()
                .chain([&embedded.client.peer_id()])
                .map(|p| (*p, embedded.name_of(p)))
                .collect();
            embedded
                .network
                .observe(std::sync::Arc::new(move |hop: &Hop| {
                    eprintln!("{}", describe_hop(hop, &names))
                }));
        }
        let timeout = Duration::from_millis(u64::from(args.timeout_ms));
        let outcome = embedded
            .client
            .call_function(function.call(values, timeout))
            .await
            .map(|value| function.result(value));
        report(&embedded, outcome, args.json)
    })
}

fn describe_hop(hop: &Hop, names: &HashMap<PeerId, String>) -> String {
    let name = |p: &PeerId| names.get(p).cloned().unwrap_or_else(|| p.to_base58());
    let fate = match &hop.fate {
        Fate::Delivered => String::new(),
        Fate::Dropped => " (dropped)".to_owned(),
        Fate::Delayed(delay) => format!(" (delayed {} ms)", delay.as_millis()),
        Fate::Unreachable => " (unreachable)".to_owned(),
        Fate::Refused(reason) => format!(" (refused: {reason})"),
    };
    format!(
        "hop: {} -> {}, {} bytes of data{fate}",
        name(&hop.from),
        name(&hop.to),
        hop.data_bytes
    )
}

fn report(embedded: &Embedded, outcome: Result<Value, CallError>, json: bool) -> bool {
    let (result, error) = match outcome {
        Ok(value) => (value, None),
        Err(CallError::Timeout {
            ttl_ms,
            particle_id,
        }) => {
            let stuck: Vec<String> = embedded
                .unanswered(&particle_id)
                .iter()
                .map(|p| format!("{} ({})", embedded.name_of(p), p.to_base58()))
                .collect();
            let message = if stuck.is_empty() {
                format!("the particle timed out after {ttl_ms} ms")
            } else {
                format!(
                    "the particle timed out after {ttl_ms} ms; peers that never answered: {}",
                    stuck.join(", ")
                )
            };
            (Value::Null, Some(message))
        }
        Err(error) => (Value::Null, Some(error.to_string())),
    };
    if json {
        let peers: Vec<Value> = embedded
            .peers
            .iter()
            .map(|p| Value::String(p.to_base58()))
            .collect();
        // Written by hand to keep the documented key order.
        println!(
            "{{\"result\":{},\"error\":{},\"peers\":{},\"client\":{}}}",
            result,
            error
                .as_ref()
                .map_or(Value::Null, |e| Value::String(e.clone())),
            Value::Array(peers),
            Value::String(embedded.client.peer_id().to_base58())
        );
    } else if error.is_none() {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).expect("JSON values print")
        );
    }
    match error {
        None => true,
        Some(message) => {
            if !json {
                eprintln!("error: {message}");
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_parse_literals_and_names() {
        let call = parse_call(r#" greet("a, b", [1, {"x": ")"}], PEERS, true ,-2.5e1 ) "#).unwrap();
        assert_eq!(call.function, "greet");
        assert_eq!(
            call.arguments,
            vec![
                Argument::Literal(json!("a, b")),
                Argument::Literal(json!([1, {"x": ")"}])),
                Argument::Name("PEERS".into()),
                Argument::Literal(json!(true)),
                Argument::Literal(json!(-25.0)),
            ]
        );
        assert_eq!(parse_call("f()").unwrap().arguments, vec![]);
    }

    #[test]
    fn bad_calls_say_what_is_wrong() {
        assert!(parse_call("f").unwrap_err().contains("not a call"));
        assert!(parse_call("f(1")
            .unwrap_err()
            .contains("does not end with `)`"));
        assert!(parse_call("f(1 2)")
            .unwrap_err()
            .contains("expected `,` or `)`"));
        assert!(parse_call("f(1,)").unwrap_err().contains("no argument"));
        assert!(parse_call("f([1,)").unwrap_err().contains("not JSON"));
        assert!(parse_call("1f(2)")
            .unwrap_err()
            .contains("not a function name"));
    }

    #[test]
    fn options_are_values_or_null_for_the_client_and_arrays_in_air() {
        let option = |t| TypeDef::Option(Box::new(t));
        let string = || TypeDef::Scalar("string");
        let ty = TypeDef::Struct {
            name: "S".into(),
            fields: vec![
                ("maybe".into(), option(string())),
                ("many".into(), TypeDef::Array(Box::new(option(string())))),
            ],
        };
        let client = json!({"maybe": null, "many": ["a", null], "other": [1]});
        let air = json!({"maybe": [], "many": [["a"], []], "other": [1]});
        assert_eq!(to_air(client.clone(), &ty), air);
        assert_eq!(from_air(air, &ty), client);
        // An option of an option: only the outer one is the client's `null`.
        let nested = option(option(string()));
        assert_eq!(to_air(json!(null), &nested), json!([]));
        assert_eq!(from_air(json!([[]]), &nested), json!(null));
    }

    #[test]
    fn names_come_from_data_then_peers() {
        let data: serde_json::Map<String, Value> =
            serde_json::from_value(json!({"x": 1, "PEERS": "mine"})).unwrap();
        let args = [Argument::Name("x".into()), Argument::Name("PEERS".into())];
        assert_eq!(
            resolve(&args, &data, &[]).unwrap(),
            vec![json!(1), json!("mine")]
        );
        let error = resolve(&[Argument::Name("y".into())], &data, &[]).unwrap_err();
        assert!(error.contains("`y`") && error.contains("`x`"), "{error}");
    }
}
