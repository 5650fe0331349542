//! Aqua's types and its structural subtyping.
//!
//! Types are values: a struct type carries its fields, so two structs with the same fields
//! are interchangeable (Aqua's typing is structural), while the name is kept for messages and
//! for the JSON definitions that clients read.

use std::fmt;
use std::sync::Arc;

/// A scalar type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Bool,
    String,
}

impl Scalar {
    pub const ALL: [Scalar; 12] = [
        Scalar::U8,
        Scalar::U16,
        Scalar::U32,
        Scalar::U64,
        Scalar::I8,
        Scalar::I16,
        Scalar::I32,
        Scalar::I64,
        Scalar::F32,
        Scalar::F64,
        Scalar::Bool,
        Scalar::String,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scalar::U8 => "u8",
            Scalar::U16 => "u16",
            Scalar::U32 => "u32",
            Scalar::U64 => "u64",
            Scalar::I8 => "i8",
            Scalar::I16 => "i16",
            Scalar::I32 => "i32",
            Scalar::I64 => "i64",
            Scalar::F32 => "f32",
            Scalar::F64 => "f64",
            Scalar::Bool => "bool",
            Scalar::String => "string",
        }
    }

    pub fn from_name(name: &str) -> Option<Scalar> {
        Scalar::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Bits of an integer type and whether it is signed.
    fn integer(self) -> Option<(u32, bool)> {
        Some(match self {
            Scalar::U8 => (8, false),
            Scalar::U16 => (16, false),
            Scalar::U32 => (32, false),
            Scalar::U64 => (64, false),
            Scalar::I8 => (8, true),
            Scalar::I16 => (16, true),
            Scalar::I32 => (32, true),
            Scalar::I64 => (64, true),
            _ => return None,
        })
    }

    /// The smallest and largest values of an integer type.
    pub fn integer_range(self) -> Option<(i128, i128)> {
        let (bits, signed) = self.integer()?;
        Some(if signed {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        })
    }

    pub fn is_number(self) -> bool {
        self.integer().is_some() || self.is_float()
    }

    pub fn is_float(self) -> bool {
        matches!(self, Scalar::F32 | Scalar::F64)
    }

    /// Whether every value of `self` is a value of `other`: integers widen, unsigned into
    /// wider signed, integers of at most 32 bits into `f64`, `f32` into `f64`.
    pub fn fits(self, other: Scalar) -> bool {
        if self == other {
            return true;
        }
        match (self.integer(), other.integer()) {
            (Some((a, false)), Some((b, false))) | (Some((a, true)), Some((b, true))) => a <= b,
            (Some((a, false)), Some((b, true))) => a < b,
            (Some((a, _)), None) => {
                other == Scalar::F64 && a <= 32 || other == Scalar::F32 && a <= 16
            }
            (None, None) => self == Scalar::F32 && other == Scalar::F64,
            _ => false,
        }
    }
}

/// The type of a literal number before it meets its use: it fits any scalar that can hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumberLiteral {
    /// A non-negative integer.
    Unsigned,
    /// A negative integer.
    Signed,
    Float,
}

/// A top-level definition: its module (by index) and its position among the module's items.
/// Unlike a span, it stays the same when an edit above the definition moves its text, so what
/// refers to a definition this way (a type, a site in an importer) is unchanged by such edits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DefId {
    pub module: u32,
    pub item: u32,
}

/// A struct (`data`) type: its name and its fields in declaration order.
#[derive(Debug, PartialEq)]
pub struct StructType {
    pub name: String,
    pub fields: Vec<(String, Type)>,
    /// The `data` that declares it (none for the compiler's own structs), so that editors can
    /// go from a field to its declaration; the field's index there is its index here.
    pub origin: Option<DefId>,
}

/// An ability or a service: named arrows and (for abilities) values and nested abilities.
#[derive(Debug, PartialEq)]
pub struct AbilityType {
    pub name: String,
    pub fields: Vec<(String, Type)>,
    /// Services have a default id or need one set before use.
    pub service: bool,
    /// The `ability` or `service` that declares it, as for [`StructType::origin`].
    pub origin: Option<DefId>,
}

impl AbilityType {
    pub fn field(&self, name: &str) -> Option<&Type> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// An arrow: a function, closure, callback or service method.
#[derive(Debug, PartialEq)]
pub struct ArrowType {
    /// Abilities the arrow needs from its caller (`{Ab} -> ()`).
    pub abilities: Vec<Type>,
    pub params: Vec<(Option<String>, Type)>,
    pub results: Vec<Type>,
}

/// A type.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Scalar(Scalar),
    NumberLiteral(NumberLiteral),
    /// `⊤`: any value.
    Top,
    /// `⊥`: no value; `nil` is `?⊥`.
    Bottom,
    Array(Box<Type>),
    Option(Box<Type>),
    Stream(Box<Type>),
    StreamMap(Box<Type>),
    Struct(Arc<StructType>),
    Ability(Arc<AbilityType>),
    Arrow(Arc<ArrowType>),
    /// The type of something already reported as wrong: it fits everything, so one mistake
    /// gives one diagnostic.
    Error,
}

