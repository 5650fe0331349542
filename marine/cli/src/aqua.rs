//! A module's Aqua service declaration: what Aqua code needs to call the module's functions.
//!
//! ```text
//! aqua Greeting declares *
//!
//! data Reply:
//!   text: string
//!
//! service Greeting("greeting"):
//!   greet(name: string) -> Reply
//! ```

use std::collections::BTreeSet;
use std::fmt::Write;

use marine_it::{IType, ModuleInterface};

use marine_it::{signature, type_text, Notation};

/// The declaration of a service `name` with id `id` offering the functions of `interface`,
/// with the records they use (each after the records its fields use) and the functions sorted
/// by name. Fails if `name` is not an Aqua type name or `id` cannot be an Aqua string.
pub fn declaration(interface: &ModuleInterface, name: &str, id: &str) -> Result<String, String> {
    if !is_type_name(name) {
        return Err(format!(
            "`{name}` cannot name an Aqua service: it must start with a capital letter and hold only letters, digits and `_`"
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| matches!(c, '"' | '\\') || c.is_control())
    {
        return Err(format!(
            "the service id {id:?} cannot be written in Aqua: it contains {c:?}"
        ));
    }

    let mut out = format!("aqua {name} declares *\n\n");
    for index in used_records(interface) {
        // `used_records` only yields indices of records the interface has.
        let Some(record) = interface.record(index) else {
            continue;
        };
        let _ = writeln!(out, "data {}:", record.name);
        for field in &record.fields {
            let ty = type_text(&field.ty, interface, Notation::Aqua);
            let _ = writeln!(out, "  {}: {ty}", field.name);
        }
        out.push('\n');
    }
    let _ = writeln!(out, "service {name}(\"{id}\"):");
    let mut functions: Vec<_> = interface.functions.iter().collect();
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    for function in functions {
        let _ = writeln!(out, "  {}", signature(function, interface, Notation::Aqua));
    }
    Ok(out)
}

/// The default service name for a module file stem: its words in UpperCamel case
/// (`url-downloader` and `url_downloader` give `UrlDownloader`), if that is an Aqua type name.
pub fn service_name(stem: &str) -> Option<String> {
    let name: String = stem
        .split(|c: char| !c.is_ascii_alphanumeric())
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect();
    is_type_name(&name).then_some(name)
}

fn is_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The records the functions' arguments and results reach, each after the records it
/// contains (Aqua wants a type declared before it is used). Roots go by name for a stable
/// order.
fn used_records(interface: &ModuleInterface) -> Vec<u32> {
    let mut roots = BTreeSet::new();
    for function in &interface.functions {
        let types = function.arguments.iter().map(|a| &a.ty);
        for ty in types.chain(&function.output) {
            if let Some(index) = record_of(ty) {
                roots.insert(index);
            }
        }
    }
    let mut roots: Vec<u32> = roots.into_iter().collect();
    roots.sort_by_key(|&index| interface.record(index).map(|r| r.name.clone()));

    // Depth first with an explicit stack: a record is emitted once all its fields' records are.
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for root in roots {
        let mut stack = vec![(root, false)];
        while let Some((index, expanded)) = stack.pop() {
            if expanded {
                order.push(index);
                continue;
            }
            if !seen.insert(index) {
                continue;
            }
            stack.push((index, true));
            let fields = interface.record(index).map_or(&[][..], |r| &r.fields[..]);
            for field in fields.iter().rev() {
                if let Some(inner) = record_of(&field.ty) {
                    stack.push((inner, false));
                }
            }
        }
    }
    order
}

/// The record a type is or holds in arrays.
fn record_of(ty: &IType) -> Option<u32> {
    match ty {
        IType::Record(index) => Some(*index),
        IType::Array(item) => record_of(item),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_come_from_stems_in_upper_camel_case() {
        assert_eq!(service_name("spell").as_deref(), Some("Spell"));
        assert_eq!(
            service_name("url-downloader").as_deref(),
            Some("UrlDownloader")
        );
        assert_eq!(
            service_name("my_ipfs.adapter").as_deref(),
            Some("MyIpfsAdapter")
        );
        assert_eq!(service_name("sqlite3").as_deref(), Some("Sqlite3"));
        assert_eq!(service_name("3d"), None);
        assert_eq!(service_name("--"), None);
    }
}
