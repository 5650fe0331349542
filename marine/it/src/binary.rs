//! The binary form of the `interface-types` section.
//!
//! The section is a run of `kind` bytes each followed by its payload; a kind may repeat and the
//! payloads add up. Strings carry a one-byte length. Top-level lists carry a ULEB128 count;
//! nested lists (arguments, outputs, fields, instructions) carry a count that the reference
//! decoder reads as one byte while its encoder writes ULEB128: the two agree below 128 items,
//! and reading ULEB128 here accepts both.

use thiserror::Error;

use crate::model::{
    opcode, Adapter, Argument, Export, Field, IType, Implementation, Import, Instruction,
    Interfaces, TypeDef,
};

/// Why a section could not be read, and at which byte of it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("interface-types section, byte {offset}: {message}")]
pub struct DecodeError {
    pub offset: usize,
    pub message: String,
}

/// Why a model could not be written in the binary form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("{what} `{text}` is {len} bytes long; the format allows at most 255")]
    StringTooLong {
        what: &'static str,
        text: String,
        len: usize,
    },
}

mod kind {
    pub const TYPES: u8 = 0x00;
    pub const IMPORTS: u8 = 0x01;
    pub const ADAPTERS: u8 = 0x02;
    pub const EXPORTS: u8 = 0x03;
    pub const IMPLEMENTATIONS: u8 = 0x04;
    pub const VERSION: u8 = 0x05;
}

mod type_kind {
    pub const FUNCTION: u8 = 0x00;
    pub const RECORD: u8 = 0x01;
}

mod type_code {
    pub const S8: u8 = 0x00;
    pub const S16: u8 = 0x01;
    pub const S32: u8 = 0x02;
    pub const S64: u8 = 0x03;
    pub const U8: u8 = 0x04;
    pub const U16: u8 = 0x05;
    pub const U32: u8 = 0x06;
    pub const U64: u8 = 0x07;
    pub const F32: u8 = 0x08;
    pub const F64: u8 = 0x09;
    pub const STRING: u8 = 0x0a;
    pub const BOOLEAN: u8 = 0x0b;
    pub const I32: u8 = 0x0c;
    pub const I64: u8 = 0x0d;
    pub const RECORD: u8 = 0x0e;
    pub const ARRAY: u8 = 0x36;
    pub const BYTE_ARRAY: u8 = 0x3c;
}

/// Arrays nest no deeper than this; deeper nesting is refused rather than recursed into.
const MAX_TYPE_DEPTH: usize = 64;

