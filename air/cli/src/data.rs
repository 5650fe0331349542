//! `air data`: inspecting particle data.

use std::path::PathBuf;

use clap::Subcommand;
use vm::data::{self, DataView};

use crate::input::{display_name, read_bytes};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Print particle data readably: versions, trace, stores, signatures and errors.
    ///
    /// Exits with 1 if the data cannot be read or has errors (printed at the end).
    Show {
        /// The data, as it travels in a particle (`-` for standard input).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The particle id, needed to check the signatures (it salts them).
        #[arg(long, value_name = "ID")]
        particle_id: Option<String>,
    },
}

pub fn run(command: &DataCommand) -> bool {
    let DataCommand::Show {
        file,
        json,
        particle_id,
    } = command;
    let view = read_bytes(file).and_then(|bytes| {
        view(&bytes, particle_id.as_deref())
            .map_err(|error| format!("{}{error}", display_name(file)))
    });
    let view = match view {
        Ok(view) => view,
        Err(message) => {
            eprintln!("error: {message}");
            return false;
        }
    };
    if *json {
        println!(
            "{}",
            serde_json::to_string_pretty(&view).expect("the view serializes to JSON")
        );
    } else {
        print!("{view}");
    }
    view.errors().is_empty()
}

/// Decodes the data; unlike a VM step, accepts data of any interpreter version.
///
/// The error is the rest of a message that starts with the file name.
fn view(bytes: &[u8], particle_id: Option<&str>) -> Result<DataView, String> {
    let envelope = data::decode_envelope(bytes).map_err(|error| format!(": {error}"))?;
    let versions = &envelope.versions;
    let data = data::decode_inner(&envelope.inner_data).map_err(|error| {
        format!(
            " (data format {}, written by interpreter {}): {error}",
            versions.data_version, versions.interpreter_version
        )
    })?;
    Ok(DataView::new(versions, &data, particle_id))
}
