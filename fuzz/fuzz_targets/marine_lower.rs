//! Arbitrary arguments, as interface values and as JSON, lowered into a real module instance
//! and the call made.
//!
//! The module's functions each give back one of their arguments (strings, byte arrays, arrays
//! of scalars, strings and records, nested records, scalars, several arguments at once), so a
//! call's result shows what was lowered. The oracle is an independent type check: a
//! well-typed call must succeed and return its argument (compared bit for bit, floats
//! included); an ill-typed one must fail with an error. Nothing may panic, and a service
//! stays usable after a refused call.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use marine::{
    CallParameters, CompiledModule, Error, IType, IValue, ModuleConfig, ModuleInterface, Runtime,
    Service, ServiceConfig,
};
use serde_json::Value as Json;

#[allow(dead_code)]
#[path = "../../marine/tests/common/mod.rs"]
mod common;

/// Each function and the index of the argument it returns.
const ECHOES: &str = r#"
  (func (export "string") (param i32 i32)
    (global.set $result_ptr (local.get 0)) (global.set $result_size (local.get 1)))
  (func (export "bytes") (param i32 i32)
    (global.set $result_ptr (local.get 0)) (global.set $result_size (local.get 1)))
  (func (export "u8s") (param i32 i32)
    (global.set $result_ptr (local.get 0)) (global.set $result_size (local.get 1)))
  (func (export "matrix") (param i32 i32)
    (global.set $result_ptr (local.get 0)) (global.set $result_size (local.get 1)))
  (func (export "outer") (param i32) (global.set $result_ptr (local.get 0)))
  (func (export "outers") (param i32 i32)
    (global.set $result_ptr (local.get 0)) (global.set $result_size (local.get 1)))
  (func (export "f32") (param f32) (result f32) (local.get 0))
  (func (export "s64") (param i64) (result i64) (local.get 0))
  (func (export "flag") (param i32) (result i32) (local.get 0))
  ;; (text: string, inners: []Inner, flag: bool, n: u64) gives back `inners`.
  (func (export "several") (param i32 i32 i32 i32 i32 i64)
    (global.set $result_ptr (local.get 2)) (global.set $result_size (local.get 3)))
"#;

/// The runtime and the module, made once.
struct Fixture {
    runtime: Runtime,
    module: CompiledModule,
    /// Which argument each function returns, by function name.
    echoed: Vec<(&'static str, usize)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let array = |t: IType| IType::Array(Box::new(t));
        let mut d = common::Describe::new();
        let inner = d.record(
            "Inner",
            &[
                ("flag", IType::Boolean),
                ("n", IType::S16),
                ("name", IType::String),
            ],
        );
        let outer = d.record(
            "Outer",
            &[
                ("id", IType::U64),
                ("inner", IType::Record(inner)),
                ("tags", array(IType::String)),
                ("data", IType::ByteArray),
                ("values", array(IType::F64)),
                ("nested", array(array(IType::Record(inner)))),
                ("small", IType::U8),
                ("x", IType::F32),
            ],
        );
        let one = |ty: IType| vec![("value", ty)];
        let echoes: Vec<(&'static str, Vec<(&str, IType)>, usize)> = vec![
            ("string", one(IType::String), 0),
            ("bytes", one(IType::ByteArray), 0),
            ("u8s", one(array(IType::U8)), 0),
            ("matrix", one(array(array(IType::S32))), 0),
            ("outer", one(IType::Record(outer)), 0),
            ("outers", one(array(IType::Record(outer))), 0),
            ("f32", one(IType::F32), 0),
            ("s64", one(IType::S64), 0),
            ("flag", one(IType::Boolean), 0),
            (
                "several",
                vec![
                    ("text", IType::String),
                    ("inners", array(IType::Record(inner))),
                    ("flag", IType::Boolean),
                    ("n", IType::U64),
                ],
                1,
            ),
        ];
        for (name, arguments, echoed) in &echoes {
            d.export(name, arguments, Some(arguments[*echoed].1.clone()));
        }
        let runtime = Runtime::new(Default::default()).expect("a runtime");
        let module = runtime
            .load_module("echoes", &d.module(ECHOES))
            .expect("the module loads");
        let echoed = echoes.iter().map(|(name, _, i)| (*name, *i)).collect();
        Fixture {
            runtime,
            module,
            echoed,
        }
    })
}

