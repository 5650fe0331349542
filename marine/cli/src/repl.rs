//! `marine repl`: an interactive shell over a service loaded from its config.
//!
//! [`Session`] holds the service and turns one command line into a reply; it knows nothing of
//! terminals, so it is tested directly. [`run`] is the terminal side: line editing, history
//! kept in a file, and tab completion of commands and function names.
//!
//! A command that fails (bad JSON, an unknown function, a call the module refuses or traps
//! in) gets an error reply and the shell goes on.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use marine::{load_config, CallParameters, CompiledModule, Runtime, RuntimeConfig, Service};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use serde_json::Value;

use crate::info::interface_text;
use crate::Result;

/// The commands: name, short alias, arguments, and what it does.
const COMMANDS: [(&str, &str, &str, &str); 5] = [
    (
        "call",
        "c",
        "FUNCTION [ARGUMENTS] [CALL_PARAMETERS]",
        "call a facade function; ARGUMENTS is a JSON array or object (default []), \
         CALL_PARAMETERS a JSON object of call parameters",
    ),
    (
        "interface",
        "i",
        "",
        "show the modules' functions, records and imports",
    ),
    (
        "memory",
        "m",
        "",
        "show the linear memory the service's modules hold",
    ),
    ("help", "h", "", "show this text"),
    ("quit", "q", "", "leave the shell (`exit` and Ctrl-D too)"),
];

/// A loaded service and what the shell shows about it.
pub struct Session {
    service: Service,
    /// The modules in load order; the last is the facade.
    modules: Vec<CompiledModule>,
    memory_limit: Option<u64>,
}

/// What a command line gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Text to print (empty for an empty line).
    Text(String),
    /// Text to print as an error.
    Error(String),
    Quit,
}

impl Session {
    /// Loads the service that the config at `config` describes.
    pub fn load(config: &Path, cache_dir: Option<PathBuf>) -> Result<Session> {
        let runtime = Runtime::new(RuntimeConfig { cache_dir })?;
        let config = load_config(&runtime, config)?;
        let modules = config.modules.iter().map(|m| m.module.clone()).collect();
        let memory_limit = config.total_memory_limit;
        let service = Service::new(&runtime, config)?;
        Ok(Session {
            service,
            modules,
            memory_limit,
        })
    }

    /// The greeting: which modules were loaded.
    pub fn banner(&self) -> String {
        let names: Vec<&str> = self.modules.iter().map(|m| m.name()).collect();
        format!(
            "Loaded modules {} (the last is the facade).\nType `help` for the commands.\n",
            names.join(", ")
        )
    }

    /// The names of the functions `call` takes.
    pub fn function_names(&self) -> Vec<String> {
        let functions = &self.service.interface().functions;
        functions.iter().map(|f| f.name.clone()).collect()
    }

    /// Runs one command line.
    pub fn execute(&self, line: &str) -> Reply {
        let line = line.trim();
        let (command, rest) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(command, rest)| (command, rest.trim()));
        let result = match command {
            "" => Ok(String::new()),
            "call" | "c" => self.call(rest),
            "interface" | "i" => Ok(self.interface()),
            "memory" | "m" => Ok(self.memory()),
            "help" | "h" => Ok(help()),
            "quit" | "q" | "exit" => return Reply::Quit,
            _ => Err(format!(
                "unknown command `{command}`; type `help` for the commands"
            )),
        };
        match result {
            Ok(text) => Reply::Text(text),
            Err(message) => Reply::Error(message),
        }
    }

    fn call(&self, rest: &str) -> Result<String, String> {
        let (function, json) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if function.is_empty() {
            return Err("call needs a function name: call FUNCTION [ARGUMENTS]".into());
        }
        let mut values = serde_json::Deserializer::from_str(json).into_iter::<Value>();
        let mut next = |what: &str| {
            values
                .next()
                .transpose()
                .map_err(|e| format!("the {what} are not JSON: {e}"))
        };
        let arguments = next("arguments")?.unwrap_or_else(|| Value::Array(Vec::new()));
        let call_parameters = match next("call parameters")? {
            None => CallParameters::default(),
            Some(value) => serde_json::from_value(value)
                .map_err(|e| format!("the call parameters do not fit: {e}"))?,
        };
        if next("text after the call parameters")?.is_some() {
            return Err("call takes at most the arguments and the call parameters".into());
        }

        let start = Instant::now();
        let result = self
            .service
            .call_json(function, &arguments, call_parameters)
            .map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        // Values from JSON always print.
        let text = serde_json::to_string_pretty(&result).unwrap_or_default();
        Ok(format!(
            "{text}\n(took {:.1} ms)\n",
            elapsed.as_secs_f64() * 1e3
        ))
    }

    fn interface(&self) -> String {
        let mut out = String::new();
        let last = self.modules.len().saturating_sub(1);
        for (index, module) in self.modules.iter().enumerate() {
            let role = if index == last { " (facade)" } else { "" };
            let _ = writeln!(out, "Module `{}`{role}", module.name());
            for line in interface_text(module.interface()).lines() {
                let indent = if line.is_empty() { "" } else { "  " };
                let _ = writeln!(out, "{indent}{line}");
            }
            out.push('\n');
        }
        out
    }

    fn memory(&self) -> String {
        let used = self.service.memory_used();
        let limit = match self.memory_limit {
            Some(limit) => format!(" of {}", size_text(limit)),
            None => " (no limit)".to_owned(),
        };
        format!("{}{limit}\n", size_text(used))
    }
}

