//! The text form of a section, for people: one `(@interface ...)` form per item, grouped by
//! kind, each type numbered so that references can be followed.

use std::fmt::{self, Display, Write};

use crate::model::{IType, Instruction, Interfaces, TypeDef};

impl Display for IType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IType::Boolean => f.write_str("bool"),
            IType::S8 => f.write_str("s8"),
            IType::S16 => f.write_str("s16"),
            IType::S32 => f.write_str("s32"),
            IType::S64 => f.write_str("s64"),
            IType::U8 => f.write_str("u8"),
            IType::U16 => f.write_str("u16"),
            IType::U32 => f.write_str("u32"),
            IType::U64 => f.write_str("u64"),
            IType::F32 => f.write_str("f32"),
            IType::F64 => f.write_str("f64"),
            IType::String => f.write_str("string"),
            IType::ByteArray => f.write_str("byte_array"),
            IType::I32 => f.write_str("i32"),
            IType::I64 => f.write_str("i64"),
            IType::Array(item) => write!(f, "(array {item})"),
            IType::Record(index) => write!(f, "(record {index})"),
        }
    }
}

impl Display for Instruction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((_, mnemonic)) = self.plain() {
            return f.write_str(mnemonic);
        }
        match self {
            Instruction::ArgumentGet { index } => write!(f, "arg.get {index}"),
            Instruction::CallCore { function_index } => write!(f, "call-core {function_index}"),
            Instruction::ArrayLiftMemory { value_type } => {
                write!(f, "array.lift_memory {value_type}")
            }
            Instruction::ArrayLowerMemory { value_type } => {
                write!(f, "array.lower_memory {value_type}")
            }
            Instruction::RecordLiftMemory { record_type } => {
                write!(f, "record.lift_memory {record_type}")
            }
            Instruction::RecordLowerMemory { record_type } => {
                write!(f, "record.lower_memory {record_type}")
            }
            Instruction::PushI32 { value } => write!(f, "i32.push {value}"),
            Instruction::PushI64 { value } => write!(f, "i64.push {value}"),
            _ => Err(fmt::Error),
        }
    }
}

impl Interfaces {
    /// The section in text form.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_text(&mut out);
        out
    }

    fn write_text(&self, out: &mut String) -> fmt::Result {
        writeln!(out, "(@interface it_version {:?})", self.version)?;
        if !self.types.is_empty() {
            out.push_str("\n;; types\n");
            for (index, def) in self.types.iter().enumerate() {
                match def {
                    TypeDef::Function { arguments, outputs } => {
                        out.push_str("(@interface type (func");
                        for argument in arguments {
                            write!(out, " (param ${}: {})", argument.name, argument.ty)?;
                        }
                        for output in outputs {
                            write!(out, " (result {output})")?;
                        }
                        writeln!(out, "))  ;; {index}")?;
                    }
                    TypeDef::Record { name, fields } => {
                        write!(out, "(@interface type (record ${name}")?;
                        for field in fields {
                            write!(out, " (field ${}: {})", field.name, field.ty)?;
                        }
                        writeln!(out, "))  ;; {index}")?;
                    }
                }
            }
        }
        if !self.imports.is_empty() {
            out.push_str("\n;; imports\n");
            for import in &self.imports {
                writeln!(
                    out,
                    "(@interface import {:?} {:?} (func (type {})))",
                    import.namespace, import.name, import.function_type
                )?;
            }
        }
        if !self.adapters.is_empty() {
            out.push_str("\n;; adapters\n");
            for adapter in &self.adapters {
                write!(out, "(@interface func (type {})", adapter.function_type)?;
                for instruction in &adapter.instructions {
                    write!(out, "\n  {instruction}")?;
                }
                out.push_str(")\n");
            }
        }
        if !self.exports.is_empty() {
            out.push_str("\n;; exports\n");
            for export in &self.exports {
                writeln!(
                    out,
                    "(@interface export {:?} (func {}))",
                    export.name, export.function_type
                )?;
            }
        }
        if !self.implementations.is_empty() {
            out.push_str("\n;; implementations\n");
            for implementation in &self.implementations {
                writeln!(
                    out,
                    "(@interface implement (func {}) (func {}))",
                    implementation.core_function_type, implementation.adapter_function_type
                )?;
            }
        }
        Ok(())
    }
}
