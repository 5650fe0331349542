//! `marine info`: a module's versions, functions, records and imports, for people.

use std::fmt::Write;

use marine::ModuleInterface;

use crate::module::Module;
use marine_it::{signature, type_text, Notation};

/// The description `marine info` prints. Types are written as interface types.
pub fn describe(module: &Module) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", module.path.display());
    let _ = writeln!(out, "SDK version: {}", module.sdk_version);
    let _ = writeln!(out, "IT version: {}", module.interface.version);
    out.push('\n');
    out.push_str(&interface_text(&module.interface));
    out
}

/// A module's exported functions, records and imports, one heading each.
pub fn interface_text(interface: &ModuleInterface) -> String {
    let mut out = String::new();
    out.push_str("Exported functions:\n");
    for function in &interface.functions {
        let _ = writeln!(out, "  {}", signature(function, interface, Notation::It));
    }
    if interface.functions.is_empty() {
        out.push_str("  (none)\n");
    }

    out.push_str("\nRecords:\n");
    for record in interface.records.values() {
        let fields: Vec<String> = record
            .fields
            .iter()
            .map(|f| format!("{}: {}", f.name, type_text(&f.ty, interface, Notation::It)))
            .collect();
        let _ = writeln!(out, "  {} {{ {} }}", record.name, fields.join(", "));
    }
    if interface.records.is_empty() {
        out.push_str("  (none)\n");
    }

    out.push_str("\nImports from other modules:\n");
    for import in &interface.imports {
        let _ = writeln!(
            out,
            "  {}.{}",
            import.namespace,
            signature(&import.function, interface, Notation::It)
        );
    }
    if interface.imports.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}
