//! Interface types (IT) of Marine modules.
//!
//! A Marine module is a plain `wasm32-wasi` module that describes its API in a custom section
//! named `interface-types`: record types, function types, the exported functions, the functions
//! it imports from other modules, and small stack programs (adapters) that move values between
//! the interface level and linear memory. This crate is that section's model
//! ([`Interfaces`]), its binary codec ([`decode`], [`encode`]), its text form
//! ([`Interfaces::to_text`]), the checked view that a runtime needs ([`ModuleInterface`]):
//! which functions a module offers and imports, with their records resolved, and the
//! generator ([`generate`]) that writes the section from the item descriptions the Marine Rust
//! SDK leaves in a module.
//!
//! It knows nothing of Wasm engines: the runtime (`marine`), the `marine` command and the fuzz
//! targets all stand on it.

mod binary;
mod generate;
mod interface;
mod model;
mod names;
mod text;
mod value;

pub use binary::{decode, encode, DecodeError, EncodeError};
pub use generate::{generate, GenerateError, GENERATED_SECTION_PREFIXES};
pub use interface::{Function, ImportedFunction, InterfaceError, ModuleInterface, Record};
pub use model::{
    Adapter, Argument, Export, Field, IType, Implementation, Import, Instruction, Interfaces,
    TypeDef,
};
pub use names::{signature, type_text, Notation};
pub use value::{type_name, IValue, JsonError};

/// The name of the custom section that holds a module's interface types.
pub const SECTION_NAME: &str = "interface-types";

/// The name of the custom section that holds the SDK version a module was built with.
pub const SDK_VERSION_SECTION_NAME: &str = "__fluence_sdk_version";

/// A version as the SDK and IT sections write it, `major.minor.patch` (a pre-release or build
/// suffix is ignored); `None` if it is not one.
pub fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let core = text.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let triple = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(triple)
}
