//! The `marine` command: inspect Marine modules and call services.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use marine_cli::embed::{self, EmbedOptions, DEFAULT_IT_VERSION};
use marine_cli::{aqua, call, info, module::Module, repl, Error, Result};

#[derive(Parser)]
#[command(
    name = "marine",
    version,
    about = "Inspect Marine modules, embed their interface types, and call Marine services"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show a module's SDK and IT versions, exported functions, records and imports.
    Info { module: PathBuf },
    /// Print a module's interface-types section in text form.
    It { module: PathBuf },
    /// Print the Aqua service declaration of a module.
    Aqua {
        module: PathBuf,
        /// The service name (default: the file name in UpperCamel case).
        #[arg(short = 's', long = "service")]
        service: Option<String>,
        /// The service id (default: the file name without extension).
        #[arg(short = 'i', long = "id")]
        id: Option<String>,
    },
    /// Load a service from its config and call a function of its facade module; prints the
    /// result as one line of JSON.
    Call {
        config: PathBuf,
        function: String,
        /// The arguments: a JSON array, or an object by argument name.
        arguments: String,
        /// Call parameters as a JSON object (fields of `CallParameters`; missing ones are empty).
        #[arg(long)]
        call_parameters: Option<String>,
        /// Keep compiled modules in this directory between runs.
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Generate a module's interface-types section from what the Marine Rust SDK left in it.
    ///
    /// The SDK describes every `#[marine]` function, record and import block in a custom
    /// section `__m_generated_section__<item>`. From those this writes the `interface-types`
    /// section (types, imports, adapters, exports, implementations) and embeds it, replacing
    /// any old one, followed by the `__fluence_sdk_version` section, as `marine build` does
    /// after compiling. Every other section is copied unchanged.
    EmbedIt {
        /// The module, as the compiler wrote it.
        module: PathBuf,
        /// Where to write the result (default: over the input file).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// The IT format version the section states.
        #[arg(long, default_value = DEFAULT_IT_VERSION)]
        it_version: String,
        /// The SDK version to state (default: the one in the module's `__fluence_sdk_version`
        /// section).
        #[arg(long)]
        sdk_version: Option<String>,
    },
    /// Open an interactive shell over a service loaded from its config.
    ///
    /// Commands: `call FUNCTION [ARGUMENTS] [CALL_PARAMETERS]` with JSON arguments and call
    /// parameters, `interface` for the modules' functions, records and imports, `memory`,
    /// `help` and `quit`. Tab completes commands and function names; the history is kept in
    /// ~/.marine_repl_history.
    Repl {
        /// The service's Config.toml.
        config: PathBuf,
        /// Keep compiled modules in this directory between runs.
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // Clap exits with 2 on usage errors.
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<String> {
    match command {
        Command::Info { module } => Ok(info::describe(&Module::read(&module)?)),
        Command::It { module } => Ok(Module::read(&module)?.interfaces.to_text()),
        Command::Aqua {
            module: path,
            service,
            id,
        } => {
            let module = Module::read(&path)?;
            let stem = stem(&path)?;
            let name = match service {
                Some(name) => name,
                None => aqua::service_name(&stem).ok_or_else(|| {
                    Error::Input(format!(
                        "no Aqua service name can be made from `{stem}`; give one with -s"
                    ))
                })?,
            };
            let id = id.unwrap_or(stem);
            aqua::declaration(&module.interface, &name, &id).map_err(Error::Input)
        }
        Command::Call {
            config,
            function,
            arguments,
            call_parameters,
            cache_dir,
        } => {
            let result = call::call(&call::Call {
                config: &config,
                function: &function,
                arguments: &arguments,
                call_parameters: call_parameters.as_deref(),
                cache_dir,
            })?;
            Ok(format!("{result}\n"))
        }
        Command::EmbedIt {
            module,
            output,
            it_version,
            sdk_version,
        } => {
            let fail = |path: &Path, message: String| Error::File {
                path: path.to_owned(),
                message,
            };
            let bytes = std::fs::read(&module)
                .map_err(|e| fail(&module, format!("cannot read it: {e}")))?;
            let options = EmbedOptions {
                it_version: &it_version,
                sdk_version: sdk_version.as_deref(),
            };
            let embedded = embed::embed_it(&bytes, &options).map_err(|e| fail(&module, e))?;
            let output = output.unwrap_or(module);
            std::fs::write(&output, embedded)
                .map_err(|e| fail(&output, format!("cannot write it: {e}")))?;
            Ok(String::new())
        }
        Command::Repl { config, cache_dir } => {
            let session = repl::Session::load(&config, cache_dir)?;
            repl::run(&session, repl::history_file().as_deref()).map_err(Error::Input)?;
            Ok(String::new())
        }
    }
}

fn stem(path: &Path) -> Result<String> {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| Error::File {
            path: path.to_owned(),
            message: "it names no file".into(),
        })
}
