//! The corpus of runnable Aqua programs and their run specs (`aqua/tests/programs`).
//!
//! Each program `<area>/<name>.aqua` has beside it:
//! - `<name>.toml`, its run spec: the peers, test services and, per exported function, the
//!   arguments (format below);
//! - `<name>.<function>.ref.air` per function, the reference compiler's AIR, and optionally
//!   `<name>.<function>.<variant>.ref.air`, its AIR with other options (see
//!   [`Function::variant_air`]);
//! - `<name>.expected`, the snapshot of what each function shows ([`Observed::render`]
//!   under a `== <function>` line per function).
//!
//! ```toml
//! peers = ["a", "b"]              # besides `client` and `relay`; optional
//! max_steps = 1000                # optional
//!
//! [services]                      # test services of every function
//! "a greeter.hello" = 'ok "hi"'   # "<peer or *> <service id>.<function or *>" = behaviour
//!
//! [functions.greet]               # one table per exported function
//! args = { name = "Ann", peer = "@a" }
//! services = { "b greeter.*" = "echo" }   # more test services, for this function only
//! ```
//!
//! Behaviours are those of [`crate::services`]. In arguments and answers `@name` stands for
//! a peer id. Service ids are the ones in AIR (`service Greeter("greeter")` is `greeter`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Observed, RunSpec, Topology, DEFAULT_MAX_STEPS};
use crate::services::ServiceRule;

/// One program of the corpus with its functions' run specs.
#[derive(Debug, Clone)]
pub struct Program {
    /// The area, the directory under the corpus root (e.g. `streams`).
    pub area: String,
    /// The file stem (e.g. `fold_par`).
    pub name: String,
    /// The `.aqua` file.
    pub source: PathBuf,
    /// The exported functions, by name.
    pub functions: Vec<Function>,
}

/// One exported function and how to run it.
#[derive(Debug, Clone)]
pub struct Function {
    /// Its name in Aqua.
    pub name: String,
    /// Its arguments, peers and services.
    pub spec: RunSpec,
    /// The reference compiler's AIR for it (`<name>.<function>.ref.air`).
    pub reference_air: PathBuf,
}

impl Function {
    /// The reference compiler's AIR for it compiled with other options: `variant` is `noxor`
    /// or `norelay` (`<name>.<function>.<variant>.ref.air`, which may not exist).
    pub fn variant_air(&self, variant: &str) -> PathBuf {
        self.reference_air
            .with_extension("")
            .with_extension(format!("{variant}.ref.air"))
    }
}

impl Program {
    /// `<area>/<name>`.
    pub fn id(&self) -> String {
        format!("{}/{}", self.area, self.name)
    }

    /// The snapshot file, `<name>.expected`.
    pub fn snapshot_path(&self) -> PathBuf {
        self.source.with_extension("expected")
    }

