//! Mock builtin services, served on every peer of an Aqua run.
//!
//! These are mocks of the builtins a Fluence peer provides (the real ones come with the
//! runtime node), enough for compiled Aqua: what the compiler itself calls (`math` and `cmp`
//! for operators, `op` for tracing) and what `@fluencelabs/aqua-lib` declares that does not
//! need a real node. Results follow the node's semantics: arithmetic on i64 with errors on
//! overflow and division by zero, a function without a result answers `""`, failures answer
//! code 1 with a message. Where the node is not deterministic, the mock is:
//! - `peer.timestamp_ms` and `peer.timestamp_sec` give the particle's creation time;
//! - `peer.timeout` answers its message at once;
//! - `peer.identify` gives fixed versions and no addresses;
//! - `kad.neighborhood` gives every peer but the client, in the order of their names;
//! - `array.intersect`, `array.diff` and `array.sdiff` give sorted results (the node's order
//!   is a hash set's).
//!
//! Served: `op` (`noop`, `identity`, `array`, `array_length`, `concat`, `concat_strings`,
//! `string_to_b58`, `string_from_b58`, `bytes_to_b58`, `bytes_from_b58`), `peer` (`identify`,
//! `timestamp_ms`, `timestamp_sec`, `timeout`, `is_connected`), `kad.neighborhood`, `math`
//! (`add`, `sub`, `mul`, `fmul`, `div`, `rem`, `pow`, `log`), `cmp` (`gt`, `gte`, `lt`,
//! `lte`, `cmp`), `array` (`sum`, `dedup`, `intersect`, `diff`, `sdiff`, `slice`, `length`)
//! and `debug.stringify`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::engine::{CallRequest, ServiceAnswer};
use crate::network::{CallContext, Network};

/// The mock builtins of one network.
#[derive(Debug, Clone)]
pub struct Builtins {
    /// Peer ids `kad.neighborhood` answers, in order.
    neighborhood: Vec<String>,
    /// Peer ids `peer.is_connected` is true for, per asking peer.
    network: Network,
}

/// What a builtin function gives: a value, nothing (`""`), or an error message.
type Outcome = Result<Option<Value>, String>;

impl Builtins {
    /// The builtins of `network`, where `client` is the peer name that is not in the
    /// Kademlia neighborhood.
    pub fn new(network: &Network, client: &str) -> Builtins {
        let neighborhood = network
            .peers
            .iter()
            .filter(|peer| peer.name != client)
            .map(|peer| peer.id.clone())
            .collect();
        Builtins {
            neighborhood,
            network: network.clone(),
        }
    }

    /// Answers `request` if it is a builtin; `None` for any other service.
    pub fn answer(&self, call: &CallContext<'_>, request: &CallRequest) -> Option<ServiceAnswer> {
        let args = &request.arguments[..];
        let outcome = match request.service_id.as_str() {
            "op" => op(&request.function_name, args)?,
            "peer" => self.peer(call, &request.function_name, args)?,
            "kad" if request.function_name == "neighborhood" => self.neighborhood(args),
            "math" => math(&request.function_name, args)?,
            "cmp" => compare(&request.function_name, args)?,
            "array" => array(&request.function_name, args)?,
            "debug" if request.function_name == "stringify" => Ok(Some(stringify(args))),
            _ => return None,
        };
        Some(match outcome {
            Ok(value) => ServiceAnswer::json(0, &value.unwrap_or_else(|| json!(""))),
            Err(message) => ServiceAnswer::json(1, &json!(message)),
        })
    }

    fn peer(&self, call: &CallContext<'_>, function: &str, args: &[Value]) -> Option<Outcome> {
        let timestamp = call.particle.timestamp;
        Some(match function {
            "timestamp_ms" => Ok(Some(json!(timestamp))),
            "timestamp_sec" => Ok(Some(json!(timestamp / 1000))),
            "identify" => Ok(Some(json!({
                "external_addresses": [],
                "node_version": "mock",
                "air_version": "mock",
                "spell_version": "mock",
                "allowed_binaries": [],
            }))),
            "timeout" => match args {
                [duration, rest @ ..] if duration.is_u64() => match optional(rest.first()) {
                    Ok(Some(Value::String(message))) => Ok(Some(json!(message))),
                    Ok(None) => Ok(None),
                    _ => Err("peer timeout's message must be a string".to_owned()),
                },
                _ => Err("peer timeout needs a duration in milliseconds".to_owned()),
            },
            "is_connected" => match args {
                [Value::String(id)] => {
                    let connected =
                        self.network.peers.by_id(id).is_some_and(|peer| {
                            self.network.connected(&call.peer.name, &peer.name)
                        });
                    Ok(Some(json!(connected)))
                }
                _ => Err("peer is_connected needs one peer id".to_owned()),
            },
            _ => return None,
        })
    }

