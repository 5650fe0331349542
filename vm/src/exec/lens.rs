//! Applying lenses (`.$.a.[0].[i]`, `.length`) to values.

use air::ast::{Accessor, Lens, LensId};
use serde_json::Value;

use super::errors::{Catchable, ExecResult, LensError};
use super::Exec;

impl Exec<'_> {
    /// A lens applied to a scalar value.
    pub(super) fn apply_lens(&self, value: &Value, lens: LensId) -> ExecResult<Value> {
        match self.script.lens(lens) {
            Lens::Length => match value.as_array() {
                Some(array) => Ok(Value::from(array.len())),
                None => Err(Catchable::LengthFunctorAppliedToNotArray(value.clone()).into()),
            },
            Lens::Path { accessors, .. } => self.apply_accessors(value, accessors),
        }
    }

    pub(super) fn apply_accessors(
        &self,
        value: &Value,
        accessors: &[Accessor],
    ) -> ExecResult<Value> {
        let mut current = value;
        for accessor in accessors {
            current = match *accessor {
                Accessor::Index(idx) => by_index(current, idx)?,
                Accessor::Field(name) => by_field(current, self.script.str(name))?,
                Accessor::Var(name) => {
                    let (key, _, _) = self.scalar_ref(name)?.parts();
                    match &*key {
                        Value::String(field) => by_field(current, field)?,
                        Value::Number(n) => by_index(current, number_to_u32(n)?)?,
                        other => {
                            return Err(LensError::ScalarAccessorHasInvalidType {
                                accessor: other.clone(),
                            }
                            .into())
                        }
                    }
                }
            };
        }
        Ok(current.clone())
    }

    /// The element index a lens on a stream starts with, and the accessors after it.
    pub(super) fn stream_index<'a>(
        &self,
        accessors: &'a [Accessor],
    ) -> ExecResult<(usize, &'a [Accessor])> {
        let Some((first, rest)) = accessors.split_first() else {
            return Err(LensError::EmptyStream.into());
        };
        let idx = match *first {
            Accessor::Index(idx) => idx,
            Accessor::Field(name) => {
                return Err(LensError::FieldAccessorAppliedToStream {
                    field_name: self.script.str(name).to_string(),
                }
                .into())
            }
            Accessor::Var(name) => index_value(self.scalar_ref(name)?.value())?,
        };
        Ok((idx as usize, rest))
    }
}

fn index_value(value: &Value) -> ExecResult<u32> {
    match value {
        Value::Number(n) => number_to_u32(n),
        other => Err(LensError::StreamAccessorHasInvalidType {
            accessor: other.clone(),
        }
        .into()),
    }
}

fn number_to_u32(n: &serde_json::Number) -> ExecResult<u32> {
    n.as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| {
            LensError::IndexAccessNotU32 {
                accessor: n.clone(),
            }
            .into()
        })
}

fn by_index(value: &Value, idx: u32) -> ExecResult<&Value> {
    match value {
        Value::Array(values) => values.get(idx as usize).ok_or_else(|| {
            LensError::ValueNotContainSuchArrayIdx {
                value: value.clone(),
                idx,
            }
            .into()
        }),
        _ => Err(LensError::ArrayAccessorNotMatchValue {
            value: value.clone(),
            idx,
        }
        .into()),
    }
}

fn by_field<'v>(value: &'v Value, field_name: &str) -> ExecResult<&'v Value> {
    match value {
        Value::Object(fields) => fields.get(field_name).ok_or_else(|| {
            LensError::ValueNotContainSuchField {
                value: value.clone(),
                field_name: field_name.to_string(),
            }
            .into()
        }),
        _ => Err(LensError::FieldAccessorNotMatchValue {
            value: value.clone(),
            field_name: field_name.to_string(),
        }
        .into()),
    }
}
