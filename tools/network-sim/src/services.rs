//! Mock services: rules that answer calls with fixed behaviours, declared per scenario or per
//! run of an Aqua function.
//!
//! A rule matches calls by peer (or any peer), service id and function name (or any
//! function) and answers with one behaviour:
//!
//! - `ok <json>`: succeeds with that value;
//! - `err <ret_code> <json>`: fails with that code and value;
//! - `echo`: succeeds with the array of all arguments;
//! - `arg <n>`: succeeds with argument `n` (0-based), so `arg 0` is the identity;
//! - `seq [<json>, ...]`: succeeds with the next value of the list on each call at a peer,
//!   then repeats the last one;
//! - `lookup {"<key>": <json>, ...}`: succeeds with the value under the first argument (a
//!   string, or else its JSON text), and fails with code 1 when there is none;
//! - `tetraplets`: succeeds with the call's tetraplets, one array per argument, each
//!   tetraplet an object `{peer_pk, service_id, function_name, lens}`;
//! - `raw <ret_code> <text>`: answers with that code and the rest of the line as the result
//!   text, verbatim, so it need not be JSON (a misbehaving service).
//!
//! The most specific rule wins: a named peer beats `*`, a named function beats `*`, and
//! among equals the later declaration wins. A call no rule matches fails with code 1 and a
//! message naming the service.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::engine::{CallRequest, ServiceAnswer};
use crate::network::{CallContext, ServiceHost};
use crate::peers::Peers;

/// How a mock service answers (the forms are described in the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// `ok <json>`.
    Ok(Value),
    /// `err <ret_code> <json>`.
    Err(i32, Value),
    /// `echo`.
    Echo,
    /// `arg <n>`.
    Arg(usize),
    /// `seq [<json>, ...]`.
    Seq(Vec<Value>),
    /// `lookup {"<key>": <json>, ...}`.
    Lookup(serde_json::Map<String, Value>),
    /// `tetraplets`.
    Tetraplets,
    /// `raw <ret_code> <text>`.
    Raw(i32, String),
}

impl Behaviour {
    /// Parses `ok 42`, `err 3 "boom"`, `echo`, `arg 1`, `seq [1, 2]`, `lookup {"k": 1}`,
    /// `tetraplets` or `raw 0 not json`.
    pub fn parse(text: &str) -> Result<Behaviour, String> {
        let text = text.trim();
        let (word, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let rest = rest.trim();
        let json = |text: &str| -> Result<Value, String> {
            serde_json::from_str(text).map_err(|e| format!("bad JSON `{text}`: {e}"))
        };
        let code_and_rest = |what: &str| -> Result<(i32, &str), String> {
            let (code, value) = rest
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("`{what}` needs a ret_code and a result"))?;
            let code = code
                .parse()
                .map_err(|e| format!("bad ret_code `{code}`: {e}"))?;
            Ok((code, value.trim()))
        };
        match word {
            "ok" => Ok(Behaviour::Ok(json(rest)?)),
            "err" => {
                let (code, value) = code_and_rest("err")?;
                Ok(Behaviour::Err(code, json(value)?))
            }
            "raw" => {
                let (code, text) = code_and_rest("raw")?;
                Ok(Behaviour::Raw(code, text.to_owned()))
            }
            "echo" if rest.is_empty() => Ok(Behaviour::Echo),
            "tetraplets" if rest.is_empty() => Ok(Behaviour::Tetraplets),
            "arg" => rest
                .parse()
                .map(Behaviour::Arg)
                .map_err(|e| format!("bad argument index `{rest}`: {e}")),
            "seq" => match json(rest)? {
                Value::Array(values) if !values.is_empty() => Ok(Behaviour::Seq(values)),
                _ => Err("`seq` needs a non-empty JSON array".to_owned()),
            },
            "lookup" => match json(rest)? {
                Value::Object(table) => Ok(Behaviour::Lookup(table)),
                _ => Err("`lookup` needs a JSON object".to_owned()),
            },
            _ => Err(format!("unknown service behaviour `{text}`")),
        }
    }

    /// The behaviour with every `@name` in its values replaced by the peer id of `name`.
    pub fn substitute(&self, peers: &Peers) -> Behaviour {
        self.substitute_text(&|text| peers.substitute(text))
    }