    fn neighborhood(&self, args: &[Value]) -> Outcome {
        let count = match optional(args.get(2))? {
            None => self.neighborhood.len(),
            Some(count) => count
                .as_u64()
                .ok_or("kad neighborhood's count must be a number")?
                as usize,
        };
        match args.first() {
            Some(Value::String(_)) => Ok(Some(json!(
                self.neighborhood[..count.min(self.neighborhood.len())]
            ))),
            _ => Err("kad neighborhood needs a key".to_owned()),
        }
    }
}

/// An optional argument: absent, `null`, `[]` or `[x]` (Aqua's option), or `x`.
fn optional(arg: Option<&Value>) -> Result<Option<&Value>, String> {
    match arg {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => match &items[..] {
            [] => Ok(None),
            [item] => Ok(Some(item)),
            _ => Err("an optional argument has more than one value".to_owned()),
        },
        Some(value) => Ok(Some(value)),
    }
}

fn op(function: &str, args: &[Value]) -> Option<Outcome> {
    Some(match function {
        "noop" => Ok(None),
        "identity" => match args {
            [] => Ok(None),
            [value] => Ok(Some(value.clone())),
            _ => Err(format!(
                "op identity takes at most 1 argument, got {}",
                args.len()
            )),
        },
        "array" => Ok(Some(Value::Array(args.to_vec()))),
        "array_length" => match args {
            [Value::Array(items)] => Ok(Some(json!(items.len()))),
            [_] => Err("op array_length's argument must be an array".to_owned()),
            _ => Err(format!(
                "op array_length takes 1 argument, got {}",
                args.len()
            )),
        },
        "concat" => {
            let mut all = Vec::new();
            for (index, arg) in args.iter().enumerate() {
                match arg {
                    Value::Array(items) => all.extend(items.iter().cloned()),
                    _ => return Some(Err(format!("op concat's argument {index} is not an array"))),
                }
            }
            Ok(Some(Value::Array(all)))
        }
        "concat_strings" => {
            let mut all = String::new();
            for (index, arg) in args.iter().enumerate() {
                match arg {
                    Value::String(text) => all.push_str(text),
                    _ => {
                        return Some(Err(format!(
                            "op concat_strings's argument {index} is not a string"
                        )))
                    }
                }
            }
            Ok(Some(json!(all)))
        }
        "string_to_b58" => one_string(args).map(|s| Some(json!(bs58::encode(s).into_string()))),
        "string_from_b58" => one_string(args).and_then(|s| {
            let bytes = from_b58(s)?;
            let text = String::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
            Ok(Some(json!(text)))
        }),
        "bytes_to_b58" => match args {
            [Value::Array(items)] => items
                .iter()
                .map(|item| item.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect::<Option<Vec<u8>>>()
                .map(|bytes| Some(json!(bs58::encode(bytes).into_string())))
                .ok_or_else(|| "op bytes_to_b58 needs an array of bytes".to_owned()),
            _ => Err("op bytes_to_b58 needs an array of bytes".to_owned()),
        },
        "bytes_from_b58" => one_string(args).and_then(|s| Ok(Some(json!(from_b58(s)?)))),
        _ => return None,
    })
}

fn one_string(args: &[Value]) -> Result<&str, String> {
    match args {
        [Value::String(text), ..] => Ok(text),
        _ => Err("expected a string argument".to_owned()),
    }
}

fn from_b58(text: &str) -> Result<Vec<u8>, String> {
    bs58::decode(text)
        .into_vec()
        .map_err(|e| format!("not base58: {e}"))
}

/// The two arguments as i64, or an error naming the function.
fn two_integers(function: &str, args: &[Value]) -> Result<(i64, i64), String> {
    match args {
        [x, y] => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Ok((x, y)),
            _ => Err(format!("{function} needs two integers, got {x} and {y}")),
        },
        _ => Err(format!("{function} takes 2 arguments, got {}", args.len())),
    }
}