impl Type {
    pub fn string() -> Type {
        Type::Scalar(Scalar::String)
    }

    pub fn bool() -> Type {
        Type::Scalar(Scalar::Bool)
    }

    /// What a `for` over a stream map of `value`s gives: a `key` and its `value`.
    pub fn map_entry(value: Type) -> Type {
        Type::Struct(Arc::new(StructType {
            name: "Entry".into(),
            fields: vec![("key".into(), Type::string()), ("value".into(), value)],
            origin: None,
        }))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Type::Error)
    }

    /// Whether values of this type are data (can be passed to a service, put in a stream).
    pub fn is_data(&self) -> bool {
        !matches!(self, Type::Ability(_) | Type::Arrow(_))
    }

    /// A number: a numeric scalar or a number literal.
    pub fn is_number(&self) -> bool {
        match self {
            Type::Scalar(s) => s.is_number(),
            Type::NumberLiteral(_) => true,
            _ => false,
        }
    }

    /// An integer: an integer scalar or an integer literal.
    pub fn is_integer(&self) -> bool {
        match self {
            Type::Scalar(s) => s.integer().is_some(),
            Type::NumberLiteral(lit) => *lit != NumberLiteral::Float,
            _ => false,
        }
    }

    pub fn is_stream(&self) -> bool {
        matches!(self, Type::Stream(_))
    }

    /// The element type of a collection (arrays, options, streams).
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::Array(t) | Type::Option(t) | Type::Stream(t) => Some(t),
            _ => None,
        }
    }

    /// What a stream or option reads as when used as a value: an array.
    pub fn as_value(&self) -> Type {
        match self {
            Type::Stream(t) => Type::Array(t.clone()),
            other => other.clone(),
        }
    }

    /// Whether a value of type `self` can be used where `expected` is wanted.
    pub fn fits(&self, expected: &Type) -> bool {
        self.fits_in(expected, &mut Compared::default())
    }

    fn fits_in(&self, expected: &Type, compared: &mut Compared) -> bool {
        use Type::*;
        match (self, expected) {
            (Error, _) | (_, Error) | (_, Top) | (Bottom, _) => true,
            (Scalar(a), Scalar(b)) => a.fits(*b),
            (NumberLiteral(lit), Scalar(s)) => match lit {
                self::NumberLiteral::Unsigned => s.is_number(),
                self::NumberLiteral::Signed => {
                    s.is_float() || s.integer().is_some_and(|(_, signed)| signed)
                }
                self::NumberLiteral::Float => s.is_float(),
            },
            (NumberLiteral(a), NumberLiteral(b)) => a == b,
            (Array(a), Array(b))
            | (Option(a), Option(b))
            | (Stream(a), Stream(b))
            | (StreamMap(a), StreamMap(b)) => a.fits_in(b, compared),
            // Options and streams read as arrays, streams as options.
            (Option(a) | Stream(a), Array(b)) | (Stream(a), Option(b)) => a.fits_in(b, compared),
            (Struct(a), Struct(b)) => {
                Arc::ptr_eq(a, b)
                    || compared.once(Arc::as_ptr(a).cast(), Arc::as_ptr(b).cast(), |compared| {
                        b.fields.iter().all(|(name, want)| {
                            a.fields.iter().any(|(have_name, have)| {
                                have_name == name && have.fits_in(want, compared)
                            })
                        })
                    })
            }
            (Ability(a), Ability(b)) => {
                Arc::ptr_eq(a, b)
                    || compared.once(Arc::as_ptr(a).cast(), Arc::as_ptr(b).cast(), |compared| {
                        b.fields.iter().all(|(name, want)| {
                            a.field(name)
                                .is_some_and(|have| have.fits_in(want, compared))
                        })
                    })
            }
            (Arrow(a), Arrow(b)) => {
                a.params.len() == b.params.len()
                    && a.results.len() == b.results.len()
                    && a.params
                        .iter()
                        .zip(&b.params)
                        .all(|((_, p), (_, q))| q.fits_in(p, compared))
                    && a.results
                        .iter()
                        .zip(&b.results)
                        .all(|(r, s)| r.fits_in(s, compared))
            }
            _ => false,
        }
    }

    /// The smallest type both fit, for the items of a collection literal.
    pub fn join(&self, other: &Type) -> Option<Type> {
        if other.fits(self) {
            Some(self.clone())
        } else if self.fits(other) {
            Some(other.clone())
        } else {
            match (self, other) {
                (Type::NumberLiteral(_), Type::NumberLiteral(_)) => {
                    Some(Type::NumberLiteral(NumberLiteral::Float))
                }
                _ => None,
            }
        }
    }
}

