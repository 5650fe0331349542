//! Scenario files: a header of `;` directives, then the AIR script.
//!
//! ```text
//! ; A free comment line: what the scenario checks.
//! ; peers: a b relay          (optional; every `@name` used also becomes a peer)
//! ; init: a                  (default: the first name of `peers:`, else `a`)
//! ; particle: id=p1 timestamp=1700000000000 ttl=30000   (any subset; these are defaults)
//! ; service b svc.fn: ok 42  (see `services`; peer or `*`, function or `*`)
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

use crate::engine::Engine;
use crate::network::{
    run_particle, Network, Observables, Order, Particle, DEFAULT_MAX_STEPS, DEFAULT_PARTICLE_ID,
    DEFAULT_TIMESTAMP, DEFAULT_TTL,
};
use crate::peers::{mentioned_names, Peers};
use crate::services::{ServiceRule, Services};

/// A parsed scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The peers and how they connect.
    pub network: Network,
    /// The particle, its script with `@name`s replaced by peer ids.
    pub particle: Particle,
    /// The mock services of all peers.
    pub services: Vec<ServiceRule>,
}

impl Scenario {
    /// Reads and parses the scenario file at `path`.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses a scenario's text.
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
            rule.behaviour = rule.behaviour.substitute(&peers);
        }
        let body: Vec<&str> = text.lines().skip(header_len).collect();
        let particle = Particle {
            script: peers.substitute(&body.join("\n")),
            init,
            id: particle_id,
            timestamp,
            ttl,
        };
        let network = Network {
            max_steps,
            order,
            redeliver,
            ..Network::new(peers)
        };
        Ok(Scenario {
            network,
            particle,
            services,
        })
    }

    /// Runs the scenario with its mock services; `engine_for` is as in [`run_particle`].
    pub fn run<'e>(&self, engine_for: &dyn Fn(&str, usize) -> &'e dyn Engine) -> Observables {
        let mut services = Services::new(self.services.clone());
        run_particle(&self.network, &self.particle, &mut services, engine_for)
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
    ServiceRule::parse((peer != "*").then_some(peer), call, behaviour)
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::engine::{StepInput, StepOutcome};
    use crate::peers::Peer;
    use crate::VmEngine;

    #[test]
    fn header_mistakes_are_reported() {
        let error = |text: &str| Scenario::parse(text).expect_err(text);
        assert!(error("; peer: a\n(null)").contains("unknown directive `peer:`"));
        assert!(error("; service a s.f: maybe\n(null)").contains("unknown service behaviour"));
        assert!(error("; particle: age=3\n(null)").contains("unknown particle field"));
        assert!(error("; network: random\n(null)").contains("unknown network order"));
        assert!(error("; service a s.f: raw x\n(null)").contains("needs a ret_code"));
        let scenario = Scenario::parse("; Note: free text\n; init: b\n(null)").expect("valid");
        assert_eq!(scenario.particle.init, "b");
        assert_eq!(scenario.particle.script, "(null)");
    }

    /// Records the current peer of each step it is given.
    struct Recording<'a> {
        inner: &'a dyn Engine,
        steps: RefCell<Vec<String>>,
    }

    impl Engine for Recording<'_> {
        fn name(&self) -> &str {
            "recording"
        }

        fn step(&self, input: &StepInput<'_>) -> StepOutcome {
            self.steps
                .borrow_mut()
                .push(input.current_peer_id.to_owned());
            self.inner.step(input)
        }
    }

    #[test]
    fn engine_choice_sees_every_run() {
        let scenario = Scenario::parse(
            "; service b s.f: ok 1\n\
             (seq (call \"@b\" (\"s\" \"f\") [] x) (call \"@a\" (\"s\" \"f\") [x]))",
        )
        .expect("valid");
        let recording = Recording {
            inner: &VmEngine,
            steps: RefCell::new(Vec::new()),
        };
        let choices = RefCell::new(Vec::new());
        let observables = scenario.run(&|peer, run| {
            choices.borrow_mut().push(format!("{peer}{run}"));
            &recording
        });
        assert_eq!(choices.into_inner(), ["a0", "b1", "b2", "a3", "a4"]);
        let (a, b) = (Peer::named("a").id, Peer::named("b").id);
        assert_eq!(
            recording.steps.into_inner(),
            [&a, &b, &b, &a, &a].map(String::clone)
        );
        // No rule serves s.f on @a.
        let codes: Vec<i32> = observables.deliveries[2].runs[0]
            .calls
            .values()
            .map(|(_, answer)| answer.ret_code)
            .collect();
        assert_eq!(codes, [1]);
    }
}