fn math(function: &str, args: &[Value]) -> Option<Outcome> {
    let checked = |result: Option<i64>| -> Outcome {
        result
            .map(|value| Some(json!(value)))
            .ok_or_else(|| format!("i64 {function} overflow"))
    };
    let integers = || two_integers(&format!("math {function}"), args);
    Some(match function {
        "add" => integers().and_then(|(x, y)| checked(x.checked_add(y))),
        "sub" => integers().and_then(|(x, y)| checked(x.checked_sub(y))),
        "mul" => integers().and_then(|(x, y)| checked(x.checked_mul(y))),
        "div" => integers().and_then(|(x, y)| checked(x.checked_div(y))),
        "rem" => integers().and_then(|(x, y)| checked(x.checked_rem(y))),
        "pow" => integers().and_then(|(x, y)| {
            let y =
                u32::try_from(y).map_err(|_| format!("math pow's exponent {y} is not a u32"))?;
            checked(x.checked_pow(y))
        }),
        // The logarithm of y to base x, rounded down.
        "log" => integers().and_then(|(x, y)| {
            let base = u64::try_from(x).ok().filter(|&x| x >= 2);
            let value = u64::try_from(y).ok().filter(|&y| y >= 1);
            match (base, value) {
                (Some(base), Some(value)) => Ok(Some(json!(value.ilog(base)))),
                _ => Err("i64 log overflow".to_owned()),
            }
        }),
        // floor(x * y) over floats.
        "fmul" => match args {
            [x, y] => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) => Ok(Some(json!((x * y).floor() as i64))),
                _ => Err(format!("math fmul needs two numbers, got {x} and {y}")),
            },
            _ => Err(format!("math fmul takes 2 arguments, got {}", args.len())),
        },
        _ => return None,
    })
}

fn compare(function: &str, args: &[Value]) -> Option<Outcome> {
    let compare = |f: fn(i64, i64) -> Value| -> Outcome {
        let (x, y) = two_integers(&format!("cmp {function}"), args)?;
        Ok(Some(f(x, y)))
    };
    Some(match function {
        "gt" => compare(|x, y| json!(x > y)),
        "gte" => compare(|x, y| json!(x >= y)),
        "lt" => compare(|x, y| json!(x < y)),
        "lte" => compare(|x, y| json!(x <= y)),
        "cmp" => compare(|x, y| json!(x.cmp(&y) as i8)),
        _ => return None,
    })
}

fn array(function: &str, args: &[Value]) -> Option<Outcome> {
    let strings = |value: &Value| -> Result<Vec<String>, String> {
        value
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect()
            })
            .ok_or_else(|| format!("array {function} needs arrays of strings"))
    };
    let two_sets = || -> Result<(BTreeSet<String>, BTreeSet<String>), String> {
        match args {
            [xs, ys] => Ok((
                strings(xs)?.into_iter().collect(),
                strings(ys)?.into_iter().collect(),
            )),
            _ => Err(format!("array {function} takes 2 arrays")),
        }
    };
    let sorted = |set: BTreeSet<String>| Ok(Some(json!(set.into_iter().collect::<Vec<_>>())));
    Some(match function {
        "sum" => match args {
            [Value::Array(items)] => items
                .iter()
                .try_fold(0i64, |sum, item| {
                    let item = item.as_i64().ok_or("array sum needs integers")?;
                    sum.checked_add(item).ok_or("i64 add overflow")
                })
                .map(|sum| Some(json!(sum)))
                .map_err(str::to_owned),
            _ => Err("array sum takes 1 array".to_owned()),
        },
        "dedup" => match args {
            [xs] => strings(xs).map(|items| {
                let mut seen = BTreeSet::new();
                let unique: Vec<String> = items
                    .into_iter()
                    .filter(|item| seen.insert(item.clone()))
                    .collect();
                Some(json!(unique))
            }),
            _ => Err("array dedup takes 1 array".to_owned()),
        },
        "intersect" => two_sets().and_then(|(xs, ys)| sorted(&xs & &ys)),
        "diff" => two_sets().and_then(|(xs, ys)| sorted(&xs - &ys)),
        "sdiff" => two_sets().and_then(|(xs, ys)| sorted(&xs ^ &ys)),
        "length" => match args {
            [Value::Array(items)] => Ok(Some(json!(items.len()))),
            _ => Err("array length takes 1 array".to_owned()),
        },
        "slice" => match args {
            [Value::Array(items), start, end] => match (start.as_u64(), end.as_u64()) {
                (Some(start), Some(end)) if start <= end && end as usize <= items.len() => {
                    Ok(Some(json!(items[start as usize..end as usize])))
                }
                _ => Err(format!(
                    "array slice: bad range {start}..{end} of {} items",
                    items.len()
                )),
            },
            _ => Err("array slice takes an array, a start and an end".to_owned()),
        },
        _ => return None,
    })
}

