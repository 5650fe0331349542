//! The interface JSON (`aquac build` writes it as `<file>.json`) against the reference
//! compiler's: for every program of `tests/programs` and `tests/interface`, the definitions of
//! its exported functions and services must equal those in `<name>.ref.json`, written by
//! `tools/aqua-corpus/compile-interfaces.mjs` from `@fluencelabs/aqua-api`'s JS output.
//!
//! Objects are compared with their key order, since the client matches arguments by the order
//! of a function's parameters; only the order of the functions and services themselves is
//! free (the reference lists them in hash-map order).

use std::fmt;
use std::path::{Path, PathBuf};

use aqua::compile::{compile, Options};
use aqua::project::DiskFiles;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// JSON that keeps the order of object keys.
#[derive(Debug, PartialEq)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    Leaf(serde_json::Value),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Json::Object(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Leaf(v.into()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Leaf(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Leaf(v.into()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Leaf(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Leaf(v.into()))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Leaf(serde_json::Value::Null))
    }
}

/// `text` parsed, with the functions and the services sorted by name.
fn normalized(text: &str) -> Result<Json, String> {
    let mut json: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Json::Object(top) = &mut json else {
        return Err("not an object".into());
    };
    for (_, group) in top.iter_mut() {
        if let Json::Object(entries) = group {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    Ok(json)
}

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// The programs with a reference interface: `programs/<area>/<name>.aqua`, `interface/*.aqua`.
fn programs() -> Vec<PathBuf> {
    let aqua_files = |dir: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "aqua"))
            .collect();
        files.sort();
        files
    };
    let mut areas: Vec<PathBuf> = std::fs::read_dir(tests_dir().join("programs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    areas.sort();
    let mut all: Vec<PathBuf> = areas.iter().flat_map(|a| aqua_files(a)).collect();
    all.extend(aqua_files(&tests_dir().join("interface")));
    all
}

#[test]
fn interfaces_match_the_reference() {
    let mut failures = Vec::new();
    let programs = programs();
    assert!(programs.len() > 20, "the corpus is missing");
    for program in &programs {
        let name = program.strip_prefix(tests_dir()).unwrap().display();
        let compilation = compile(
            std::slice::from_ref(program),
            &DiskFiles,
            &Options::default(),
        );
        if compilation.has_errors() {
            failures.push(format!("{name}: does not compile"));
            continue;
        }
        let ours = compilation
            .interface(compilation.project.roots[0])
            .to_json();
        let expected_path = program.with_extension("ref.json");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let theirs = normalized(&expected).unwrap_or_else(|e| panic!("{name}: {e}"));
        if normalized(&ours).unwrap() != theirs {
            failures.push(format!(
                "{name}: differs from the reference\n--- reference:\n{expected}--- ours:\n{ours}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_comparison_sees_parameter_order() {
    let a = r#"{"functions": {"f": {"x": 1, "y": 2}}, "services": {}}"#;
    let b = r#"{"functions": {"f": {"y": 2, "x": 1}}, "services": {}}"#;
    assert_ne!(normalized(a), normalized(b));
    let d = r#"{"functions": {"g": {}, "f": {"x": 1, "y": 2}}, "services": {}}"#;
    let e = r#"{"functions": {"f": {"x": 1, "y": 2}, "g": {}}, "services": {}}"#;
    assert_eq!(normalized(d), normalized(e));
}
