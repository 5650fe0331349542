//! Errors of the execution step and their codes.
//!
//! Scripts observe catchable errors through `%last_error%` and `:error:` (code, message and the
//! text of the failing instruction), so their codes and messages are part of the language and
//! follow the reference AquaVM exactly. Uncatchable errors abort the run: the outcome carries
//! their code and message and the previous data is kept.

use std::fmt;
use std::rc::Rc;

use serde_json::Value;

/// First code of catchable errors.
pub const CATCHABLE_BASE: i64 = 10_000;
/// First code of uncatchable errors.
pub const UNCATCHABLE_BASE: i64 = 20_000;

/// An error raised while executing an instruction.
#[derive(Debug, Clone)]
pub enum ExecError {
    /// Caught by `xor`; visible to the script.
    Catchable(Rc<Catchable>),
    /// Aborts the whole run.
    Uncatchable(Rc<Uncatchable>),
}

impl ExecError {
    pub fn is_catchable(&self) -> bool {
        matches!(self, ExecError::Catchable(_))
    }

    /// A variable that is not there yet: the instruction waits for it (join behaviour) instead of
    /// failing.
    pub fn is_joinable(&self) -> bool {
        matches!(self, ExecError::Catchable(c) if matches!(**c, Catchable::VariableNotFound(_)))
    }

    pub fn code(&self) -> i64 {
        match self {
            ExecError::Catchable(c) => c.code(),
            ExecError::Uncatchable(u) => u.code(),
        }
    }

    /// `match`/`mismatch` failures are control flow: they set `:error:` but not `%last_error%`.
    pub fn affects_last_error(&self) -> bool {
        match self {
            ExecError::Catchable(c) => !matches!(
                **c,
                Catchable::MatchValuesNotEqual | Catchable::MismatchValuesEqual
            ),
            ExecError::Uncatchable(_) => false,
        }
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecError::Catchable(c) => c.fmt(f),
            ExecError::Uncatchable(u) => u.fmt(f),
        }
    }
}

impl From<Catchable> for ExecError {
    fn from(e: Catchable) -> Self {
        ExecError::Catchable(Rc::new(e))
    }
}

impl From<Uncatchable> for ExecError {
    fn from(e: Uncatchable) -> Self {
        ExecError::Uncatchable(Rc::new(e))
    }
}

impl From<LensError> for ExecError {
    fn from(e: LensError) -> Self {
        Catchable::Lens(e).into()
    }
}

pub type ExecResult<T> = Result<T, ExecError>;

/// Errors a script can catch with `xor`, with the reference's codes (10000 + its index). The
/// reference's errors that cannot happen here (its type checks of internal values) have no
/// variant; `code` keeps the numbering.
#[derive(Debug, Clone)]

pub enum Catchable {
    /// A service answered with a non-zero `ret_code`.
    LocalServiceError(i32, Rc<str>),
    MatchValuesNotEqual,
    MismatchValuesEqual,
    /// Joinable: the instruction waits for the variable.
    VariableNotFound(String),
    FoldIteratesOverNonArray(Value, String),
    /// Raised by `fail`.
    UserError(Value),
    Lens(LensError),
    InvalidErrorObject(ErrorObjectError),
    VariableWasNotInitializedAfterNew(String),
    LengthFunctorAppliedToNotArray(Value),
    NonStringValueInTripletResolution {
        variable: String,
        actual: Value,
    },
    StreamMap(String),
}

impl Catchable {
    pub fn code(&self) -> i64 {
        let index = match self {
            Catchable::LocalServiceError(..) => 0,
            Catchable::MatchValuesNotEqual => 1,
            Catchable::MismatchValuesEqual => 2,
            Catchable::VariableNotFound(_) => 3,
            Catchable::FoldIteratesOverNonArray(..) => 5,
            Catchable::UserError(_) => 6,
            Catchable::Lens(_) => 7,
            Catchable::InvalidErrorObject(_) => 8,
            Catchable::VariableWasNotInitializedAfterNew(_) => 9,
            Catchable::LengthFunctorAppliedToNotArray(_) => 10,
            Catchable::NonStringValueInTripletResolution { .. } => 11,
            Catchable::StreamMap(_) => 12,
        };
        CATCHABLE_BASE + index
    }
}

