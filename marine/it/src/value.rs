//! Values of interface types, and their JSON form.

use serde_json::{Map, Number, Value as Json};
use thiserror::Error;

use crate::interface::ModuleInterface;
use crate::model::IType;

/// A value at the interface level. A record holds its fields in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub enum IValue {
    Boolean(bool),
    S8(i8),
    S16(i16),
    S32(i32),
    S64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    String(String),
    ByteArray(Vec<u8>),
    Array(Vec<IValue>),
    I32(i32),
    I64(i64),
    Record(Vec<IValue>),
}

/// A JSON value that does not fit the interface type it was given for.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct JsonError {
    /// Where in the value: `argument name`, `argument name.field[2]`.
    pub path: String,
    pub message: String,
}

/// Where a value is inside the arguments, kept as a chain of borrowed steps and written out
/// only when an error names it, so that reading a large array allocates nothing per item.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Index(&'a Path<'a>, usize),
    Field(&'a Path<'a>, &'a str),
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
        }
    }
}

impl IValue {
    /// Reads a JSON value as a value of type `ty`; records come from objects keyed by field
    /// name (or arrays in field order), byte arrays (`byte_array` and `(array u8)`, which
    /// lifting also gives as [`IValue::ByteArray`]) from arrays of numbers.
    pub fn from_json(
        json: &Json,
        ty: &IType,
        interface: &ModuleInterface,
        path: &str,
    ) -> Result<IValue, JsonError> {
        Self::from_json_at(json, ty, interface, Path::Root(path))
    }

    fn from_json_at(
        json: &Json,
        ty: &IType,
        interface: &ModuleInterface,
        path: Path<'_>,
    ) -> Result<IValue, JsonError> {
        let fail = |message: String| JsonError {
            path: path.to_string(),
            message,
        };
        let mismatch = || {
            fail(format!(
                "expected {}, got {}",
                type_name(ty),
                json_kind(json)
            ))
        };
        macro_rules! int {
            ($variant:ident, $t:ty) => {{
                let n = json
                    .as_i64()
                    .map(i128::from)
                    .or(json.as_u64().map(i128::from));
                let n = n.ok_or_else(mismatch)?;
                IValue::$variant(
                    <$t>::try_from(n)
                        .map_err(|_| fail(format!("{n} is out of range for {}", type_name(ty))))?,
                )
            }};
        }
        Ok(match ty {
            IType::Boolean => IValue::Boolean(json.as_bool().ok_or_else(mismatch)?),
            IType::S8 => int!(S8, i8),
            IType::S16 => int!(S16, i16),
            IType::S32 => int!(S32, i32),
            IType::S64 => int!(S64, i64),
            IType::U8 => int!(U8, u8),
            IType::U16 => int!(U16, u16),
            IType::U32 => int!(U32, u32),
            IType::U64 => int!(U64, u64),
            IType::I32 => int!(I32, i32),
            IType::I64 => int!(I64, i64),
            IType::F32 => IValue::F32(json.as_f64().ok_or_else(mismatch)? as f32),
            IType::F64 => IValue::F64(json.as_f64().ok_or_else(mismatch)?),
            IType::String => IValue::String(json.as_str().ok_or_else(mismatch)?.to_owned()),
            IType::ByteArray => IValue::ByteArray(bytes_from_json(json, path, mismatch)?),
            IType::Array(item_type) if **item_type == IType::U8 => {
                IValue::ByteArray(bytes_from_json(json, path, mismatch)?)
            }
            IType::Array(item_type) => {
                let items = json.as_array().ok_or_else(mismatch)?;
                let values = items.iter().enumerate().map(|(i, item)| {
                    IValue::from_json_at(item, item_type, interface, Path::Index(&path, i))
                });
                IValue::Array(values.collect::<Result<_, _>>()?)
            }
            IType::Record(index) => {
                let record = interface
                    .record(*index)
                    .ok_or_else(|| fail(format!("record type {index} is not in the module")))?;
                let fields = record.fields.iter().enumerate().map(|(i, field)| {
                    let value = match json {
                        Json::Object(map) => map.get(&field.name).ok_or_else(|| {
                            fail(format!("{} has no field `{}`", record.name, field.name))
                        })?,
                        Json::Array(items) if items.len() == record.fields.len() => &items[i],
                        _ => return Err(mismatch()),
                    };
                    let at = Path::Field(&path, &field.name);
                    IValue::from_json_at(value, &field.ty, interface, at)
                });
                IValue::Record(fields.collect::<Result<_, _>>()?)
            }
        })
    }