/// The struct and ability comparisons made during one [`Type::fits`], by the two types'
/// addresses. Types share the types they are built from (`data A: x: B, y: B`), and comparing
/// every use again would take time exponential in how deep such sharing goes.
#[derive(Default)]
struct Compared(std::collections::HashMap<(*const (), *const ()), bool>);

impl Compared {
    fn once(
        &mut self,
        have: *const (),
        want: *const (),
        compare: impl FnOnce(&mut Compared) -> bool,
    ) -> bool {
        if let Some(&fits) = self.0.get(&(have, want)) {
            return fits;
        }
        let fits = compare(self);
        self.0.insert((have, want), fits);
        fits
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Scalar(s) => f.write_str(s.name()),
            Type::NumberLiteral(NumberLiteral::Unsigned) => f.write_str("unsigned number"),
            Type::NumberLiteral(NumberLiteral::Signed) => f.write_str("signed number"),
            Type::NumberLiteral(NumberLiteral::Float) => f.write_str("float number"),
            Type::Top => f.write_str("⊤"),
            Type::Bottom => f.write_str("⊥"),
            Type::Array(t) => write!(f, "[]{t}"),
            Type::Option(t) => write!(f, "?{t}"),
            Type::Stream(t) => write!(f, "*{t}"),
            Type::StreamMap(t) => write!(f, "%{t}"),
            Type::Struct(s) => f.write_str(&s.name),
            Type::Ability(a) => f.write_str(&a.name),
            Type::Arrow(a) => {
                if !a.abilities.is_empty() {
                    let names: Vec<String> = a.abilities.iter().map(|t| t.to_string()).collect();
                    write!(f, "{{{}}} ", names.join(", "))?;
                }
                let params: Vec<String> = a
                    .params
                    .iter()
                    .map(|(name, t)| match name {
                        Some(n) => format!("{n}: {t}"),
                        None => t.to_string(),
                    })
                    .collect();
                write!(f, "({}) -> ", params.join(", "))?;
                if a.results.is_empty() {
                    f.write_str("()")
                } else {
                    let results: Vec<String> = a.results.iter().map(|t| t.to_string()).collect();
                    f.write_str(&results.join(", "))
                }
            }
            Type::Error => f.write_str("<error>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_widen_but_never_narrow() {
        assert!(Scalar::U8.fits(Scalar::U64));
        assert!(Scalar::U32.fits(Scalar::I64));
        assert!(!Scalar::U64.fits(Scalar::I64));
        assert!(!Scalar::I8.fits(Scalar::U64));
        assert!(Scalar::I32.fits(Scalar::F64));
        assert!(!Scalar::I64.fits(Scalar::F64));
        assert!(!Scalar::String.fits(Scalar::Bool));
    }

    #[test]
    fn structs_that_share_structs_are_compared_once_each() {
        // Each struct holds the next one twice: 2^60 paths down a chain, which comparing every
        // use would never finish. The chains differ only in their innermost field's type.
        let chain = |innermost: Scalar| {
            (0..60).fold(Type::Scalar(innermost), |next, depth| {
                Type::Struct(Arc::new(StructType {
                    name: format!("S{depth}"),
                    fields: vec![("a".into(), next.clone()), ("b".into(), next)],
                    origin: None,
                }))
            })
        };
        assert!(chain(Scalar::U8).fits(&chain(Scalar::U64)));
        assert!(!chain(Scalar::U64).fits(&chain(Scalar::U8)));
    }

    #[test]
    fn structs_are_structural() {
        let point = Type::Struct(Arc::new(StructType {
            name: "Point".into(),
            fields: vec![("x".into(), Type::Scalar(Scalar::I64))],
            origin: None,
        }));
        let wider = Type::Struct(Arc::new(StructType {
            name: "Named".into(),
            fields: vec![
                ("name".into(), Type::string()),
                ("x".into(), Type::Scalar(Scalar::I32)),
            ],
            origin: None,
        }));
        assert!(wider.fits(&point));
        assert!(!point.fits(&wider));
    }

    #[test]
    fn literals_fit_by_sign() {
        let unsigned = Type::NumberLiteral(NumberLiteral::Unsigned);
        let signed = Type::NumberLiteral(NumberLiteral::Signed);
        assert!(unsigned.fits(&Type::Scalar(Scalar::U8)));
        assert!(!signed.fits(&Type::Scalar(Scalar::U8)));
        assert!(signed.fits(&Type::Scalar(Scalar::F32)));
        assert!(Type::Option(Box::new(Type::Bottom)).fits(&Type::Array(Box::new(Type::string()))));
    }
}