impl fmt::Display for Catchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Catchable::LocalServiceError(code, message) => write!(
                f,
                "Local service error, ret_code is {code}, error message is '{message}'"
            ),
            Catchable::MatchValuesNotEqual => write!(f, "compared values do not match"),
            Catchable::MismatchValuesEqual => write!(f, "compared values do not mismatch"),
            Catchable::VariableNotFound(name) => write!(
                f,
                "variable with name '{name}' wasn't defined during script execution"
            ),
            Catchable::FoldIteratesOverNonArray(value, expr) => write!(
                f,
                "expression '{expr}' returned non-array value '{value}' for fold iterable"
            ),
            Catchable::UserError(error) => {
                write!(f, "fail with '{error}' is used without corresponding xor")
            }
            Catchable::Lens(e) => e.fmt(f),
            Catchable::InvalidErrorObject(e) => e.fmt(f),
            Catchable::VariableWasNotInitializedAfterNew(name) => write!(
                f,
                "variable with name '{name}' was cleared by new and then wasn't set"
            ),
            Catchable::LengthFunctorAppliedToNotArray(value) => write!(
                f,
                "the length functor could applied only to an array-like value, but it's applied to '{value}'"
            ),
            Catchable::NonStringValueInTripletResolution { variable, actual } => write!(
                f,
                "call cannot resolve non-String triplet variable part `{variable}` with value '{actual}'"
            ),
            Catchable::StreamMap(message) => f.write_str(message),
        }
    }
}

/// Errors of applying a lens to a value.
#[derive(Debug, Clone)]

pub enum LensError {
    CanonStreamNotHaveEnoughValues { stream_size: usize, idx: usize },
    EmptyStream,
    FieldAccessorAppliedToStream { field_name: String },
    ArrayAccessorNotMatchValue { value: Value, idx: u32 },
    ValueNotContainSuchArrayIdx { value: Value, idx: u32 },
    ValueNotContainSuchField { value: Value, field_name: String },
    FieldAccessorNotMatchValue { value: Value, field_name: String },
    IndexAccessNotU32 { accessor: serde_json::Number },
    ScalarAccessorHasInvalidType { accessor: Value },
    StreamAccessorHasInvalidType { accessor: Value },
    CanonStreamMapAccessorHasInvalidType { accessor: Value },
    CanonStreamMapAccessorMustNotBeIterable,
}

impl fmt::Display for LensError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use LensError::*;
        match self {
            CanonStreamNotHaveEnoughValues { stream_size, idx } => write!(
                f,
                "lambda is applied to a stream that have only '{stream_size}' elements, but '{idx}' requested"
            ),
            EmptyStream => write!(f, "lambda is applied to an empty stream"),
            FieldAccessorAppliedToStream { field_name } => write!(
                f,
                "field accessor (with field name = '{field_name}') can't be applied to a stream"
            ),
            ArrayAccessorNotMatchValue { value, idx } => write!(
                f,
                "value '{value}' is not an array-type to match array accessor with idx = '{idx}'"
            ),
            ValueNotContainSuchArrayIdx { value, idx } => {
                write!(f, "value '{value}' does not contain element for idx = '{idx}'")
            }
            ValueNotContainSuchField { value, field_name } => write!(
                f,
                "value '{value}' does not contain element with field name = '{field_name}'"
            ),
            FieldAccessorNotMatchValue { value, field_name } => write!(
                f,
                "value '{value}' is not an map-type to match field accessor with field_name = '{field_name}'"
            ),
            IndexAccessNotU32 { accessor } => {
                write!(f, "index accessor `{accessor} can't be converted to u32`")
            }
            ScalarAccessorHasInvalidType { accessor } => write!(
                f,
                "scalar accessor `{accessor}` should has number or string type"
            ),
            StreamAccessorHasInvalidType { accessor } => write!(
                f,
                "stream accessor `{accessor}` should has number (u32) type"
            ),
            CanonStreamMapAccessorHasInvalidType { accessor } => write!(
                f,
                "canon stream map accessor `{accessor}` should be either string or number"
            ),
            CanonStreamMapAccessorMustNotBeIterable => {
                write!(f, "canon stream map accessor must not be iterable")
            }
        }
    }
}

/// Why a value cannot be raised by `fail` as an error object.
#[derive(Debug, Clone)]
pub enum ErrorObjectError {
    ScalarMustBeObject(Value),
    ScalarMustContainField {
        scalar: Value,
        field_name: &'static str,
    },
    ScalarFieldIsWrongType {
        scalar: Value,
        field_name: &'static str,
        expected_type: &'static str,
    },
    ErrorCodeMustBeNonZero,
}

