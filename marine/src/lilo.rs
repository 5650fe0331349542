//! Lifting and lowering: moving interface values in and out of a module's linear memory with
//! the layout the Marine SDK uses.
//!
//! Scalars travel as Wasm values. Strings, byte arrays and arrays travel as `(pointer, length)`
//! (bytes for strings, elements for arrays), records as a pointer to a packed little-endian
//! struct. Every buffer is obtained from the module's own `allocate` export, and the module owns
//! what it was given. This does directly what the SDK's adapters describe, so adapters are not
//! interpreted.

use marine_it::{IType, IValue, ModuleInterface};
use wasmtime::{AsContextMut, Memory, TypedFunc, Val, ValType};

use crate::error::AbiError;

/// A module's `allocate`: the SDK's takes a size and a type tag; the IT section lists one
/// parameter, and very old modules take only the size.
#[derive(Clone)]
pub(crate) enum Allocate {
    SizeAndTag(TypedFunc<(i32, i32), i32>),
    Size(TypedFunc<i32, i32>),
}

/// What lifting and lowering need of a module instance.
pub(crate) struct Guest<'m, C> {
    pub ctx: C,
    pub memory: Memory,
    pub allocate: &'m Allocate,
    pub interface: &'m ModuleInterface,
}

/// The allocation tags of the SDK's `allocate`, by element type.
fn allocation_tag(ty: &IType) -> i32 {
    match ty {
        IType::Boolean => 0,
        IType::U8 => 1,
        IType::U16 => 2,
        IType::U32 => 3,
        IType::U64 => 4,
        IType::S8 => 5,
        IType::S16 => 6,
        IType::S32 | IType::I32 => 7,
        IType::S64 | IType::I64 => 8,
        IType::F32 => 9,
        IType::F64 => 10,
        // Pointer-sized elements.
        IType::String | IType::ByteArray | IType::Array(_) | IType::Record(_) => 3,
    }
}

/// The size of a value of `ty` inside a record or an array.
pub(crate) fn element_size(ty: &IType) -> usize {
    match ty {
        IType::Boolean | IType::S8 | IType::U8 => 1,
        IType::S16 | IType::U16 => 2,
        IType::S32 | IType::U32 | IType::I32 | IType::F32 | IType::Record(_) => 4,
        IType::S64 | IType::U64 | IType::I64 | IType::F64 => 8,
        IType::String | IType::ByteArray | IType::Array(_) => 8,
    }
}

/// The Wasm values a value of `ty` travels as.
pub(crate) fn flatten(ty: &IType, out: &mut Vec<ValType>) {
    match ty {
        IType::Boolean
        | IType::S8
        | IType::S16
        | IType::S32
        | IType::U8
        | IType::U16
        | IType::U32
        | IType::I32
        | IType::Record(_) => out.push(ValType::I32),
        IType::S64 | IType::U64 | IType::I64 => out.push(ValType::I64),
        IType::F32 => out.push(ValType::F32),
        IType::F64 => out.push(ValType::F64),
        IType::String | IType::ByteArray | IType::Array(_) => {
            out.extend([ValType::I32, ValType::I32])
        }
    }
}

/// Whether a value of `ty` comes back through the result registers rather than as a Wasm value.
pub(crate) fn is_complex(ty: &IType) -> bool {
    matches!(
        ty,
        IType::String | IType::ByteArray | IType::Array(_) | IType::Record(_)
    )
}

fn mismatch(ty: &IType, value: &IValue) -> AbiError {
    AbiError::TypeMismatch {
        expected: marine_it::type_name(ty),
        got: value_kind(value),
    }
}

fn value_kind(value: &IValue) -> String {
    match value {
        IValue::Boolean(_) => "a bool".into(),
        IValue::S8(_) => "s8".into(),
        IValue::S16(_) => "s16".into(),
        IValue::S32(_) => "s32".into(),
        IValue::S64(_) => "s64".into(),
        IValue::U8(_) => "u8".into(),
        IValue::U16(_) => "u16".into(),
        IValue::U32(_) => "u32".into(),
        IValue::U64(_) => "u64".into(),
        IValue::F32(_) => "f32".into(),
        IValue::F64(_) => "f64".into(),
        IValue::I32(_) => "i32".into(),
        IValue::I64(_) => "i64".into(),
        IValue::String(_) => "a string".into(),
        IValue::ByteArray(_) => "a byte array".into(),
        IValue::Array(_) => "an array".into(),
        IValue::Record(fields) => format!("a record of {} fields", fields.len()),
    }
}