    /// Writes a value of type `ty` as JSON; records become objects keyed by field name.
    pub fn to_json(&self, ty: &IType, interface: &ModuleInterface) -> Json {
        match (self, ty) {
            (IValue::Record(values), IType::Record(index)) => match interface.record(*index) {
                Some(record) => {
                    let fields = record.fields.iter().zip(values).map(|(field, value)| {
                        (field.name.clone(), value.to_json(&field.ty, interface))
                    });
                    Json::Object(fields.collect::<Map<_, _>>())
                }
                None => Json::Array(values.iter().map(IValue::to_untyped_json).collect()),
            },
            (IValue::Array(values), IType::Array(item_type)) => Json::Array(
                values
                    .iter()
                    .map(|value| value.to_json(item_type, interface))
                    .collect(),
            ),
            _ => self.to_untyped_json(),
        }
    }

    /// JSON without type information: records become arrays of their fields.
    fn to_untyped_json(&self) -> Json {
        match self {
            IValue::Boolean(b) => Json::Bool(*b),
            IValue::S8(n) => Json::from(*n),
            IValue::S16(n) => Json::from(*n),
            IValue::S32(n) | IValue::I32(n) => Json::from(*n),
            IValue::S64(n) | IValue::I64(n) => Json::from(*n),
            IValue::U8(n) => Json::from(*n),
            IValue::U16(n) => Json::from(*n),
            IValue::U32(n) => Json::from(*n),
            IValue::U64(n) => Json::from(*n),
            IValue::F32(x) => float(f64::from(*x)),
            IValue::F64(x) => float(*x),
            IValue::String(s) => Json::String(s.clone()),
            IValue::ByteArray(bytes) => Json::Array(bytes.iter().map(|b| Json::from(*b)).collect()),
            IValue::Array(values) | IValue::Record(values) => {
                Json::Array(values.iter().map(IValue::to_untyped_json).collect())
            }
        }
    }
}

/// The bytes of a JSON array of numbers from 0 to 255.
fn bytes_from_json(
    json: &Json,
    path: Path<'_>,
    mismatch: impl Fn() -> JsonError,
) -> Result<Vec<u8>, JsonError> {
    let items = json.as_array().ok_or_else(mismatch)?;
    let bytes = items.iter().enumerate().map(|(i, item)| {
        let byte = item.as_u64().and_then(|n| u8::try_from(n).ok());
        byte.ok_or_else(|| JsonError {
            path: Path::Index(&path, i).to_string(),
            message: format!("expected a byte (0 to 255), got {item}"),
        })
    });
    bytes.collect()
}

/// JSON has no NaN or infinities; they become `null`, as `serde_json` writes them.
fn float(x: f64) -> Json {
    Number::from_f64(x).map_or(Json::Null, Json::Number)
}

/// How a type is named in messages.
pub fn type_name(ty: &IType) -> String {
    match ty {
        IType::Array(item) => format!("an array of {}", type_name(item)),
        IType::Record(index) => format!("a record (type {index})"),
        IType::ByteArray => "a byte array".to_owned(),
        IType::String => "a string".to_owned(),
        IType::Boolean => "a bool".to_owned(),
        other => format!("{other}"),
    }
}

fn json_kind(json: &Json) -> String {
    match json {
        Json::Null => "null".to_owned(),
        Json::Bool(b) => format!("{b}"),
        Json::Number(n) => format!("the number {n}"),
        Json::String(_) => "a string".to_owned(),
        Json::Array(_) => "an array".to_owned(),
        Json::Object(_) => "an object".to_owned(),
    }
}