impl fmt::Display for ErrorObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorObjectError::ScalarMustBeObject(value) => write!(
                f,
                "scalar should have an object type to be converted into error object, but '{value}' doesn't have"
            ),
            ErrorObjectError::ScalarMustContainField { scalar, field_name } => {
                write!(f, "scalar '{scalar}' must have field with name '{field_name}'")
            }
            ErrorObjectError::ScalarFieldIsWrongType {
                scalar,
                field_name,
                expected_type,
            } => write!(
                f,
                "{field_name} of scalar '{scalar}' must have {expected_type} type"
            ),
            ErrorObjectError::ErrorCodeMustBeNonZero => {
                write!(f, "error code must be non-zero, but it is zero")
            }
        }
    }
}

/// Errors that abort the run, with the reference's codes (20000 + its index). Its errors that
/// cannot happen here (integer conversions, signing and serialization failures) have no variant;
/// `code` keeps the numbering.
#[derive(Debug, Clone)]

pub enum Uncatchable {
    /// The traces in the data do not fit the script.
    Trace {
        message: String,
        instruction: String,
    },
    GenerationCompaction(String),
    FoldStateNotFound(String),
    IterableShadowing(String),
    MultipleIterableValues(String),
    CallResultNotCorrespondToInstr(String),
    ShadowingIsNotAllowed(String),
    ScalarsStateCorrupted {
        name: String,
        depth: usize,
    },
    Cid(String),
    ValueForCidNotFound {
        kind: &'static str,
        cid: String,
    },
    MalformedCallServiceFailed(String),
    StreamSizeLimitExceeded,
    StreamMapKey(String),
    CanonStreamMap(String),
    InstructionParametersMismatch {
        param: &'static str,
        expected: String,
        stored: String,
    },
}

/// The reference caps a stream at this many values; reaching it aborts the run.
pub const STREAM_MAX_SIZE: usize = 1024;

impl Uncatchable {
    pub fn code(&self) -> i64 {
        use Uncatchable::*;
        let index = match self {
            Trace { .. } => 0,
            GenerationCompaction(_) => 1,
            FoldStateNotFound(_) => 3,
            IterableShadowing(_) => 4,
            MultipleIterableValues(_) => 5,
            CallResultNotCorrespondToInstr(_) => 6,
            ShadowingIsNotAllowed(_) => 7,
            ScalarsStateCorrupted { .. } => 8,
            Cid(_) => 9,
            ValueForCidNotFound { .. } => 10,
            MalformedCallServiceFailed(_) => 12,
            StreamSizeLimitExceeded => 13,
            StreamMapKey(_) => 14,
            CanonStreamMap(_) => 16,
            InstructionParametersMismatch { .. } => 17,
        };
        UNCATCHABLE_BASE + index
    }
}

impl fmt::Display for Uncatchable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Uncatchable::*;
        match self {
            Trace {
                message,
                instruction,
            } => write!(
                f,
                "on instruction '{instruction}' trace handler encountered an error: {message}"
            ),
            GenerationCompaction(m) | Cid(m)
            | StreamMapKey(m) | CanonStreamMap(m) => f.write_str(m),
            FoldStateNotFound(name) => write!(f, "fold state not found for this iterable '{name}'"),
            IterableShadowing(name) => write!(
                f,
                "variable with name '{name}' can't be shadowed, shadowing isn't supported for iterables"
            ),
            MultipleIterableValues(name) => {
                write!(f, "multiple iterable values found for iterable name '{name}'")
            }
            CallResultNotCorrespondToInstr(value) => write!(
                f,
                "call result value {value} doesn't match with corresponding instruction"
            ),
            ShadowingIsNotAllowed(name) => write!(
                f,
                "trying to shadow variable '{name}', but shadowing is allowed only inside fold blocks"
            ),
            ScalarsStateCorrupted { name, depth } => write!(
                f,
                "new end block tries to pop up a variable '{name}' that wasn't defined at depth {depth}"
            ),
            ValueForCidNotFound { kind, cid } => write!(f, "{kind} for CID {cid:?} not found"),
            MalformedCallServiceFailed(e) => {
                write!(f, "failed to deserialize to CallServiceFailed: {e}")
            }
            StreamSizeLimitExceeded => write!(
                f,
                "stream size goes over the allowed limit of {STREAM_MAX_SIZE}"
            ),
            InstructionParametersMismatch {
                param,
                expected,
                stored,
            } => write!(
                f,
                "{param} doesn't match expected parameters: expected {expected}, got {stored} "
            ),
        }
    }
}