/// `debug.stringify`: the JSON text of its one argument, of all arguments as an array when
/// there are several, and a fixed text when there are none.
fn stringify(args: &[Value]) -> Value {
    let text = match args {
        [] => "\"<empty argument list>\"".to_owned(),
        [one] => one.to_string(),
        many => Value::Array(many.to_vec()).to_string(),
    };
    json!(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Particle;
    use crate::peers::Peers;

    fn answer(service: &str, function: &str, args: Value) -> (i32, Value) {
        let mut peers = Peers::default();
        peers.add("client");
        peers.add("relay");
        let network = Network::new(peers);
        let builtins = Builtins::new(&network, "client");
        let particle = Particle::new(String::new(), "client");
        let call = CallContext {
            peer: network.peers.get("relay").expect("relay"),
            particle: &particle,
            init_peer_id: "",
        };
        let request = CallRequest {
            service_id: service.to_owned(),
            function_name: function.to_owned(),
            arguments: args.as_array().expect("array").clone(),
            tetraplets: Vec::new(),
        };
        let answer = builtins.answer(&call, &request).expect("a builtin");
        let result = serde_json::from_str(&answer.result).expect("JSON");
        (answer.ret_code, result)
    }

    #[test]
    fn arithmetic_is_checked_i64() {
        assert_eq!(answer("math", "add", json!([1, 2])), (0, json!(3)));
        assert_eq!(answer("math", "sub", json!([1, 2])), (0, json!(-1)));
        assert_eq!(answer("math", "div", json!([7, 2])), (0, json!(3)));
        assert_eq!(answer("math", "rem", json!([-7, 2])), (0, json!(-1)));
        assert_eq!(answer("math", "pow", json!([2, 10])), (0, json!(1024)));
        assert_eq!(answer("math", "log", json!([2, 1025])), (0, json!(10)));
        assert_eq!(answer("math", "fmul", json!([2.5, 3])), (0, json!(7)));
        assert_eq!(answer("math", "div", json!([1, 0])).0, 1);
        assert_eq!(answer("math", "mul", json!([i64::MAX, 2])).0, 1);
        assert_eq!(answer("math", "add", json!([1.5, 2])).0, 1);
        assert_eq!(answer("cmp", "cmp", json!([1, 2])), (0, json!(-1)));
        assert_eq!(answer("cmp", "gte", json!([2, 2])), (0, json!(true)));
    }

    #[test]
    fn op_and_array_follow_the_node() {
        assert_eq!(answer("op", "noop", json!([])), (0, json!("")));
        assert_eq!(answer("op", "identity", json!([["x"]])), (0, json!(["x"])));
        assert_eq!(
            answer("op", "concat", json!([["a"], [], ["b", "c"]])),
            (0, json!(["a", "b", "c"]))
        );
        assert_eq!(
            answer("op", "concat_strings", json!(["a", "b"])),
            (0, json!("ab"))
        );
        assert_eq!(answer("op", "array_length", json!([[1, 2]])), (0, json!(2)));
        assert_eq!(answer("op", "array_length", json!([1])).0, 1);
        let b58 = answer("op", "string_to_b58", json!(["hello"])).1;
        assert_eq!(
            answer("op", "string_from_b58", json!([b58])),
            (0, json!("hello"))
        );
        assert_eq!(
            answer("array", "dedup", json!([["b", "a", "b"]])),
            (0, json!(["b", "a"]))
        );
        assert_eq!(
            answer("array", "sdiff", json!([["c", "a"], ["a", "b"]])),
            (0, json!(["b", "c"]))
        );
        assert_eq!(answer("array", "sum", json!([[1, 2, 3]])), (0, json!(6)));
        assert_eq!(
            answer("debug", "stringify", json!([{"a": 1}])),
            (0, json!("{\"a\":1}"))
        );
    }

    #[test]
    fn the_neighborhood_leaves_out_the_client() {
        let relay = crate::peers::Peer::named("relay").id;
        assert_eq!(
            answer("kad", "neighborhood", json!(["key", [], []])),
            (0, json!([relay]))
        );
    }
}
