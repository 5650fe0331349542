//! `marine embed-it`: write a module's `interface-types` section from the item descriptions
//! the Marine Rust SDK left in it, as `marine build` does after compiling.
//!
//! Every other section is copied byte for byte. Old `interface-types` and SDK version sections
//! are dropped and the new ones appended, the SDK version last, which is where the reference
//! tool puts them: a module it built comes out unchanged.

use std::borrow::Cow;

use marine_it::{GENERATED_SECTION_PREFIXES, SDK_VERSION_SECTION_NAME, SECTION_NAME};
use wasm_encoder::{CustomSection, RawSection};
use wasmparser::{Encoding, Parser, Payload};

/// The IT format version the reference generator writes today.
pub const DEFAULT_IT_VERSION: &str = "0.28.0";

/// What to write besides the generated section.
pub struct EmbedOptions<'a> {
    /// The IT format version the section states.
    pub it_version: &'a str,
    /// The SDK version to state; `None` keeps the one the module has.
    pub sdk_version: Option<&'a str>,
}

/// The module `bytes` with its `interface-types` section generated anew.
pub fn embed_it(bytes: &[u8], options: &EmbedOptions<'_>) -> Result<Vec<u8>, String> {
    for (what, version) in [
        ("IT version", Some(options.it_version)),
        ("SDK version", options.sdk_version),
    ] {
        if let Some(version) = version {
            check_version(what, version)?;
        }
    }

    let mut module = wasm_encoder::Module::new();
    let mut descriptions = Vec::new();
    let mut sdk_versions = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid Wasm module: {e}"))?;
        match &payload {
            Payload::Version {
                encoding: Encoding::Component,
                ..
            } => return Err("it is a Wasm component, not a module".into()),
            Payload::CustomSection(section) => {
                let name = section.name();
                if GENERATED_SECTION_PREFIXES
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
                {
                    descriptions.push((name, section.data()));
                } else if name == SDK_VERSION_SECTION_NAME {
                    sdk_versions.push(section.data());
                    continue;
                } else if name == SECTION_NAME {
                    continue;
                }
            }
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            module.section(&RawSection {
                id,
                data: &bytes[range],
            });
        }
    }

    if descriptions.is_empty() {
        return Err(format!(
            "it has no `{}*` sections: it was not built with the Marine Rust SDK",
            GENERATED_SECTION_PREFIXES[0]
        ));
    }
    let interfaces =
        marine_it::generate(&descriptions, options.it_version).map_err(|e| e.to_string())?;
    let section = marine_it::encode(&interfaces).map_err(|e| e.to_string())?;
    let sdk_version: &[u8] = match (options.sdk_version, sdk_versions.as_slice()) {
        (Some(version), _) => version.as_bytes(),
        (None, [version]) => version,
        (None, []) => {
            return Err(format!(
                "it has no `{SDK_VERSION_SECTION_NAME}` section; give the SDK version with --sdk-version"
            ))
        }
        (None, _) => {
            return Err(format!(
                "it has {} `{SDK_VERSION_SECTION_NAME}` sections; choose one with --sdk-version",
                sdk_versions.len()
            ))
        }
    };

    module.section(&CustomSection {
        name: Cow::Borrowed(SECTION_NAME),
        data: Cow::Owned(section),
    });
    module.section(&CustomSection {
        name: Cow::Borrowed(SDK_VERSION_SECTION_NAME),
        data: Cow::Borrowed(sdk_version),
    });
    Ok(module.finish())
}

/// Versions are `major.minor.patch`, optionally with a pre-release or build suffix.
fn check_version(what: &str, version: &str) -> Result<(), String> {
    if marine_it::parse_version(version).is_some() {
        Ok(())
    } else {
        Err(format!(
            "the {what} `{version}` is not a version like 1.2.3"
        ))
    }
}