    /// The behaviour with `substitute` applied to the text of every value in it (and to the
    /// keys of a `lookup`); `substitute` must keep JSON valid.
    pub fn substitute_text(&self, substitute: &dyn Fn(&str) -> String) -> Behaviour {
        let value = |v: &Value| {
            serde_json::from_str(&substitute(&v.to_string()))
                .expect("substitution keeps JSON valid")
        };
        match self {
            Behaviour::Ok(v) => Behaviour::Ok(value(v)),
            Behaviour::Err(code, v) => Behaviour::Err(*code, value(v)),
            Behaviour::Seq(values) => Behaviour::Seq(values.iter().map(value).collect()),
            Behaviour::Lookup(table) => Behaviour::Lookup(
                table
                    .iter()
                    .map(|(key, v)| (substitute(key), value(v)))
                    .collect(),
            ),
            Behaviour::Raw(code, text) => Behaviour::Raw(*code, substitute(text)),
            other => other.clone(),
        }
    }
}

/// One mock service declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRule {
    /// Peer name, `None` for any peer.
    pub peer: Option<String>,
    /// The service id it answers.
    pub service_id: String,
    /// `None` for any function.
    pub function_name: Option<String>,
    /// How it answers.
    pub behaviour: Behaviour,
}

impl ServiceRule {
    /// Parses `SERVICE.FUNCTION` (function `*`: any; `SERVICE` alone: the empty function
    /// name) and a behaviour, for `peer` (`None`: any peer).
    pub fn parse(peer: Option<&str>, call: &str, behaviour: &str) -> Result<ServiceRule, String> {
        let (service_id, function_name) = call.split_once('.').unwrap_or((call, ""));
        Ok(ServiceRule {
            peer: peer.map(str::to_owned),
            service_id: service_id.to_owned(),
            function_name: (function_name != "*").then(|| function_name.to_owned()),
            behaviour: Behaviour::parse(behaviour)?,
        })
    }
}

impl ServiceRule {
    /// How specific the rule is: a named peer beats any peer, then a named function beats
    /// any function. Among matching rules the most specific answers, and among equally
    /// specific ones the last declared.
    pub fn specificity(&self) -> usize {
        usize::from(self.peer.is_some()) * 2 + usize::from(self.function_name.is_some())
    }
}

/// A set of mock service rules plus the per-peer state of `seq` rules.
#[derive(Debug, Clone, Default)]
pub struct Services {
    rules: Vec<ServiceRule>,
    /// Calls answered so far, by (rule index, peer name).
    seq_positions: HashMap<(usize, String), usize>,
}

impl Services {
    /// The services that `rules` declare.
    pub fn new(rules: Vec<ServiceRule>) -> Services {
        Services {
            rules,
            seq_positions: HashMap::new(),
        }
    }

    /// Answers one call request made at the peer called `peer`; a call no rule matches fails
    /// with code 1.
    pub fn answer(&mut self, peer: &str, request: &CallRequest) -> ServiceAnswer {
        self.try_answer(peer, request).unwrap_or_else(|| {
            ServiceAnswer::json(
                1,
                &json!(format!(
                    "no mock service {:?} function {:?} on peer @{peer}",
                    request.service_id, request.function_name
                )),
            )
        })
    }