/// Any value, of any kind, nested at most `depth` deep.
fn any_value(u: &mut Unstructured<'_>, depth: u32) -> Result<IValue> {
    let kinds = if depth == 0 { 15 } else { 17 };
    Ok(match u.choose_index(kinds)? {
        0 => IValue::Boolean(u.arbitrary()?),
        1 => IValue::S8(u.arbitrary()?),
        2 => IValue::S16(u.arbitrary()?),
        3 => IValue::S32(u.arbitrary()?),
        4 => IValue::S64(u.arbitrary()?),
        5 => IValue::U8(u.arbitrary()?),
        6 => IValue::U16(u.arbitrary()?),
        7 => IValue::U32(u.arbitrary()?),
        8 => IValue::U64(u.arbitrary()?),
        9 => IValue::F32(u.arbitrary()?),
        10 => IValue::F64(u.arbitrary()?),
        11 => IValue::I32(u.arbitrary()?),
        12 => IValue::String(u.arbitrary()?),
        13 => IValue::ByteArray(u.arbitrary()?),
        14 => IValue::I64(u.arbitrary()?),
        15 => IValue::Array(items(u, |u| any_value(u, depth - 1))?),
        _ => IValue::Record(items(u, |u| any_value(u, depth - 1))?),
    })
}

/// A few items made by `item`.
fn items(
    u: &mut Unstructured<'_>,
    mut item: impl FnMut(&mut Unstructured<'_>) -> Result<IValue>,
) -> Result<Vec<IValue>> {
    let n = u.int_in_range(0..=6)?;
    (0..n).map(|_| item(u)).collect()
}

/// A value for `ty`, now and then (and then anywhere inside) of another kind or shape.
fn value_for(u: &mut Unstructured<'_>, ty: &IType, interface: &ModuleInterface) -> Result<IValue> {
    if u.ratio(1, 24)? {
        return any_value(u, 2);
    }
    Ok(match ty {
        IType::Boolean => IValue::Boolean(u.arbitrary()?),
        IType::S8 => IValue::S8(u.arbitrary()?),
        IType::S16 => IValue::S16(u.arbitrary()?),
        IType::S32 => IValue::S32(u.arbitrary()?),
        IType::S64 => IValue::S64(u.arbitrary()?),
        IType::U8 => IValue::U8(u.arbitrary()?),
        IType::U16 => IValue::U16(u.arbitrary()?),
        IType::U32 => IValue::U32(u.arbitrary()?),
        IType::U64 => IValue::U64(u.arbitrary()?),
        IType::I32 => IValue::I32(u.arbitrary()?),
        IType::I64 => IValue::I64(u.arbitrary()?),
        IType::F32 => IValue::F32(u.arbitrary()?),
        IType::F64 => IValue::F64(u.arbitrary()?),
        IType::String => IValue::String(u.arbitrary()?),
        IType::ByteArray => IValue::ByteArray(u.arbitrary()?),
        // Bytes travel either way as an array of u8.
        IType::Array(item) if **item == IType::U8 && u.arbitrary()? => {
            IValue::ByteArray(u.arbitrary()?)
        }
        IType::Array(item) => IValue::Array(items(u, |u| value_for(u, item, interface))?),
        IType::Record(index) => {
            let record = interface.record(*index).expect("declared records");
            let mut fields = record
                .fields
                .iter()
                .map(|f| value_for(u, &f.ty, interface))
                .collect::<Result<Vec<_>>>()?;
            if u.ratio(1, 32)? {
                fields.pop();
            }
            IValue::Record(fields)
        }
    })
}

/// Whether lowering must accept `value` as `ty`: the check the runtime's is compared with.
fn well_typed(ty: &IType, value: &IValue, interface: &ModuleInterface) -> bool {
    match (ty, value) {
        (IType::Boolean, IValue::Boolean(_))
        | (IType::S8, IValue::S8(_))
        | (IType::S16, IValue::S16(_))
        | (IType::S32, IValue::S32(_))
        | (IType::S64, IValue::S64(_))
        | (IType::U8, IValue::U8(_))
        | (IType::U16, IValue::U16(_))
        | (IType::U32, IValue::U32(_))
        | (IType::U64, IValue::U64(_))
        | (IType::I32, IValue::I32(_))
        | (IType::I64, IValue::I64(_))
        | (IType::F32, IValue::F32(_))
        | (IType::F64, IValue::F64(_))
        | (IType::String, IValue::String(_))
        | (IType::ByteArray, IValue::ByteArray(_)) => true,
        (IType::Array(item), IValue::ByteArray(_)) => **item == IType::U8,
        (IType::Array(item), IValue::Array(values)) => {
            values.iter().all(|v| well_typed(item, v, interface))
        }
        (IType::Record(index), IValue::Record(values)) => {
            let record = interface.record(*index).expect("declared records");
            record.fields.len() == values.len()
                && record
                    .fields
                    .iter()
                    .zip(values)
                    .all(|(f, v)| well_typed(&f.ty, v, interface))
        }
        _ => false,
    }
}

/// Equality with floats compared by their bits (NaNs included), and an array of u8 taken as
/// the byte array it is lifted as.
fn same(a: &IValue, b: &IValue) -> bool {
    let bytes = |v: &IValue| match v {
        IValue::ByteArray(b) => Some(b.clone()),
        IValue::Array(items) => items
            .iter()
            .map(|i| match i {
                IValue::U8(b) => Some(*b),
                _ => None,
            })
            .collect(),
        _ => None,
    };
    let all_same = |x: &[IValue], y: &[IValue]| {
        x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
    };
    match (a, b) {
        (IValue::F32(x), IValue::F32(y)) => x.to_bits() == y.to_bits(),
        (IValue::F64(x), IValue::F64(y)) => x.to_bits() == y.to_bits(),
        (IValue::Record(x), IValue::Record(y)) => all_same(x, y),
        _ => match (bytes(a), bytes(b), a, b) {
            (Some(x), Some(y), _, _) => x == y,
            (_, _, IValue::Array(x), IValue::Array(y)) => all_same(x, y),
            _ => a == b,
        },
    }
}

/// Any JSON, nested at most `depth` deep.
fn any_json(u: &mut Unstructured<'_>, depth: u32) -> Result<Json> {
    let kinds = if depth == 0 { 6 } else { 8 };
    Ok(match u.choose_index(kinds)? {
        0 => Json::Null,
        1 => Json::Bool(u.arbitrary()?),
        2 => Json::from(u.arbitrary::<i64>()?),
        3 => Json::from(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Json::Null, Json::Number),
        5 => Json::String(u.arbitrary()?),
        6 => Json::Array(
            (0..u.int_in_range(0..=4)?)
                .map(|_| any_json(u, depth - 1))
                .collect::<Result<_>>()?,
        ),
        _ => {
            let mut map = serde_json::Map::new();
            for _ in 0..u.int_in_range(0..=4)? {
                let key = if u.arbitrary()? {
                    u.choose(&["flag", "n", "name", "id", "inner", "tags", "data", "values"])?
                        .to_string()
                } else {
                    u.arbitrary()?
                };
                map.insert(key, any_json(u, depth - 1)?);
            }
            Json::Object(map)
        }
    })
}

/// One call of `function` with arguments made from `u`, checked against the oracle.
fn call(u: &mut Unstructured<'_>, service: &Service, function: &str, echoed: usize) -> Result<()> {
    let interface = service.interface();
    let signature = interface.function(function).expect("exported");
    let output_type = signature.output.clone().expect("every function returns");
    let mut arguments = signature
        .arguments
        .iter()
        .map(|a| value_for(u, &a.ty, interface))
        .collect::<Result<Vec<_>>>()?;
    if u.ratio(1, 32)? {
        arguments.push(any_value(u, 1)?);
    }
    if u.arbitrary()? {
        let accepted = arguments.len() == signature.arguments.len()
            && signature
                .arguments
                .iter()
                .zip(&arguments)
                .all(|(a, v)| well_typed(&a.ty, v, interface));
        match service.call(function, &arguments, CallParameters::default()) {
            Ok(Some(output)) if accepted => assert!(
                same(&output, &arguments[echoed]),
                "{function}: gave {:?} back for {:?}",
                output,
                arguments[echoed]
            ),
            Ok(output) => panic!("{function}: {arguments:?} was taken, giving {output:?}"),
            Err(Error::Arguments { .. }) if !accepted => {}
            Err(e) => panic!("{function}: {arguments:?} failed: {e}"),
        }
    } else {
        // JSON arguments: each typed value as JSON, or anything at all.
        let json: Vec<Json> = signature
            .arguments
            .iter()
            .zip(&arguments)
            .map(|(a, v)| {
                if u.ratio(1, 8)? {
                    any_json(u, 3)
                } else {
                    Ok(v.to_json(&a.ty, interface))
                }
            })
            .collect::<Result<_>>()?;
        let converted: Option<Vec<IValue>> = signature
            .arguments
            .iter()
            .zip(&json)
            .map(|(a, j)| IValue::from_json(j, &a.ty, interface, &a.name).ok())
            .collect();
        let result = service.call_json(function, &Json::Array(json), CallParameters::default());
        match (result, converted) {
            (Ok(output), Some(values)) => {
                assert_eq!(output, values[echoed].to_json(&output_type, interface))
            }
            (Err(Error::Arguments { .. }), None) => {}
            (result, converted) => panic!("{function}: {result:?} for {converted:?}"),
        }
    }
    Ok(())
}

fuzz_target!(|bytes: &[u8]| {
    let fixture = fixture();
    let mut config = ServiceConfig::new(vec![ModuleConfig::new(fixture.module.clone())]);
    config.total_memory_limit = Some(32 << 20);
    let service = Service::new(&fixture.runtime, config).expect("the service starts");
    let mut u = Unstructured::new(bytes);
    // Several calls on one instance: a refused call must leave it usable.
    while !u.is_empty() {
        let Ok((function, echoed)) = u.choose(&fixture.echoed) else {
            return;
        };
        if call(&mut u, &service, function, *echoed).is_err() {
            return;
        }
    }
});