impl<C: AsContextMut> Guest<'_, C> {
    fn alloc(&mut self, size: usize, tag: i32) -> Result<u32, AbiError> {
        if size == 0 {
            return Ok(0);
        }
        let size = i32::try_from(size).map_err(|_| AbiError::TooLarge { size })?;
        let pointer = match self.allocate {
            Allocate::SizeAndTag(f) => f.call(&mut self.ctx, (size, tag)),
            Allocate::Size(f) => f.call(&mut self.ctx, size),
        }
        .map_err(|e| AbiError::Guest(format!("allocate({size}) failed: {e:#}")))?;
        Ok(pointer as u32)
    }

    fn write(&mut self, pointer: u32, bytes: &[u8]) -> Result<(), AbiError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.memory
            .write(&mut self.ctx, pointer as usize, bytes)
            .map_err(|_| AbiError::OutOfBounds {
                pointer,
                len: bytes.len(),
            })
    }

    fn store(&mut self, bytes: &[u8], tag: i32) -> Result<u32, AbiError> {
        let pointer = self.alloc(bytes.len(), tag)?;
        self.write(pointer, bytes)?;
        Ok(pointer)
    }

    /// Lowers one value into the Wasm values it travels as.
    pub fn lower(
        &mut self,
        ty: &IType,
        value: &IValue,
        out: &mut Vec<Val>,
    ) -> Result<(), AbiError> {
        let scalar = match (ty, value) {
            (IType::Boolean, IValue::Boolean(b)) => Val::I32(i32::from(*b)),
            (IType::S8, IValue::S8(n)) => Val::I32(i32::from(*n)),
            (IType::S16, IValue::S16(n)) => Val::I32(i32::from(*n)),
            (IType::S32, IValue::S32(n)) | (IType::I32, IValue::I32(n)) => Val::I32(*n),
            (IType::U8, IValue::U8(n)) => Val::I32(i32::from(*n)),
            (IType::U16, IValue::U16(n)) => Val::I32(i32::from(*n)),
            (IType::U32, IValue::U32(n)) => Val::I32(*n as i32),
            (IType::S64, IValue::S64(n)) | (IType::I64, IValue::I64(n)) => Val::I64(*n),
            (IType::U64, IValue::U64(n)) => Val::I64(*n as i64),
            (IType::F32, IValue::F32(x)) => Val::F32(x.to_bits()),
            (IType::F64, IValue::F64(x)) => Val::F64(x.to_bits()),
            (IType::Record(index), IValue::Record(fields)) => {
                Val::I32(self.lower_record(*index, fields)? as i32)
            }
            (IType::String | IType::ByteArray | IType::Array(_), _) => {
                let (pointer, len) = self.lower_sequence(ty, value)?;
                out.extend([Val::I32(pointer as i32), Val::I32(len as i32)]);
                return Ok(());
            }
            _ => return Err(mismatch(ty, value)),
        };
        out.push(scalar);
        Ok(())
    }

    /// Writes a string, byte array or array; returns its pointer and length.
    fn lower_sequence(&mut self, ty: &IType, value: &IValue) -> Result<(u32, u32), AbiError> {
        let len = |n: usize| u32::try_from(n).map_err(|_| AbiError::TooLarge { size: n });
        match (ty, value) {
            (IType::String, IValue::String(s)) => Ok((self.store(s.as_bytes(), 1)?, len(s.len())?)),
            (IType::ByteArray, IValue::ByteArray(b)) => Ok((self.store(b, 1)?, len(b.len())?)),
            (t, IValue::ByteArray(b)) if is_byte(t) => Ok((self.store(b, 1)?, len(b.len())?)),
            (IType::Array(item_type), IValue::Array(items)) => {
                let mut buffer = Vec::with_capacity(items.len() * element_size(item_type));
                for item in items {
                    self.serialize(item_type, item, &mut buffer)?;
                }
                let pointer = self.store(&buffer, allocation_tag(item_type))?;
                Ok((pointer, len(items.len())?))
            }
            _ => Err(mismatch(ty, value)),
        }
    }

    fn lower_record(&mut self, index: u32, values: &[IValue]) -> Result<u32, AbiError> {
        // The interface outlives this borrow of `self`, so no copy of the fields is needed.
        let interface: &ModuleInterface = self.interface;
        let fields = &interface
            .record(index)
            .ok_or(AbiError::NoSuchRecord { index })?
            .fields;
        if fields.len() != values.len() {
            return Err(AbiError::TypeMismatch {
                expected: format!("a record of {} fields", fields.len()),
                got: format!("a record of {} fields", values.len()),
            });
        }
        let mut buffer = Vec::new();
        for (field, value) in fields.iter().zip(values) {
            self.serialize(&field.ty, value, &mut buffer)
                .map_err(|e| e.in_field(&field.name))?;
        }
        self.store(&buffer, 1)
    }

    /// Appends the packed form of one element or field to `buffer`.
    fn serialize(
        &mut self,
        ty: &IType,
        value: &IValue,
        buffer: &mut Vec<u8>,
    ) -> Result<(), AbiError> {
        match (ty, value) {
            (IType::Boolean, IValue::Boolean(b)) => buffer.push(u8::from(*b)),
            (IType::S8, IValue::S8(n)) => buffer.extend(n.to_le_bytes()),
            (IType::U8, IValue::U8(n)) => buffer.push(*n),
            (IType::S16, IValue::S16(n)) => buffer.extend(n.to_le_bytes()),
            (IType::U16, IValue::U16(n)) => buffer.extend(n.to_le_bytes()),
            (IType::S32, IValue::S32(n)) | (IType::I32, IValue::I32(n)) => {
                buffer.extend(n.to_le_bytes())
            }
            (IType::U32, IValue::U32(n)) => buffer.extend(n.to_le_bytes()),
            (IType::S64, IValue::S64(n)) | (IType::I64, IValue::I64(n)) => {
                buffer.extend(n.to_le_bytes())
            }
            (IType::U64, IValue::U64(n)) => buffer.extend(n.to_le_bytes()),
            (IType::F32, IValue::F32(x)) => buffer.extend(x.to_le_bytes()),
            (IType::F64, IValue::F64(x)) => buffer.extend(x.to_le_bytes()),
            (IType::Record(index), IValue::Record(fields)) => {
                buffer.extend(self.lower_record(*index, fields)?.to_le_bytes())
            }
            (IType::String | IType::ByteArray | IType::Array(_), _) => {
                let (pointer, len) = self.lower_sequence(ty, value)?;
                buffer.extend(pointer.to_le_bytes());
                buffer.extend(len.to_le_bytes());
            }
            _ => return Err(mismatch(ty, value)),
        }
        Ok(())
    }
}