    /// The snapshot text of the program: each function's [`Observed::render`] under a
    /// `== <function>` line, in the order of [`Program::functions`].
    pub fn render_snapshot(observed: &[(&str, &Observed)]) -> String {
        let mut out = String::new();
        for (function, observed) in observed {
            out.push_str(&format!("== {function}\n{}", observed.render()));
        }
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecFile {
    #[serde(default)]
    peers: Vec<String>,
    max_steps: Option<usize>,
    #[serde(default)]
    services: BTreeMap<String, String>,
    #[serde(default)]
    functions: BTreeMap<String, FunctionFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FunctionFile {
    #[serde(default)]
    args: BTreeMap<String, toml::Value>,
    #[serde(default)]
    services: BTreeMap<String, String>,
}

/// Loads every program under `root` (`<root>/<area>/<name>.aqua`), in path order.
///
/// Fails with one message per problem: a program without a spec, a spec that does not parse or
/// names unknown peers, a function without reference AIR, or reference AIR for a function the
/// spec does not list.
pub fn load(root: &Path) -> Result<Vec<Program>, Vec<String>> {
    let mut programs = Vec::new();
    let mut problems = Vec::new();
    let areas = sorted_entries(root).map_err(|e| vec![e])?;
    for area_dir in areas.into_iter().filter(|path| path.is_dir()) {
        let area = file_name(&area_dir);
        let files = match sorted_entries(&area_dir) {
            Ok(files) => files,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        for source in files
            .iter()
            .filter(|path| path.extension().is_some_and(|e| e == "aqua"))
        {
            match load_program(&area, source, &files) {
                Ok(program) => programs.push(program),
                Err(e) => problems.push(format!("{}: {e}", source.display())),
            }
        }
    }
    if problems.is_empty() {
        Ok(programs)
    } else {
        Err(problems)
    }
}

fn load_program(area: &str, source: &Path, siblings: &[PathBuf]) -> Result<Program, String> {
    let name = source
        .file_stem()
        .and_then(|stem| stem.to_str())
        .ok_or("the file name is not UTF-8")?
        .to_owned();
    let spec_path = source.with_extension("toml");
    let text = std::fs::read_to_string(&spec_path)
        .map_err(|e| format!("cannot read its run spec {}: {e}", spec_path.display()))?;
    let file: SpecFile = toml::from_str(&text).map_err(|e| format!("its run spec: {e}"))?;
    let topology = Topology {
        peers: file.peers,
        ..Topology::default()
    };
    let program_rules = rules(&file.services, &topology)?;
    let fixture_prefix = format!("{name}.");
    let fixtures: Vec<String> = siblings
        .iter()
        .map(|path| file_name(path))
        .filter_map(|file| {
            file.strip_prefix(&fixture_prefix)?
                .strip_suffix(".ref.air")
                // A variant (`<function>.noxor`) belongs to its function.
                .map(|f| f.split_once('.').map_or(f, |(function, _)| function))
                .map(str::to_owned)
        })
        .collect();
    if let Some(extra) = fixtures.iter().find(|f| !file.functions.contains_key(*f)) {
        return Err(format!(
            "{name}.{extra}.ref.air has no `[functions.{extra}]` in the run spec"
        ));
    }
    let mut functions = Vec::new();
    for (function, spec) in file.functions {
        if !fixtures.contains(&function) {
            return Err(format!(
                "function `{function}` has no reference AIR {name}.{function}.ref.air"
            ));
        }
        let mut services = program_rules.clone();
        services.extend(rules(&spec.services, &topology)?);
        let args = spec
            .args
            .into_iter()
            .map(|(arg, value)| {
                let value = serde_json::to_value(value)
                    .map_err(|e| format!("argument `{arg}` of `{function}`: {e}"))?;
                Ok((arg, value))
            })
            .collect::<Result<_, String>>()?;
        functions.push(Function {
            reference_air: source.with_file_name(format!("{name}.{function}.ref.air")),
            name: function,
            spec: RunSpec {
                args,
                topology: topology.clone(),
                services,
                max_steps: file.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
            },
        });
    }
    if functions.is_empty() {
        return Err("the run spec lists no function".to_owned());
    }
    Ok(Program {
        area: area.to_owned(),
        name,
        source: source.to_owned(),
        functions,
    })
}

/// Parses `"<peer or *> <service>.<function>" = "<behaviour>"` entries.
fn rules(
    entries: &BTreeMap<String, String>,
    topology: &Topology,
) -> Result<Vec<ServiceRule>, String> {
    entries
        .iter()
        .map(|(target, behaviour)| {
            let in_rule = |e: String| format!("service `{target}`: {e}");
            let (peer, call) = target
                .split_once(' ')
                .ok_or_else(|| in_rule("expected `<peer or *> <service>.<function>`".to_owned()))?;
            let peer = (peer != "*").then_some(peer);
            if let Some(peer) = peer {
                if !topology.names().any(|name| name == peer) {
                    return Err(in_rule(format!("@{peer} is not a peer of the program")));
                }
            }
            ServiceRule::parse(peer, call.trim(), behaviour).map_err(in_rule)
        })
        .collect()
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths = entries
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    paths.sort();
    Ok(paths)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}
