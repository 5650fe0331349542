//! The `air` command: check, format and inspect AIR scripts, run one AquaVM step, inspect
//! particle data. Each command is a thin layer over the `air` and `vm` libraries.

mod data;
mod input;
mod key;
mod run;
mod script;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "air",
    version,
    about = "Check, format and inspect AIR (Aqua Intermediate Representation) scripts, \
             run them on AquaVM and inspect particle data",
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
    /// Print a smaller script that does the same (see `air::optimize`).
    ///
    /// Drops the hops the particle does not need, handlers that only raise their error
    /// again, `null` in `seq` and unused `new`. The result is valid AIR in the canonical
    /// layout; errors it raises may name other instructions.
    Opt {
        /// The script (`-` for standard input).
        file: PathBuf,
    },
    Run(run::RunArgs),
    /// Print a new random Ed25519 key and its peer id as one JSON line.
    ///
    /// The line is `{"secret_key": BASE64, "peer_id": ID}`; `air run --secret-key` takes the key.
    Keygen,
    /// Inspect particle data.
    #[command(subcommand)]
    Data(data::DataCommand),
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
            .map(|file| script::check(file, color))
            .fold(true, |all, ok| all & ok),
        Command::Fmt { check, files } => files
            .iter()
            .map(|file| script::format(file, check, color))
            .fold(true, |all, ok| all & ok),
        Command::Stats { file } => script::stats(&file, color),
        Command::Opt { file } => script::optimize(&file, color),
        Command::Run(args) => run::run(&args, color),
        Command::Keygen => key::keygen(),
        Command::Data(command) => data::run(&command),
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