fn is_byte(ty: &IType) -> bool {
    matches!(ty, IType::Array(item) if **item == IType::U8)
}

/// Reads values out of a module's memory, refusing to read more bytes in all than the memory
/// holds: a result can alias one region many times, and that must not blow up the host.
pub(crate) struct Lifter<'a> {
    pub memory: &'a [u8],
    pub interface: &'a ModuleInterface,
    budget: usize,
}

impl<'a> Lifter<'a> {
    pub fn new(memory: &'a [u8], interface: &'a ModuleInterface) -> Self {
        Lifter {
            memory,
            interface,
            budget: memory.len(),
        }
    }

    fn bytes(&mut self, pointer: u32, len: usize) -> Result<&'a [u8], AbiError> {
        if len == 0 {
            return Ok(&[]);
        }
        let out_of_bounds = AbiError::OutOfBounds { pointer, len };
        let end = (pointer as usize)
            .checked_add(len)
            .ok_or(out_of_bounds.clone())?;
        let bytes = self
            .memory
            .get(pointer as usize..end)
            .ok_or(out_of_bounds)?;
        self.budget = self
            .budget
            .checked_sub(len)
            .ok_or(AbiError::TooLarge { size: len })?;
        Ok(bytes)
    }

    /// Lifts a value that travels as Wasm values, consuming them from `raw`.
    pub fn lift(
        &mut self,
        ty: &IType,
        raw: &mut impl Iterator<Item = Val>,
    ) -> Result<IValue, AbiError> {
        let mut next = || raw.next().ok_or(AbiError::MissingValue);
        let i32_of = |v: Val| v.i32().ok_or(AbiError::WrongWasmType);
        let i64_of = |v: Val| v.i64().ok_or(AbiError::WrongWasmType);
        Ok(match ty {
            IType::Boolean => IValue::Boolean(i32_of(next()?)? != 0),
            IType::S8 => IValue::S8(i32_of(next()?)? as i8),
            IType::S16 => IValue::S16(i32_of(next()?)? as i16),
            IType::S32 => IValue::S32(i32_of(next()?)?),
            IType::I32 => IValue::I32(i32_of(next()?)?),
            IType::U8 => IValue::U8(i32_of(next()?)? as u8),
            IType::U16 => IValue::U16(i32_of(next()?)? as u16),
            IType::U32 => IValue::U32(i32_of(next()?)? as u32),
            IType::S64 => IValue::S64(i64_of(next()?)?),
            IType::I64 => IValue::I64(i64_of(next()?)?),
            IType::U64 => IValue::U64(i64_of(next()?)? as u64),
            IType::F32 => IValue::F32(f32::from_bits(
                next()?.f32().ok_or(AbiError::WrongWasmType)?.to_bits(),
            )),
            IType::F64 => IValue::F64(f64::from_bits(
                next()?.f64().ok_or(AbiError::WrongWasmType)?.to_bits(),
            )),
            IType::Record(index) => self.record(*index, i32_of(next()?)? as u32)?,
            IType::String | IType::ByteArray | IType::Array(_) => {
                let pointer = i32_of(next()?)? as u32;
                let len = i32_of(next()?)? as u32;
                self.sequence(ty, pointer, len)?
            }
        })
    }

    /// Lifts a string, byte array or array at `pointer` with `len` bytes or elements.
    pub fn sequence(&mut self, ty: &IType, pointer: u32, len: u32) -> Result<IValue, AbiError> {
        let len = len as usize;
        match ty {
            IType::String => {
                let bytes = self.bytes(pointer, len)?;
                let text =
                    std::str::from_utf8(bytes).map_err(|e| AbiError::NotUtf8(e.to_string()))?;
                Ok(IValue::String(text.to_owned()))
            }
            IType::ByteArray => Ok(IValue::ByteArray(self.bytes(pointer, len)?.to_vec())),
            IType::Array(item) if **item == IType::U8 => {
                Ok(IValue::ByteArray(self.bytes(pointer, len)?.to_vec()))
            }
            IType::Array(item) => {
                let size = element_size(item);
                let total = len
                    .checked_mul(size)
                    .ok_or(AbiError::TooLarge { size: len })?;
                let bytes = self.bytes(pointer, total)?;
                let items = bytes
                    .chunks_exact(size)
                    .map(|chunk| self.deserialize(item, chunk));
                Ok(IValue::Array(items.collect::<Result<_, _>>()?))
            }
            _ => Err(AbiError::WrongWasmType),
        }
    }

    /// Lifts the record of type `index` at `pointer`.
    pub fn record(&mut self, index: u32, pointer: u32) -> Result<IValue, AbiError> {
        let record = self
            .interface
            .record(index)
            .ok_or(AbiError::NoSuchRecord { index })?;
        let size = record.fields.iter().map(|f| element_size(&f.ty)).sum();
        let mut bytes = self.bytes(pointer, size)?;
        let mut fields = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            let (chunk, rest) = bytes.split_at(element_size(&field.ty));
            bytes = rest;
            fields.push(
                self.deserialize(&field.ty, chunk)
                    .map_err(|e| e.in_field(&field.name))?,
            );
        }
        Ok(IValue::Record(fields))
    }

    /// Reads one element or field from its packed form (`chunk` has exactly its size).
    fn deserialize(&mut self, ty: &IType, chunk: &[u8]) -> Result<IValue, AbiError> {
        let u32_at = |at: usize| u32::from_le_bytes(chunk[at..at + 4].try_into().expect("4 bytes"));
        let eight = || -> [u8; 8] { chunk[..8].try_into().expect("8 bytes") };
        let four = || -> [u8; 4] { chunk[..4].try_into().expect("4 bytes") };
        let two = || -> [u8; 2] { chunk[..2].try_into().expect("2 bytes") };
        Ok(match ty {
            IType::Boolean => IValue::Boolean(chunk[0] != 0),
            IType::S8 => IValue::S8(chunk[0] as i8),
            IType::U8 => IValue::U8(chunk[0]),
            IType::S16 => IValue::S16(i16::from_le_bytes(two())),
            IType::U16 => IValue::U16(u16::from_le_bytes(two())),
            IType::S32 => IValue::S32(i32::from_le_bytes(four())),
            IType::I32 => IValue::I32(i32::from_le_bytes(four())),
            IType::U32 => IValue::U32(u32::from_le_bytes(four())),
            IType::F32 => IValue::F32(f32::from_le_bytes(four())),
            IType::S64 => IValue::S64(i64::from_le_bytes(eight())),
            IType::I64 => IValue::I64(i64::from_le_bytes(eight())),
            IType::U64 => IValue::U64(u64::from_le_bytes(eight())),
            IType::F64 => IValue::F64(f64::from_le_bytes(eight())),
            IType::Record(index) => self.record(*index, u32_at(0))?,
            IType::String | IType::ByteArray | IType::Array(_) => {
                self.sequence(ty, u32_at(0), u32_at(4))?
            }
        })
    }
}