    /// Answers one call request made at the peer called `peer`, if a rule matches it.
    pub fn try_answer(&mut self, peer: &str, request: &CallRequest) -> Option<ServiceAnswer> {
        let index = self.matching_rule(peer, request)?;
        let ok = |result: Value| ServiceAnswer::json(0, &result);
        Some(match &self.rules[index].behaviour {
            Behaviour::Ok(value) => ok(value.clone()),
            Behaviour::Err(ret_code, value) => ServiceAnswer::json(*ret_code, value),
            Behaviour::Raw(ret_code, text) => ServiceAnswer {
                ret_code: *ret_code,
                result: text.clone(),
            },
            Behaviour::Echo => ok(Value::Array(request.arguments.clone())),
            Behaviour::Arg(n) => match request.arguments.get(*n) {
                Some(value) => ok(value.clone()),
                None => ServiceAnswer::json(
                    1,
                    &json!(format!(
                        "mock wants argument {n} but the call has {}",
                        request.arguments.len()
                    )),
                ),
            },
            Behaviour::Seq(values) => {
                let position = self
                    .seq_positions
                    .entry((index, peer.to_owned()))
                    .or_default();
                let value = values[(*position).min(values.len() - 1)].clone();
                *position += 1;
                ok(value)
            }
            Behaviour::Lookup(table) => {
                let key = match request.arguments.first() {
                    Some(Value::String(key)) => key.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                match table.get(&key) {
                    Some(value) => ok(value.clone()),
                    None => ServiceAnswer::json(1, &json!(format!("mock has no entry {key:?}"))),
                }
            }
            Behaviour::Tetraplets => ok(request
                .tetraplets
                .iter()
                .map(|list| {
                    list.iter()
                        .map(|t| {
                            json!({
                                "peer_pk": t.peer_pk,
                                "service_id": t.service_id,
                                "function_name": t.function_name,
                                "lens": t.lens,
                            })
                        })
                        .collect::<Value>()
                })
                .collect()),
        })
    }

    fn matching_rule(&self, peer: &str, request: &CallRequest) -> Option<usize> {
        self.rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| {
                rule.peer.as_deref().is_none_or(|p| p == peer)
                    && rule.service_id == request.service_id
                    && rule
                        .function_name
                        .as_deref()
                        .is_none_or(|f| f == request.function_name)
            })
            .max_by_key(|(index, rule)| (rule.specificity(), *index))
            .map(|(index, _)| index)
    }
}

impl ServiceHost for Services {
    fn answer(&mut self, call: &CallContext<'_>, request: &CallRequest) -> ServiceAnswer {
        Services::answer(self, &call.peer.name, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_service_rule_answers() {
        let rule = |peer: Option<&str>, call: &str, behaviour: &str| {
            ServiceRule::parse(peer, call, behaviour).expect("rule")
        };
        let mut services = Services::new(vec![
            rule(Some("a"), "s.f", "ok 1"),
            rule(None, "s.f", "ok 2"),
            rule(Some("a"), "s.*", "seq [3, 4]"),
            rule(Some("a"), "s.f", "err 5 \"later\""),
        ]);
        let call = |function: &str| CallRequest {
            service_id: "s".to_owned(),
            function_name: function.to_owned(),
            arguments: vec![],
            tetraplets: vec![],
        };
        let answer = |services: &mut Services, peer: &str, function: &str| {
            let answer = services.answer(peer, &call(function));
            (answer.ret_code, answer.result.clone())
        };
        assert_eq!(answer(&mut services, "a", "f"), (5, "\"later\"".into()));
        assert_eq!(answer(&mut services, "b", "f"), (0, "2".into()));
        assert_eq!(answer(&mut services, "a", "g"), (0, "3".into()));
        assert_eq!(answer(&mut services, "a", "g"), (0, "4".into()));
        assert_eq!(answer(&mut services, "a", "g"), (0, "4".into()));
        assert_eq!(answer(&mut services, "b", "g").0, 1);
    }

    #[test]
    fn lookup_answers_by_the_first_argument() {
        let rule = ServiceRule::parse(None, "s.f", r#"lookup {"k": [1], "2": "two"}"#);
        let mut services = Services::new(vec![rule.expect("rule")]);
        let mut ask = |arguments: Value| {
            let request = CallRequest {
                service_id: "s".to_owned(),
                function_name: "f".to_owned(),
                arguments: arguments.as_array().cloned().unwrap_or_default(),
                tetraplets: vec![],
            };
            let answer = services.answer("a", &request);
            (answer.ret_code, answer.result)
        };
        assert_eq!(ask(json!(["k"])), (0, "[1]".to_owned()));
        assert_eq!(ask(json!([2])), (0, "\"two\"".to_owned()));
        assert_eq!(ask(json!(["x"])).0, 1);
    }

    #[test]
    fn a_service_without_function_matches_the_empty_name_only() {
        let rule = ServiceRule::parse(None, "op", "ok 1").expect("rule");
        assert_eq!(rule.function_name.as_deref(), Some(""));
        assert!(ServiceRule::parse(None, "op.*", "ok 1")
            .expect("rule")
            .function_name
            .is_none());
    }
}
