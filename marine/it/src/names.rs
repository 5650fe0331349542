//! Types and signatures as text, in the vocabulary of interface types or of Aqua: for tools
//! that show interfaces to people (the `marine` command) or to scripts (a peer's
//! `get_interface`).

use crate::{Function, IType, ModuleInterface};

/// Which names to give types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notation {
    /// Interface types: `s32`, `byte_array`.
    It,
    /// Aqua: `i32`, `[]u8`.
    Aqua,
}

/// `ty` as text; arrays are `[]T` and records go by their names in both notations.
pub fn type_text(ty: &IType, interface: &ModuleInterface, notation: Notation) -> String {
    let aqua = notation == Notation::Aqua;
    let name = match ty {
        IType::Boolean => "bool",
        IType::S8 if aqua => "i8",
        IType::S16 if aqua => "i16",
        IType::S32 if aqua => "i32",
        IType::S64 if aqua => "i64",
        IType::S8 => "s8",
        IType::S16 => "s16",
        IType::S32 => "s32",
        IType::S64 => "s64",
        IType::U8 => "u8",
        IType::U16 => "u16",
        IType::U32 => "u32",
        IType::U64 => "u64",
        IType::F32 => "f32",
        IType::F64 => "f64",
        IType::String => "string",
        IType::ByteArray if aqua => "[]u8",
        IType::ByteArray => "byte_array",
        IType::I32 => "i32",
        IType::I64 => "i64",
        IType::Array(item) => return format!("[]{}", type_text(item, interface, notation)),
        // `ModuleInterface::new` resolved every record reference; the index is a fallback
        // that cannot show up.
        IType::Record(index) => {
            return interface
                .record(*index)
                .map_or_else(|| format!("record{index}"), |r| r.name.clone())
        }
    };
    name.to_owned()
}

/// `name(a: t, b: t) -> t`, without the arrow when the function returns nothing.
pub fn signature(function: &Function, interface: &ModuleInterface, notation: Notation) -> String {
    let arguments: Vec<String> = function
        .arguments
        .iter()
        .map(|a| format!("{}: {}", a.name, type_text(&a.ty, interface, notation)))
        .collect();
    let mut text = format!("{}({})", function.name, arguments.join(", "));
    if let Some(output) = &function.output {
        text.push_str(" -> ");
        text.push_str(&type_text(output, interface, notation));
    }
    text
}
