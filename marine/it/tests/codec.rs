//! The binary codec: round trips of random sections, and errors for broken ones.

use marine_it::{
    decode, encode, Adapter, Argument, Export, Field, IType, Implementation, Import, Instruction,
    Interfaces, ModuleInterface, TypeDef,
};
use proptest::prelude::*;

fn itype() -> impl Strategy<Value = IType> {
    let leaf = prop_oneof![
        Just(IType::Boolean),
        Just(IType::S8),
        Just(IType::S64),
        Just(IType::U16),
        Just(IType::U64),
        Just(IType::F32),
        Just(IType::F64),
        Just(IType::String),
        Just(IType::ByteArray),
        Just(IType::I32),
        Just(IType::I64),
        (0u32..1000).prop_map(IType::Record),
    ];
    leaf.prop_recursive(3, 8, 1, |inner| {
        inner.prop_map(|t| IType::Array(Box::new(t)))
    })
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Zé_]{0,20}"
}

fn instruction() -> impl Strategy<Value = Instruction> {
    prop_oneof![
        any::<u32>().prop_map(|index| Instruction::ArgumentGet { index }),
        any::<u32>().prop_map(|function_index| Instruction::CallCore { function_index }),
        itype().prop_map(|value_type| Instruction::ArrayLowerMemory { value_type }),
        any::<u32>().prop_map(|record_type| Instruction::RecordLiftMemory { record_type }),
        any::<i32>().prop_map(|value| Instruction::PushI32 { value }),
        any::<i64>().prop_map(|value| Instruction::PushI64 { value }),
        Just(Instruction::StringLowerMemory),
        Just(Instruction::I64FromU64),
        Just(Instruction::Swap2),
    ]
}

fn interfaces() -> impl Strategy<Value = Interfaces> {
    let type_def = prop_oneof![
        (
            prop::collection::vec((name(), itype()), 0..4),
            prop::collection::vec(itype(), 0..2)
        )
            .prop_map(|(arguments, outputs)| TypeDef::Function {
                arguments: arguments
                    .into_iter()
                    .map(|(name, ty)| Argument { name, ty })
                    .collect(),
                outputs,
            }),
        (name(), prop::collection::vec((name(), itype()), 1..4)).prop_map(|(name, fields)| {
            TypeDef::Record {
                name,
                fields: fields
                    .into_iter()
                    .map(|(name, ty)| Field { name, ty })
                    .collect(),
            }
        }),
    ];
    (
        "[0-9.]{1,8}",
        prop::collection::vec(type_def, 0..6),
        prop::collection::vec((name(), name(), any::<u32>()), 0..3),
        prop::collection::vec(
            (any::<u32>(), prop::collection::vec(instruction(), 0..140)),
            0..3,
        ),
        prop::collection::vec((name(), any::<u32>()), 0..3),
        prop::collection::vec((any::<u32>(), any::<u32>()), 0..3),
    )
        .prop_map(
            |(version, types, imports, adapters, exports, implementations)| Interfaces {
                version,
                types,
                imports: imports
                    .into_iter()
                    .map(|(namespace, name, function_type)| Import {
                        namespace,
                        name,
                        function_type,
                    })
                    .collect(),
                adapters: adapters
                    .into_iter()
                    .map(|(function_type, instructions)| Adapter {
                        function_type,
                        instructions,
                    })
                    .collect(),
                exports: exports
                    .into_iter()
                    .map(|(name, function_type)| Export {
                        name,
                        function_type,
                    })
                    .collect(),
                implementations: implementations
                    .into_iter()
                    .map(
                        |(core_function_type, adapter_function_type)| Implementation {
                            core_function_type,
                            adapter_function_type,
                        },
                    )
                    .collect(),
            },
        )
}

proptest! {
    /// Adapters longer than 127 instructions check that nested counts are read as ULEB128.
    #[test]
    fn decode_inverts_encode(section in interfaces()) {
        let bytes = encode(&section).unwrap();
        prop_assert_eq!(decode(&bytes).unwrap(), section);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes).map(|section| ModuleInterface::new(&section));
    }
}

fn error(bytes: &[u8]) -> String {
    decode(bytes).unwrap_err().to_string()
}