/// Reads a whole `interface-types` section.
///
/// Exactly one version entry is required. Every count is checked against the bytes left, so a
/// lying count fails instead of allocating.
pub fn decode(bytes: &[u8]) -> Result<Interfaces, DecodeError> {
    let mut reader = Reader { bytes, pos: 0 };
    let mut interfaces = Interfaces::default();
    let mut versions = Vec::new();
    while !reader.at_end() {
        let at = reader.pos;
        match reader.byte("a section kind")? {
            kind::VERSION => versions.push((at, reader.string("the version")?)),
            kind::TYPES => {
                let items = reader.list(Reader::type_def)?;
                interfaces.types.extend(items);
            }
            kind::IMPORTS => {
                let items = reader.list(|r| {
                    Ok(Import {
                        namespace: r.string("an import namespace")?,
                        name: r.string("an import name")?,
                        function_type: r.index("an import's function type")?,
                    })
                })?;
                interfaces.imports.extend(items);
            }
            kind::ADAPTERS => {
                let items = reader.list(|r| {
                    Ok(Adapter {
                        function_type: r.index("an adapter's function type")?,
                        instructions: r.list(Reader::instruction)?,
                    })
                })?;
                interfaces.adapters.extend(items);
            }
            kind::EXPORTS => {
                let items = reader.list(|r| {
                    Ok(Export {
                        name: r.string("an export name")?,
                        function_type: r.index("an export's function type")?,
                    })
                })?;
                interfaces.exports.extend(items);
            }
            kind::IMPLEMENTATIONS => {
                let items = reader.list(|r| {
                    Ok(Implementation {
                        core_function_type: r.index("a core function type")?,
                        adapter_function_type: r.index("an adapter function type")?,
                    })
                })?;
                interfaces.implementations.extend(items);
            }
            other => return Err(reader.error_at(at, format!("unknown section kind 0x{other:02x}"))),
        }
    }
    match versions.len() {
        1 => interfaces.version = versions.remove(0).1,
        0 => return Err(reader.error_at(0, "the section has no version entry".into())),
        _ => {
            let (at, _) = versions[1];
            return Err(reader.error_at(at, "the section has a second version entry".into()));
        }
    }
    Ok(interfaces)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn error_at(&self, offset: usize, message: String) -> DecodeError {
        DecodeError { offset, message }
    }

    fn byte(&mut self, what: &str) -> Result<u8, DecodeError> {
        let byte = *self.bytes.get(self.pos).ok_or_else(|| {
            self.error_at(
                self.pos,
                format!("the section ends where {what} was expected"),
            )
        })?;
        self.pos += 1;
        Ok(byte)
    }

    fn uleb(&mut self, what: &str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte(what)?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error_at(start, format!("{what} does not fit in 64 bits")))
    }

    fn index(&mut self, what: &str) -> Result<u32, DecodeError> {
        let start = self.pos;
        let value = self.uleb(what)?;
        u32::try_from(value)
            .map_err(|_| self.error_at(start, format!("{what} {value} is out of range")))
    }

    fn string(&mut self, what: &str) -> Result<String, DecodeError> {
        let start = self.pos;
        let len = usize::from(self.byte(what)?);
        if len > self.remaining() {
            return Err(self.error_at(
                start,
                format!(
                    "{what} is {len} bytes long but only {} remain",
                    self.remaining()
                ),
            ));
        }
        let text = &self.bytes[self.pos..self.pos + len];
        let text = std::str::from_utf8(text)
            .map_err(|e| self.error_at(self.pos, format!("{what} is not UTF-8: {e}")))?;
        self.pos += len;
        Ok(text.to_owned())
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let start = self.pos;
        let count = self.uleb("a count")?;
        // Every item takes at least one byte.
        if count > self.remaining() as u64 {
            return Err(self.error_at(
                start,
                format!(
                    "a count of {count} items, but only {} bytes remain",
                    self.remaining()
                ),
            ));
        }
        // Sized from the count rather than grown, up to a bound: a lying count (checked only
        // against the bytes left) must not make an allocation many times the section's size.
        let mut items = Vec::with_capacity(count.min(1024) as usize);
        for _ in 0..count {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn type_def(&mut self) -> Result<TypeDef, DecodeError> {
        let at = self.pos;
        match self.byte("a type kind")? {
            type_kind::FUNCTION => Ok(TypeDef::Function {
                arguments: self.list(|r| {
                    Ok(Argument {
                        name: r.string("an argument name")?,
                        ty: r.ty(0)?,
                    })
                })?,
                outputs: self.list(|r| r.ty(0))?,
            }),
            type_kind::RECORD => {
                let name = self.string("a record name")?;
                let fields_at = self.pos;
                let fields = self.list(|r| {
                    Ok(Field {
                        name: r.string("a field name")?,
                        ty: r.ty(0)?,
                    })
                })?;
                if fields.is_empty() {
                    return Err(self.error_at(fields_at, format!("record `{name}` has no fields")));
                }
                Ok(TypeDef::Record { name, fields })
            }
            other => Err(self.error_at(at, format!("unknown type kind 0x{other:02x}"))),
        }
    }

    fn ty(&mut self, depth: usize) -> Result<IType, DecodeError> {
        let at = self.pos;
        Ok(match self.byte("a type")? {
            type_code::BOOLEAN => IType::Boolean,
            type_code::S8 => IType::S8,
            type_code::S16 => IType::S16,
            type_code::S32 => IType::S32,
            type_code::S64 => IType::S64,
            type_code::U8 => IType::U8,
            type_code::U16 => IType::U16,
            type_code::U32 => IType::U32,
            type_code::U64 => IType::U64,
            type_code::F32 => IType::F32,
            type_code::F64 => IType::F64,
            type_code::STRING => IType::String,
            type_code::BYTE_ARRAY => IType::ByteArray,
            type_code::I32 => IType::I32,
            type_code::I64 => IType::I64,
            type_code::RECORD => IType::Record(self.index("a record type index")?),
            type_code::ARRAY if depth >= MAX_TYPE_DEPTH => {
                return Err(self.error_at(
                    at,
                    format!("arrays nest deeper than {MAX_TYPE_DEPTH} levels"),
                ))
            }
            type_code::ARRAY => IType::Array(Box::new(self.ty(depth + 1)?)),
            other => return Err(self.error_at(at, format!("unknown type code 0x{other:02x}"))),
        })
    }

    fn instruction(&mut self) -> Result<Instruction, DecodeError> {
        let at = self.pos;
        let code = self.byte("an instruction")?;
        if let Some(plain) = Instruction::from_plain_opcode(code) {
            return Ok(plain);
        }
        Ok(match code {
            opcode::ARGUMENT_GET => Instruction::ArgumentGet {
                index: self.index("an argument index")?,
            },
            opcode::CALL_CORE => Instruction::CallCore {
                function_index: self.index("a function index")?,
            },
            opcode::ARRAY_LIFT_MEMORY => Instruction::ArrayLiftMemory {
                value_type: self.ty(0)?,
            },
            opcode::ARRAY_LOWER_MEMORY => Instruction::ArrayLowerMemory {
                value_type: self.ty(0)?,
            },
            opcode::RECORD_LIFT_MEMORY => Instruction::RecordLiftMemory {
                record_type: self.index("a record type index")?,
            },
            opcode::RECORD_LOWER_MEMORY => Instruction::RecordLowerMemory {
                record_type: self.index("a record type index")?,
            },
            // The values are written as unsigned LEB128 of their two's complement bits.
            opcode::PUSH_I32 => Instruction::PushI32 {
                value: self.uleb("an i32 constant")? as u32 as i32,
            },
            opcode::PUSH_I64 => Instruction::PushI64 {
                value: self.uleb("an i64 constant")? as i64,
            },
            other => return Err(self.error_at(at, format!("unknown instruction 0x{other:02x}"))),
        })
    }
}

/// Writes a model in the binary form, in the order version, types, imports, adapters, exports,
/// implementations, leaving out empty lists.
pub fn encode(interfaces: &Interfaces) -> Result<Vec<u8>, EncodeError> {
    let mut writer = Writer(Vec::new());
    writer.0.push(kind::VERSION);
    writer.string("the version", &interfaces.version)?;
    if !interfaces.types.is_empty() {
        writer.0.push(kind::TYPES);
        writer.list(&interfaces.types, Writer::type_def)?;
    }
    if !interfaces.imports.is_empty() {
        writer.0.push(kind::IMPORTS);
        writer.list(&interfaces.imports, |w, import| {
            w.string("an import namespace", &import.namespace)?;
            w.string("an import name", &import.name)?;
            w.uleb(import.function_type.into());
            Ok(())
        })?;
    }
    if !interfaces.adapters.is_empty() {
        writer.0.push(kind::ADAPTERS);
        writer.list(&interfaces.adapters, |w, adapter| {
            w.uleb(adapter.function_type.into());
            w.list(&adapter.instructions, |w, instruction| {
                w.instruction(instruction);
                Ok(())
            })
        })?;
    }
    if !interfaces.exports.is_empty() {
        writer.0.push(kind::EXPORTS);
        writer.list(&interfaces.exports, |w, export| {
            w.string("an export name", &export.name)?;
            w.uleb(export.function_type.into());
            Ok(())
        })?;
    }
    if !interfaces.implementations.is_empty() {
        writer.0.push(kind::IMPLEMENTATIONS);
        writer.list(&interfaces.implementations, |w, implementation| {
            w.uleb(implementation.core_function_type.into());
            w.uleb(implementation.adapter_function_type.into());
            Ok(())
        })?;
    }
    Ok(writer.0)
}

struct Writer(Vec<u8>);

impl Writer {
    fn uleb(&mut self, mut value: u64) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                self.0.push(byte);
                return;
            }
            self.0.push(byte | 0x80);
        }
    }

    fn string(&mut self, what: &'static str, text: &str) -> Result<(), EncodeError> {
        let len = u8::try_from(text.len()).map_err(|_| EncodeError::StringTooLong {
            what,
            text: text.to_owned(),
            len: text.len(),
        })?;
        self.0.push(len);
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn list<T>(
        &mut self,
        items: &[T],
        mut item: impl FnMut(&mut Self, &T) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.uleb(items.len() as u64);
        items.iter().try_for_each(|x| item(self, x))
    }

    fn type_def(&mut self, def: &TypeDef) -> Result<(), EncodeError> {
        match def {
            TypeDef::Function { arguments, outputs } => {
                self.0.push(type_kind::FUNCTION);
                self.list(arguments, |w, argument| {
                    w.string("an argument name", &argument.name)?;
                    w.ty(&argument.ty);
                    Ok(())
                })?;
                self.list(outputs, |w, ty| {
                    w.ty(ty);
                    Ok(())
                })
            }
            TypeDef::Record { name, fields } => {
                self.0.push(type_kind::RECORD);
                self.string("a record name", name)?;
                self.list(fields, |w, field| {
                    w.string("a field name", &field.name)?;
                    w.ty(&field.ty);
                    Ok(())
                })
            }
        }
    }

    fn ty(&mut self, ty: &IType) {
        let code = match ty {
            IType::Boolean => type_code::BOOLEAN,
            IType::S8 => type_code::S8,
            IType::S16 => type_code::S16,
            IType::S32 => type_code::S32,
            IType::S64 => type_code::S64,
            IType::U8 => type_code::U8,
            IType::U16 => type_code::U16,
            IType::U32 => type_code::U32,
            IType::U64 => type_code::U64,
            IType::F32 => type_code::F32,
            IType::F64 => type_code::F64,
            IType::String => type_code::STRING,
            IType::ByteArray => type_code::BYTE_ARRAY,
            IType::I32 => type_code::I32,
            IType::I64 => type_code::I64,
            IType::Record(index) => {
                self.0.push(type_code::RECORD);
                self.uleb((*index).into());
                return;
            }
            IType::Array(item) => {
                self.0.push(type_code::ARRAY);
                self.ty(item);
                return;
            }
        };
        self.0.push(code);
    }

    fn instruction(&mut self, instruction: &Instruction) {
        if let Some((code, _)) = instruction.plain() {
            self.0.push(code);
            return;
        }
        match instruction {
            Instruction::ArgumentGet { index } => {
                self.0.push(opcode::ARGUMENT_GET);
                self.uleb((*index).into());
            }
            Instruction::CallCore { function_index } => {
                self.0.push(opcode::CALL_CORE);
                self.uleb((*function_index).into());
            }
            Instruction::ArrayLiftMemory { value_type } => {
                self.0.push(opcode::ARRAY_LIFT_MEMORY);
                self.ty(value_type);
            }
            Instruction::ArrayLowerMemory { value_type } => {
                self.0.push(opcode::ARRAY_LOWER_MEMORY);
                self.ty(value_type);
            }
            Instruction::RecordLiftMemory { record_type } => {
                self.0.push(opcode::RECORD_LIFT_MEMORY);
                self.uleb((*record_type).into());
            }
            Instruction::RecordLowerMemory { record_type } => {
                self.0.push(opcode::RECORD_LOWER_MEMORY);
                self.uleb((*record_type).into());
            }
            Instruction::PushI32 { value } => {
                self.0.push(opcode::PUSH_I32);
                self.uleb(u64::from(*value as u32));
            }
            Instruction::PushI64 { value } => {
                self.0.push(opcode::PUSH_I64);
                self.uleb(*value as u64);
            }
            _ => unreachable!("every instruction without operands has an opcode in the table"),
        }
    }
}
