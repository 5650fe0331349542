//! Scenario files: a header of `;` directives, then the AIR script.
//!
//! ```text
//! ; A free comment line: what the scenario checks.
//! ; peers: a b relay          (optional; every `@name` used also becomes a peer)
//! ; init: a                  (default: the first name of `peers:`, else `a`)
//! ; particle: id=p1 timestamp=1700000000000 ttl=30000   (any subset; these are defaults)
//! ; service b svc.fn: ok 42  (see `services.rs`; peer or `*`, function or `*`)
//! ; max-steps: 100           (cap on interpreter runs, default 100)
//! ; network: lifo            (`fifo`, the default, or `lifo`: newest delivery first)
//! ; redeliver: b             (every delivery to these peers arrives twice in a row)
//! (seq
//!     (call "@b" ("svc" "fn") [] x)
//!     (call %init_peer_id% ("svc" "fn") [x]))
//! ```
//!
//! The header is the leading run of lines starting with `;`. A header line whose first
//! word is a directive is parsed as one; another lowercase first word ending in `:` is an
//! error (a misspelt directive); anything else is a comment. In the script and in service JSON,
//! `@name` stands for the peer id of `name`.

use std::path::Path;

use super::peers::{mentioned_names, Peers};
use super::services::{Behaviour, ServiceRule};

/// Order in which pending deliveries are processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Oldest delivery first.
    Fifo,
    /// Newest delivery first.
    Lifo,
}

/// A parsed scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub peers: Peers,
    pub init: String,
    pub particle_id: String,
    pub timestamp: u64,
    pub ttl: u32,
    pub services: Vec<ServiceRule>,
    pub max_steps: usize,
    pub order: Order,
    pub redeliver: Vec<String>,
    /// The script with `@name`s replaced by peer ids.
    pub script: String,
}

pub const DEFAULT_PARTICLE_ID: &str = "particle-1";
pub const DEFAULT_TIMESTAMP: u64 = 1_700_000_000_000;
pub const DEFAULT_TTL: u32 = 30_000;
pub const DEFAULT_MAX_STEPS: usize = 100;

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        let header_len = text
            .lines()
            .take_while(|line| line.trim_start().starts_with(';'))
            .count();
        let mut declared = Vec::new();
        let mut init = None;
        let mut particle_id = DEFAULT_PARTICLE_ID.to_owned();
        let mut timestamp = DEFAULT_TIMESTAMP;
        let mut ttl = DEFAULT_TTL;
        let mut services = Vec::new();
        let mut max_steps = DEFAULT_MAX_STEPS;
        let mut order = Order::Fifo;
        let mut redeliver = Vec::new();
        for (index, line) in text.lines().take(header_len).enumerate() {
            let at_line = |e: String| format!("line {}: {e}", index + 1);
            let line = line.trim_start().trim_start_matches(';').trim();
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim();
            match word {
                "peers:" => declared.extend(rest.split_whitespace().map(str::to_owned)),
                "init:" => init = Some(rest.to_owned()),
                "particle:" => {
                    for field in rest.split([' ', ',']).filter(|f| !f.is_empty()) {
                        let (key, value) = field
                            .split_once('=')
                            .ok_or_else(|| at_line(format!("expected key=value, got `{field}`")))?;
                        let bad = |e: &dyn std::fmt::Display| at_line(format!("bad {key}: {e}"));
                        match key {
                            "id" => particle_id = value.to_owned(),
                            "timestamp" => timestamp = value.parse().map_err(|e| bad(&e))?,
                            "ttl" => ttl = value.parse().map_err(|e| bad(&e))?,
                            _ => return Err(at_line(format!("unknown particle field `{key}`"))),
                        }
                    }
                }
                "service" => services.push(parse_service(rest).map_err(at_line)?),
                "max-steps:" => {
                    max_steps = rest
                        .parse()
                        .map_err(|e| at_line(format!("bad max-steps: {e}")))?
                }
                "network:" => {
                    order = match rest {
                        "fifo" => Order::Fifo,
                        "lifo" => Order::Lifo,
                        _ => return Err(at_line(format!("unknown network order `{rest}`"))),
                    }
                }
                "redeliver:" => redeliver.extend(rest.split_whitespace().map(str::to_owned)),
                _ if is_directive_like(word) => {
                    return Err(at_line(format!("unknown directive `{word}`")))
                }
                _ => {}
            }
        }
        let init = init
            .or_else(|| declared.first().cloned())
            .unwrap_or_else(|| "a".to_owned());
        let mut peers = Peers::default();
        peers.add(&init);
        let service_peers = services.iter().filter_map(|rule| rule.peer.clone());
        for name in declared
            .iter()
            .cloned()
            .chain(redeliver.iter().cloned())
            .chain(service_peers)
            .chain(mentioned_names(text))
        {
            peers.add(&name);
        }
        for rule in &mut services {
            rule.behaviour = substitute_behaviour(&peers, &rule.behaviour);
        }
        let body: Vec<&str> = text.lines().skip(header_len).collect();
        Ok(Scenario {
            script: peers.substitute(&body.join("\n")),
            peers,
            init,
            particle_id,
            timestamp,
            ttl,
            services,
            max_steps,
            order,
            redeliver,
        })
    }
}

/// A lowercase word ending in `:` looks like a directive, so an unknown one is a typo.
fn is_directive_like(word: &str) -> bool {
    word.strip_suffix(':').is_some_and(|word| {
        !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    })
}

/// Parses `PEER SERVICE.FUNCTION: BEHAVIOUR`.
fn parse_service(text: &str) -> Result<ServiceRule, String> {
    let (target, behaviour) = text
        .split_once(':')
        .ok_or("expected `service PEER SERVICE.FUNCTION: BEHAVIOUR`")?;
    let mut words = target.split_whitespace();
    let (Some(peer), Some(call), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("expected `PEER SERVICE.FUNCTION`, got `{target}`"));
    };
    let (service_id, function_name) = call.split_once('.').unwrap_or((call, ""));
    Ok(ServiceRule {
        peer: (peer != "*").then(|| peer.to_owned()),
        service_id: service_id.to_owned(),
        function_name: (function_name != "*").then(|| function_name.to_owned()),
        behaviour: Behaviour::parse(behaviour)?,
    })
}

fn substitute_behaviour(peers: &Peers, behaviour: &Behaviour) -> Behaviour {
    let value = |v: &serde_json::Value| {
        serde_json::from_str(&peers.substitute(&v.to_string())).expect("still JSON")
    };
    match behaviour {
        Behaviour::Ok(v) => Behaviour::Ok(value(v)),
        Behaviour::Err(code, v) => Behaviour::Err(*code, value(v)),
        Behaviour::Seq(values) => Behaviour::Seq(values.iter().map(value).collect()),
        Behaviour::Raw(code, text) => Behaviour::Raw(*code, peers.substitute(text)),
        other => other.clone(),
    }
}
