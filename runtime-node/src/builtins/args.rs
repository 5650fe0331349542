//! Positional arguments of a builtin call, read one at a time.
//!
//! Every error names the function and the argument (`math.add: argument 2 (y): invalid type:
//! string "a", expected i64`), so a script author sees what to fix without reading our code.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::identity::PeerId;
use crate::service::Outcome;

/// The arguments of one call, consumed from the first to the last.
pub(crate) struct Args {
    /// `service.function`, the prefix of every error.
    function: String,
    values: std::vec::IntoIter<Value>,
    count: usize,
    /// How many arguments were taken so far.
    taken: usize,
}

impl Args {
    pub(crate) fn new(service: &str, function: &str, values: Vec<Value>) -> Args {
        Args {
            function: format!("{service}.{function}"),
            count: values.len(),
            values: values.into_iter(),
            taken: 0,
        }
    }

    /// How many arguments the call has.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// An error message about this call.
    pub(crate) fn error(&self, message: impl std::fmt::Display) -> String {
        format!("{}: {message}", self.function)
    }

    /// Fails unless the call has exactly `expected` arguments (functions of fixed arity, as
    /// the reference peer checks them).
    pub(crate) fn expect_count(&self, expected: usize) -> Result<(), String> {
        if self.count == expected {
            Ok(())
        } else {
            let plural = if expected == 1 { "" } else { "s" };
            Err(self.error(format_args!(
                "expected {expected} argument{plural}, got {}",
                self.count
            )))
        }
    }

    /// The next argument as a `T`; it must be present.
    pub(crate) fn next<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, String> {
        let position = self.taken + 1;
        let value = self
            .values
            .next()
            .ok_or_else(|| self.error(format_args!("argument {position} ({name}) is missing")))?;
        self.taken = position;
        self.convert(value, name)
    }

    /// The next argument as an optional `T`, in any of the forms Aqua gives an option: an
    /// array of at most one element, `null`, a bare value, or no argument at all.
    pub(crate) fn next_opt<T: DeserializeOwned>(
        &mut self,
        name: &str,
    ) -> Result<Option<T>, String> {
        let Some(value) = self.values.next() else {
            return Ok(None);
        };
        self.taken += 1;
        match value {
            Value::Null => Ok(None),
            Value::Array(items) if items.len() <= 1 => match items.first() {
                // An array of one element is the option's value, unless the value itself is
                // an array (then the whole argument is the value).
                Some(item) => match serde_json::from_value::<T>(item.clone()) {
                    Ok(inner) => Ok(Some(inner)),
                    Err(_) => self.convert(Value::Array(items), name).map(Some),
                },
                None => Ok(None),
            },
            Value::Array(items) => match serde_json::from_value::<T>(Value::Array(items.clone())) {
                Ok(whole) => Ok(Some(whole)),
                Err(_) => Err(self.error(format_args!(
                    "argument {} ({name}) is an option: an array of at most 1 element, got {}",
                    self.taken,
                    items.len()
                ))),
            },
            scalar => self.convert(scalar, name).map(Some),
        }
    }

    /// The next argument, a base58 peer id.
    pub(crate) fn next_peer(&mut self, name: &str) -> Result<PeerId, String> {
        let text: String = self.next(name)?;
        text.parse().map_err(|e| {
            self.error(format_args!(
                "argument {} ({name}) is not a peer id: {e}",
                self.taken
            ))
        })
    }

    /// The next argument, a base58 string, decoded.
    pub(crate) fn next_b58(&mut self, name: &str) -> Result<Vec<u8>, String> {
        let text: String = self.next(name)?;
        bs58::decode(&text).into_vec().map_err(|e| {
            self.error(format_args!(
                "argument {} ({name}) is not base58: {e}",
                self.taken
            ))
        })
    }

    /// The arguments not taken yet, taking them.
    pub(crate) fn rest(&mut self) -> Vec<Value> {
        let rest: Vec<Value> = self.values.by_ref().collect();
        self.taken += rest.len();
        rest
    }

    fn convert<T: DeserializeOwned>(&self, value: Value, name: &str) -> Result<T, String> {
        serde_json::from_value(value)
            .map_err(|e| self.error(format_args!("argument {} ({name}): {e}", self.taken)))
    }
}

/// What a builtin says when asked for a function it does not have.
pub(crate) fn no_such_function(service: &str, function: &str) -> Outcome {
    Outcome::error(format!("service '{service}' has no function '{function}'"))
}

/// The JSON kind of a value, for errors.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
