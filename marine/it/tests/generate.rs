//! The section generator on hand-written SDK descriptions: every type the SDK supports in
//! arguments and results of exports and imports, the type order, and the errors. (The
//! `marine` command's tests regenerate the sections of real modules and compare bytes.)
//! `tests/data/generated.it.txt` holds the expected text; `UPDATE_EXPECT=1` rewrites it.

use marine_it::{generate, GenerateError, IType, Instruction, TypeDef};

#[path = "../../../tools/test-support/snapshot.rs"]
mod snapshot;

use snapshot::expect;

fn by_value(ty: &str) -> String {
    format!(r#"{{"{ty}":"ByValue"}}"#)
}

fn vector(item: &str) -> String {
    format!(r#"{{"Vector":[{item},"ByRef"]}}"#)
}

fn record_type(name: &str) -> String {
    format!(r#"{{"Record":["{name}","ByValue"]}}"#)
}

fn arguments(arguments: &[(&str, String)]) -> String {
    let items: Vec<String> = arguments
        .iter()
        .map(|(name, ty)| format!(r#"{{"name":"{name}","ty":{ty}}}"#))
        .collect();
    format!("[{}]", items.join(","))
}

fn signature(name: &str, args: &[(&str, String)], outputs: &[String]) -> String {
    format!(
        r#"{{"name":"{name}","arguments":{},"output_types":[{}]}}"#,
        arguments(args),
        outputs.join(",")
    )
}

fn function(name: &str, args: &[(&str, String)], outputs: &[String]) -> String {
    format!(
        r#"{{"ast_type":"Function","signature":{}}}"#,
        signature(name, args, outputs)
    )
}

fn record(name: &str, fields: &[(&str, String)]) -> String {
    format!(
        r#"{{"ast_type":"Record","name":"{name}","fields":{{"Named":{}}}}}"#,
        arguments(fields)
    )
}

fn extern_block(namespace: &str, imports: &[(Option<&str>, String)]) -> String {
    let imports: Vec<String> = imports
        .iter()
        .map(|(link_name, signature)| {
            let link_name = link_name.map_or("null".to_owned(), |n| format!("\"{n}\""));
            format!(r#"{{"link_name":{link_name},"signature":{signature}}}"#)
        })
        .collect();
    format!(
        r#"{{"ast_type":"ExternMod","namespace":"{namespace}","imports":[{}]}}"#,
        imports.join(",")
    )
}

fn run(items: &[String]) -> Result<marine_it::Interfaces, GenerateError> {
    let sections: Vec<(String, &[u8])> = items
        .iter()
        .enumerate()
        .map(|(i, json)| (format!("__m_generated_section__{i}"), json.as_bytes()))
        .collect();
    let sections: Vec<(&str, &[u8])> = sections.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    generate(&sections, "0.28.0")
}

#[test]
fn every_sdk_type_gets_its_adapter_code() {
    let scalars: Vec<(&str, String)> = [
        ("b", "Boolean"),
        ("i8", "I8"),
        ("i16", "I16"),
        ("i32", "I32"),
        ("i64", "I64"),
        ("u8", "U8"),
        ("u16", "U16"),
        ("u32", "U32"),
        ("u64", "U64"),
        ("f32", "F32"),
        ("f64", "F64"),
    ]
    .into_iter()
    .map(|(name, ty)| (name, by_value(ty)))
    .collect();
    let mut everything = scalars.clone();
    everything.extend([
        ("s", by_value("Utf8String")),
        ("r", by_value("Utf8Str")),
        ("bytes", vector(&by_value("U8"))),
        ("nested", vector(&vector(&by_value("U8")))),
        ("pairs", vector(&record_type("Pair"))),
        ("pair", record_type("Pair")),
    ]);
    let mut items = vec![
        // `Pair` uses `Inner` before it is described: `Inner` takes the next index at that
        // use, so it comes before `Pair` itself.
        record(
            "Pair",
            &[
                ("inner", record_type("Inner")),
                ("names", vector(&by_value("Utf8String"))),
            ],
        ),
        record("Inner", &[("x", by_value("U8"))]),
        function("everything", &everything, &[by_value("Utf8String")]),
        function("nothing", &[], &[]),
    ];
    for (name, ty) in &scalars {
        items.push(function(
            &format!("get_{name}"),
            &[],
            std::slice::from_ref(ty),
        ));
    }
    for (name, output) in [
        ("get_bytes", vector(&by_value("U8"))),
        ("get_u64s", vector(&by_value("U64"))),
        ("get_pair", record_type("Pair")),
    ] {
        items.push(function(name, &[], &[output]));
    }
    let imports = vec![
        (
            Some("renamed"),
            signature("everything", &everything, &[by_value("Utf8String")]),
        ),
        (None, signature("bytes", &[], &[vector(&by_value("U8"))])),
        (None, signature("pair", &[], &[record_type("Pair")])),
        (None, signature("number", &[], &[by_value("U64")])),
    ];
    items.push(extern_block("other", &imports));
    // Host functions need no adapters.
    items.push(extern_block(
        "__marine_host_api_v3",
        &[(None, signature("get_call_parameters", &[], &[]))],
    ));
    items.push(extern_block("host", &[(None, signature("log", &[], &[]))]));

    let interfaces = run(&items).unwrap();
    assert_eq!(interfaces.version, "0.28.0");
    assert!(matches!(&interfaces.types[6], TypeDef::Record { name, .. } if name == "Inner"));
    assert!(matches!(&interfaces.types[7], TypeDef::Record { name, .. } if name == "Pair"));
    assert!(interfaces.imports.iter().all(|i| i.namespace == "other"));
    expect("generated.it.txt", &interfaces.to_text());
}

#[test]
fn imports_call_past_the_exports() {
    let items = [
        function("a", &[], &[]),
        function("b", &[], &[]),
        extern_block(
            "m",
            &[
                (None, signature("x", &[], &[])),
                (None, signature("y", &[], &[])),
            ],
        ),
    ];
    let interfaces = run(&items).unwrap();
    // Six API exports and two functions: the imports are core functions 8 and 9.
    let last_calls: Vec<&Instruction> = interfaces
        .adapters
        .iter()
        .map(|adapter| adapter.instructions.last().unwrap())
        .collect();
    let calls: Vec<u32> = last_calls
        .iter()
        .map(|i| match i {
            Instruction::CallCore { function_index } => *function_index,
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(calls, [6, 7, 8, 9]);
}

fn error(items: &[String]) -> String {
    run(items).unwrap_err().to_string()
}

#[test]
fn bad_descriptions_are_errors() {
    let message = error(&["{\"ast_type\":\"Function\"".to_owned()]);
    assert!(
        message.starts_with("section `__m_generated_section__0` is not an SDK item description"),
        "{message}"
    );
    let message = error(&[r#"{"ast_type":"Enum"}"#.to_owned()]);
    assert!(message.contains("unknown variant `Enum`"), "{message}");

    assert_eq!(
        error(&[function("f", &[("p", record_type("Pair"))], &[])]),
        "function `f` uses record `Pair`, which no `#[marine]` item describes"
    );
    assert_eq!(
        error(&[record("Pair", &[("inner", record_type("Inner"))])]),
        "record `Pair` uses record `Inner`, which no `#[marine]` item describes"
    );
    assert_eq!(
        error(&[extern_block(
            "m",
            &[(Some("g"), signature("f", &[], &[record_type("R")]))]
        )]),
        "imported function `m.g` uses record `R`, which no `#[marine]` item describes"
    );
    let pair = record("Pair", &[("x", by_value("U8"))]);
    assert_eq!(
        error(&[pair.clone(), pair]),
        "record `Pair` is described twice"
    );
    assert_eq!(
        error(&[record("Empty", &[])]),
        "record `Empty` has no fields; Marine records need at least one"
    );
    assert_eq!(
        error(&[record("Loop", &[("again", record_type("Loop"))])]),
        "the generated section is not valid: record `Loop` contains itself, so it has no finite size"
    );
    let unit = r#"{"ast_type":"Record","name":"Unit","fields":"Unit"}"#.to_owned();
    assert_eq!(
        error(&[unit, function("f", &[("u", record_type("Unit"))], &[])]),
        "function `f` uses record `Unit`, which no `#[marine]` item describes"
    );
}

#[test]
fn byte_vectors_are_byte_arrays_at_the_interface() {
    let interfaces = run(&[function("f", &[("b", vector(&by_value("U8")))], &[])]).unwrap();
    let (arguments, _) = interfaces.function_type(6).unwrap();
    assert_eq!(arguments[0].ty, IType::ByteArray);
}