fn help() -> String {
    let mut out = String::from("Commands:\n");
    for (name, alias, arguments, what) in COMMANDS {
        let usage = format!("{name} {arguments}");
        let _ = writeln!(out, "  {:<48} ({alias}) {what}", usage.trim_end());
    }
    out.push_str("Tab completes commands and function names; ↑ and ↓ go through the history.\n");
    out
}

/// `n` bytes, with MiB for people.
fn size_text(n: u64) -> String {
    format!("{n} bytes ({:.2} MiB)", n as f64 / (1024.0 * 1024.0))
}

/// Completions for the word at `pos` in `line`: a command name for the first word, a function
/// name for the word after `call`. Returns where the completed word starts and the candidates.
pub fn completions(line: &str, pos: usize, functions: &[String]) -> (usize, Vec<String>) {
    let before = &line[..pos];
    let start = before
        .rfind(char::is_whitespace)
        .map_or(0, |space| space + 1);
    let prefix = &before[start..];
    let earlier: Vec<&str> = before[..start].split_whitespace().collect();
    let candidates: Vec<String> = match earlier.as_slice() {
        [] => COMMANDS
            .iter()
            .map(|(name, ..)| *name)
            .filter(|name| name.starts_with(prefix))
            .map(str::to_owned)
            .collect(),
        ["call" | "c"] => functions
            .iter()
            .filter(|name| name.starts_with(prefix))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    (start, candidates)
}

/// Completion for the line editor; the rest of [`Helper`] keeps its defaults.
struct Completion {
    functions: Vec<String>,
}

impl Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(completions(line, pos, &self.functions))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}

/// The history file: `.marine_repl_history` in the home directory, if there is one.
pub fn history_file() -> Option<PathBuf> {
    std::env::home_dir().map(|home| home.join(".marine_repl_history"))
}

/// Reads commands from the terminal until `quit` or end of input, printing the replies.
/// Each line is added to `history` (when given) as it is entered.
pub fn run(session: &Session, history: Option<&Path>) -> Result<(), String> {
    let mut editor: Editor<Completion, FileHistory> =
        Editor::new().map_err(|e| format!("cannot set up the terminal: {e}"))?;
    editor.set_helper(Some(Completion {
        functions: session.function_names(),
    }));
    if let Some(path) = history.filter(|path| path.exists()) {
        if let Err(e) = editor.load_history(path) {
            eprintln!("warning: cannot read the history {}: {e}", path.display());
        }
    }

    print!("{}", session.banner());
    loop {
        let line = match editor.readline("marine> ") {
            Ok(line) => line,
            // Ctrl-C drops the line being typed, as in a shell.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(format!("cannot read the terminal: {e}")),
        };
        if !line.trim().is_empty() {
            // Only fails for lines the history is set to ignore.
            let _ = editor.add_history_entry(line.as_str());
            if let Some(path) = history {
                if let Err(e) = editor.append_history(path) {
                    eprintln!("warning: cannot write the history {}: {e}", path.display());
                }
            }
        }
        match session.execute(&line) {
            Reply::Text(text) => print!("{text}"),
            Reply::Error(message) => println!("error: {message}"),
            Reply::Quit => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_first_word_completes_to_commands() {
        let functions = names(&["get_string"]);
        assert_eq!(
            completions("", 0, &functions),
            (0, names(&["call", "interface", "memory", "help", "quit"]))
        );
        assert_eq!(completions("me", 2, &functions), (0, names(&["memory"])));
        assert_eq!(completions("  q", 3, &functions), (2, names(&["quit"])));
        assert_eq!(completions("x", 1, &functions), (0, vec![]));
    }

    #[test]
    fn the_word_after_call_completes_to_functions() {
        let functions = names(&["get_string", "get_u32", "set_string"]);
        assert_eq!(
            completions("call get_", 9, &functions),
            (5, names(&["get_string", "get_u32"]))
        );
        assert_eq!(
            completions("c s", 3, &functions),
            (2, names(&["set_string"]))
        );
        // Completing in the middle of a line looks only at what is before the cursor.
        assert_eq!(
            completions("call g [1]", 6, &functions),
            (5, names(&["get_string", "get_u32"]))
        );
        assert_eq!(completions("call get_u32 x", 14, &functions), (13, vec![]));
        assert_eq!(completions("memory g", 8, &functions), (7, vec![]));
    }

    #[test]
    fn help_lists_every_command() {
        let text = help();
        for (name, alias, ..) in COMMANDS {
            assert!(text.contains(&format!("  {name}")), "{text}");
            assert!(text.contains(&format!("({alias})")), "{text}");
        }
    }
}