#[test]
fn broken_sections_say_what_and_where() {
    assert_eq!(
        error(&[]),
        "interface-types section, byte 0: the section has no version entry"
    );
    assert_eq!(
        error(&[0x05, 0x03, b'0', b'.', b'1', 0x05, 0x00]),
        "interface-types section, byte 5: the section has a second version entry"
    );
    assert_eq!(
        error(&[0x05, 0x09, b'0']),
        "interface-types section, byte 1: the version is 9 bytes long but only 1 remain"
    );
    assert_eq!(
        error(&[0x07]),
        "interface-types section, byte 0: unknown section kind 0x07"
    );
    assert_eq!(
        error(&[0x00, 0xff, 0xff, 0x03]),
        "interface-types section, byte 1: a count of 65535 items, but only 0 bytes remain"
    );
    // A record with no fields.
    assert_eq!(
        error(&[0x00, 0x01, 0x01, 0x01, b'R', 0x00]),
        "interface-types section, byte 5: record `R` has no fields"
    );
    // Arrays nested 100 deep.
    let mut deep = vec![0x00, 0x01, 0x00, 0x00, 0x01];
    deep.extend([0x36; 100]);
    deep.push(0x0a);
    assert_eq!(
        error(&deep),
        "interface-types section, byte 69: arrays nest deeper than 64 levels"
    );
}

#[test]
fn names_longer_than_a_byte_are_refused_when_encoding() {
    let section = Interfaces {
        version: "0.27.0".into(),
        exports: vec![Export {
            name: "x".repeat(300),
            function_type: 0,
        }],
        ..Default::default()
    };
    let err = encode(&section).unwrap_err().to_string();
    assert!(err.starts_with("an export name `xxx"), "{err}");
    assert!(
        err.ends_with("is 300 bytes long; the format allows at most 255"),
        "{err}"
    );
}

#[test]
fn the_interface_keeps_implemented_exports_and_checks_references() {
    let function = |outputs: Vec<IType>| TypeDef::Function {
        arguments: vec![Argument {
            name: "x".into(),
            ty: IType::Record(0),
        }],
        outputs,
    };
    let record = TypeDef::Record {
        name: "R".into(),
        fields: vec![Field {
            name: "f".into(),
            ty: IType::Array(Box::new(IType::Record(0))),
        }],
    };
    let mut section = Interfaces {
        version: "0.27.0".into(),
        types: vec![record, function(vec![])],
        exports: vec![Export {
            name: "f".into(),
            function_type: 1,
        }],
        ..Default::default()
    };
    let err = ModuleInterface::new(&section).unwrap_err().to_string();
    assert_eq!(err, "record `R` contains itself, so it has no finite size");

    section.types[0] = TypeDef::Record {
        name: "R".into(),
        fields: vec![Field {
            name: "f".into(),
            ty: IType::U8,
        }],
    };
    let interface = ModuleInterface::new(&section).unwrap();
    assert!(
        interface.functions.is_empty(),
        "an export without implementation is the SDK's own"
    );
    section.implementations.push(Implementation {
        core_function_type: 1,
        adapter_function_type: 1,
    });
    let interface = ModuleInterface::new(&section).unwrap();
    assert_eq!(interface.functions[0].name, "f");

    section.types[1] = function(vec![IType::U8, IType::U8]);
    let err = ModuleInterface::new(&section).unwrap_err().to_string();
    assert_eq!(
        err,
        "function `f` returns 2 values; Marine functions return at most one"
    );
    section.exports[0].function_type = 0;
    let err = ModuleInterface::new(&section).unwrap_err().to_string();
    assert_eq!(
        err,
        "export `f` refers to type 0, which is not a function type"
    );
    section.exports[0].function_type = 9;
    let err = ModuleInterface::new(&section).unwrap_err().to_string();
    assert_eq!(
        err,
        "export `f` refers to type 9, but the section has 2 types"
    );
}

#[test]
fn records_that_share_records_are_checked_once_each() {
    // Each record holds the next one twice: 2^80 paths from the first record to the last, which
    // a walk of every path would never finish. The last record closes a cycle when asked to.
    let chain = |cyclic: bool| {
        let count = 80u32;
        let types = (0..count)
            .map(|index| {
                let next = if index + 1 < count {
                    IType::Record(index + 1)
                } else if cyclic {
                    IType::Record(0)
                } else {
                    IType::U8
                };
                TypeDef::Record {
                    name: format!("R{index}"),
                    fields: vec![
                        Field {
                            name: "a".into(),
                            ty: next.clone(),
                        },
                        Field {
                            name: "b".into(),
                            ty: IType::Array(Box::new(next)),
                        },
                    ],
                }
            })
            .collect();
        Interfaces {
            version: "0.27.0".into(),
            types,
            ..Default::default()
        }
    };
    let interface = ModuleInterface::new(&chain(false)).unwrap();
    assert_eq!(interface.record(79).unwrap().name, "R79");
    let err = ModuleInterface::new(&chain(true)).unwrap_err().to_string();
    assert_eq!(err, "record `R0` contains itself, so it has no finite size");
}
