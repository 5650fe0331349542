//! The `air` command: check, format and inspect AIR scripts.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "air",
    version,
    about = "Check, format and inspect AIR (Aqua Intermediate Representation) scripts",
    after_help = "Use `-` as a file name to read standard input."
)]
struct Cli {
    /// When to color diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    /// Color when standard error is a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
enum Command {
    /// Check that files are valid AIR: syntax and the static rules of AquaVM.
    ///
    /// Prints diagnostics to standard error; exits with 1 if any file has an error (warnings
    /// alone do not fail).
    Check {
        /// Files to check (`-` for standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Rewrite files in the canonical layout.
    ///
    /// Files with errors are left untouched. With `-`, reads standard input and writes the
    /// result to standard output.
    Fmt {
        /// Do not write; exit with 1 if a file is not formatted.
        #[arg(long)]
        check: bool,
        /// Files to format (`-` for standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print figures about a script: instructions, depth, variables, calls.
    Stats {
        /// The script (`-` for standard input).
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    // Every file is processed, even after a failure, so that one run reports them all.
    let ok = match cli.command {
        Command::Check { files } => files
            .iter()
            .map(|file| check(file, color))
            .fold(true, |all, ok| all & ok),
        Command::Fmt { check, files } => files
            .iter()
            .map(|file| format(file, check, color))
            .fold(true, |all, ok| all & ok),
        Command::Stats { file } => stats(&file, color),
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn display_name(path: &Path) -> String {
    if is_stdin(path) {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads a file as UTF-8 text; reports problems on stderr and returns `None`.
fn read(path: &Path, color: bool) -> Option<String> {
    let name = display_name(path);
    let bytes = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read {name}: {error}");
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(error) => {
            let offset = error.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(error.as_bytes()).into_owned();
            // In the lossy text, the invalid byte became U+FFFD at the same offset.
            let span = air::Span::new(offset as u32, offset as u32 + 1);
            let diagnostic = air::Diagnostic::new(
                air::ErrorCode::InvalidUtf8,
                format!("{name} is not valid UTF-8 (byte {offset})"),
                span,
                "invalid byte",
            );
            eprint!("{}", diagnostic.render(&name, &lossy, color));
            None
        }
    }
}

fn report(name: &str, source: &str, diagnostics: &[air::Diagnostic], color: bool) {
    let mut stderr = std::io::stderr().lock();
    for diagnostic in diagnostics {
        let _ = stderr.write_all(diagnostic.render(name, source, color).as_bytes());
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let warnings = diagnostics.iter().filter(|d| d.code.is_warning()).count();
    let errors = diagnostics.len() - warnings;
    let summary = match (errors, warnings) {
        (_, 0) => plural(errors, "error"),
        (0, _) => plural(warnings, "warning"),
        _ => format!(
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    };
    let _ = writeln!(stderr, "{name}: {summary}");
}

fn check(path: &Path, color: bool) -> bool {
    let Some(source) = read(path, color) else {
        return false;
    };
    let parsed = air::check(&source);
    if !parsed.diagnostics.is_empty() {
        report(&display_name(path), &source, &parsed.diagnostics, color);
    }
    !parsed.has_errors()
}

fn format(path: &Path, check_only: bool, color: bool) -> bool {
    let name = display_name(path);
    let Some(source) = read(path, color) else {
        return false;
    };
    // Warnings do not stop formatting; `air check` reports them.
    let parsed = air::check(&source);
    if parsed.has_errors() {
        report(&name, &source, &parsed.diagnostics, color);
        return false;
    }
    let formatted = air::print(&parsed.script);
    if check_only {
        if formatted != source {
            eprintln!("{name}: not formatted");
            return false;
        }
        return true;
    }
    if is_stdin(path) {
        let mut stdout = std::io::stdout().lock();
        return match stdout
            .write_all(formatted.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => true,
            Err(error) => {
                eprintln!("error: cannot write the formatted script: {error}");
                false
            }
        };
    }
    if formatted == source {
        return true;
    }
    // Write next to the file and rename, so that a failure never leaves half a script.
    let temporary = path.with_extension("air.fmt-tmp");
    let written = std::fs::write(&temporary, formatted.as_bytes())
        .and_then(|()| std::fs::rename(&temporary, path));
    match written {
        Ok(()) => true,
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            eprintln!("error: cannot write {name}: {error}");
            false
        }
    }
}

fn stats(path: &Path, color: bool) -> bool {
    let name = display_name(path);
    let Some(source) = read(path, color) else {
        return false;
    };
    let parsed = air::parse(&source);
    if !parsed.diagnostics.is_empty() {
        report(&name, &source, &parsed.diagnostics, color);
        return false;
    }
    print!("{}", air::stats::stats(&parsed.script));
    true
}
