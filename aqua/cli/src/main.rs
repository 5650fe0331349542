//! The `aquac` command, a thin layer over the `aqua` library.
//!
//! `build` compiles to AIR, `check` reports diagnostics only, `fmt` formats, `run` calls a
//! function on an embedded local network.

use aquac::run;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// `aquac run` hosts a whole network of peers, and mimalloc serves their many small, short-lived
/// allocations from several threads faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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

/// What `build` and `check` share: where imports come from, and constants.
#[derive(clap::Args)]
struct CompileArgs {
    /// A folder searched for imports, after the importing file's folder and before
    /// `node_modules`; repeat for more, in order.
    #[arg(short = 'I', long = "import", value_name = "DIR")]
    imports: Vec<PathBuf>,
    /// A value for an overridable constant (`const NAME ?= ...`): a number, `true`, `false`
    /// or a quoted string.
    #[arg(long = "const", value_name = "NAME=VALUE")]
    constants: Vec<String>,
    /// Files to compile.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum MessageFormat {
    /// Rendered for people.
    Human,
    /// One JSON object per diagnostic and line, for tools.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Compile Aqua files to AIR: one `<file>.<function>.air` per exported function, and
    /// `<file>.json`, the types of the exported functions and services for clients.
    Build {
        #[command(flatten)]
        compile: CompileArgs,
        /// The folder the AIR files are written to.
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        output: PathBuf,
        /// Reach the client directly, not through a relay (`HOST_PEER_ID` is the client).
        #[arg(long)]
        no_relay: bool,
        /// Do not bring errors back to the client's error handler.
        #[arg(long)]
        no_xor: bool,
        /// Write the AIR as generated, without the AIR optimizer's rewrites.
        #[arg(long)]
        no_optimize: bool,
        /// Report entering and leaving each function, closure and service call to the
        /// client's `tracingSrv.tracingEvent`, for debugging.
        #[arg(long)]
        tracing: bool,
    },
    /// Check Aqua files and report their problems, writing nothing; exits with 1 on errors.
    Check {
        #[command(flatten)]
        compile: CompileArgs,
        /// How diagnostics are printed.
        #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
        message_format: MessageFormat,
    },
    /// Compile, start a local network of peers in this process, and call one function from a
    /// client connected to the first peer; prints what the function returns.
    ///
    /// Exits with 0 when the function returned, 1 on an Aqua error, a timeout or bad input.
    #[command(after_help = "Example: aquac run hello.aqua -f 'hello(\"world\")'")]
    Run {
        #[command(flatten)]
        compile: CompileArgs,
        /// The call: `name(arg, ...)`, each argument a JSON literal or a name; names come
        /// from --data, and `PEERS` is the array of the network's peer ids, relay first.
        #[arg(short = 'f', long = "func", value_name = "CALL")]
        call: String,
        /// How many peers the network has.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
        peers: u32,
        /// The seed of the peers' keys: the same seed gives the same peer ids.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// A JSON file with an object of named arguments.
        #[arg(long, value_name = "ARGS.json")]
        data: Option<PathBuf>,
        /// Where the peers keep the Marine modules and services deployed to them, so that
        /// later runs with the same directory and seed find them (default: a temporary
        /// directory, removed after the run).
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
        /// Print exactly one JSON line: {"result", "error", "peers", "client"}.
        #[arg(long)]
        json: bool,
        /// How long the call may take (the particle's ttl), in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 7000)]
        timeout: u32,
        /// Print every hop of the particle to standard error.
        #[arg(long)]
        verbose: bool,
    },
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
        Command::Build {
            compile,
            output,
            no_relay,
            no_xor,
            no_optimize,
            tracing,
        } => {
            let codegen = aqua::codegen::Options {
                no_relay,
                no_xor,
                no_optimize,
                tracing,
            };
            build(&compile, &output, codegen, color)
        }
        Command::Check {
            compile,
            message_format,
        } => check(&compile, message_format, color),
        Command::Run {
            compile,
            call,
            peers,
            seed,
            data,
            data_dir,
            json,
            timeout,
            verbose,
        } => run(
            &compile,
            &run::RunArgs {
                call,
                peers,
                seed,
                data,
                data_dir,
                json,
                timeout_ms: timeout,
                verbose,
            },
            color,
        ),
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

/// Compiles, printing every diagnostic; `None` when the arguments are wrong.
/// Loads and checks the files of `args`, and generates their AIR when `codegen` is given.
fn compile(
    args: &CompileArgs,
    codegen: Option<aqua::codegen::Options>,
) -> Option<aqua::compile::Compilation> {
    let mut options = aqua::compile::Options {
        imports: aqua::project::ImportConfig {
            import_dirs: args.imports.clone(),
        },
        codegen: codegen.clone().unwrap_or_default(),
        ..Default::default()
    };
    for constant in &args.constants {
        let Some((name, value)) = constant.split_once('=') else {
            eprintln!("error: `--const {constant}` is not `NAME=VALUE`");
            return None;
        };
        if aqua::sema::parse_override(value).is_none() {
            eprintln!(
                "error: `--const {constant}`: `{value}` is not a number, `true`, `false` or a quoted string"
            );
            return None;
        }
        options
            .sema
            .constants
            .insert(name.trim().to_string(), value.to_string());
    }
    let run = match codegen {
        Some(_) => aqua::compile::compile,
        None => aqua::compile::check,
    };
    Some(run(&args.files, &aqua::project::DiskFiles, &options))
}

fn print_diagnostics(compilation: &aqua::compile::Compilation, format: MessageFormat, color: bool) {
    for (module, diagnostic) in compilation.diagnostics() {
        let module = compilation.project.module(module);
        match format {
            MessageFormat::Human => eprint!(
                "{}",
                aqua::diagnostic::render(diagnostic, &module.path, &module.text, color)
            ),
            MessageFormat::Json => println!(
                "{}",
                aqua::diagnostic::to_json(diagnostic, &module.path, &module.text)
            ),
        }
    }
}

fn check(args: &CompileArgs, format: MessageFormat, color: bool) -> bool {
    let Some(compilation) = compile(args, None) else {
        return false;
    };
    print_diagnostics(&compilation, format, color);
    !compilation.has_errors()
}

fn build(args: &CompileArgs, output: &Path, codegen: aqua::codegen::Options, color: bool) -> bool {
    let Some(compilation) = compile(args, Some(codegen)) else {
        return false;
    };
    print_diagnostics(&compilation, MessageFormat::Human, color);
    if compilation.has_errors() {
        return false;
    }
    if let Err(error) = std::fs::create_dir_all(output) {
        eprintln!("error: cannot create {}: {error}", output.display());
        return false;
    }
    let stem = |module: aqua::project::ModuleId| {
        let path = &compilation.project.module(module).path;
        path.file_stem()
            .map_or_else(|| "module".into(), |s| s.to_string_lossy().into_owned())
    };
    let mut ok = true;
    let diagnostics = compilation.diagnostics();
    let mut roots = compilation.project.roots.clone();
    roots.sort();
    roots.dedup();
    for module in roots {
        let interface = compilation.interface(module);
        if interface.is_empty() {
            // Only what a module exports is compiled, which is easy to miss when no file
            // appears. A file without a header has had its warning (W0102) already.
            let headerless = diagnostics
                .iter()
                .any(|(m, d)| *m == module && d.code == aqua::Code::HeaderlessRoot);
            if !headerless {
                eprintln!(
                    "warning: {}: exports nothing, so nothing is written; list its functions in an `export` line",
                    compilation.project.module(module).path.display()
                );
            }
            continue;
        }
        let path = output.join(format!("{}.json", stem(module)));
        if let Err(error) = std::fs::write(&path, interface.to_json() + "\n") {
            eprintln!("error: cannot write {}: {error}", path.display());
            ok = false;
        }
    }
    for function in &compilation.functions {
        let module = compilation.project.module(function.module);
        let stem = stem(function.module);
        match &function.air {
            Ok(air) => {
                let path = output.join(format!("{stem}.{}.air", function.name));
                if let Err(error) = std::fs::write(&path, air) {
                    eprintln!("error: cannot write {}: {error}", path.display());
                    ok = false;
                }
            }
            Err(unsupported) => {
                eprintln!(
                    "error: {}: function `{}` cannot be compiled yet: {}",
                    module.path.display(),
                    function.name,
                    unsupported.0
                );
                ok = false;
            }
        }
    }
    ok
}

fn run(args: &CompileArgs, run_args: &run::RunArgs, color: bool) -> bool {
    let call = match run::parse_call(&run_args.call) {
        Ok(call) => call,
        Err(message) => {
            eprintln!("error: -f: {message}");
            return false;
        }
    };
    let Some(compilation) = compile(args, Some(aqua::codegen::Options::default())) else {
        return false;
    };
    print_diagnostics(&compilation, MessageFormat::Human, color);
    if compilation.has_errors() {
        return false;
    }
    let function = match run::Function::of(&compilation, &call.function) {
        Ok(function) => function,
        Err(message) => {
            eprintln!("error: {message}");
            return false;
        }
    };
    run::run(function, run_args, &call)
}
