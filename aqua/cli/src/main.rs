//! The `aquac` command, a thin layer over the `aqua` library.
//!
//! Today it formats Aqua source; checking and compiling to AIR arrive with the compiler's
//! semantic layers.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "aquac",
    version,
    about = "The Aqua compiler",
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
    /// Rewrite Aqua files in the canonical layout, keeping comments.
    ///
    /// Files with syntax errors are left untouched and their errors printed. With `-`, reads
    /// standard input and writes the result to standard output.
    Fmt {
        /// Do not write; list the files that are not formatted and exit with 1 if any.
        #[arg(long)]
        check: bool,
        /// Files to format (`-` for standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let ok = match cli.command {
        // Every file is processed, even after a failure, so that one run reports them all.
        Command::Fmt { check, files } => files
            .iter()
            .map(|file| format(file, check, color))
            .fold(true, |all, ok| all & ok),
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

/// Reads a file as text; problems are printed and give `None`.
fn read(path: &Path, color: bool) -> Option<String> {
    let bytes = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", path.display());
            return None;
        }
    };
    match aqua::syntax::decode(bytes) {
        (text, None) => Some(text),
        (text, Some(diagnostic)) => {
            eprint!(
                "{}",
                aqua::diagnostic::render(&diagnostic, path, &text, color)
            );
            None
        }
    }
}

fn format(path: &Path, check: bool, color: bool) -> bool {
    let Some(source) = read(path, color) else {
        return false;
    };
    let formatted = match aqua::format::format(&source) {
        Ok(formatted) => formatted,
        Err(errors) => {
            for error in &errors {
                eprint!("{}", aqua::diagnostic::render(error, path, &source, color));
            }
            eprintln!(
                "error: {} is not formatted: it has syntax errors",
                path.display()
            );
            return false;
        }
    };
    if check {
        if formatted != source {
            println!("{}", path.display());
            return false;
        }
        return true;
    }
    if is_stdin(path) {
        return std::io::stdout().write_all(formatted.as_bytes()).is_ok();
    }
    if formatted == source {
        return true;
    }
    match std::fs::write(path, formatted) {
        Ok(()) => true,
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", path.display());
            false
        }
    }
}
