//! `math` and `cmp`: integer arithmetic and comparisons on i64, where overflow and division
//! by zero are errors, never wrapped or saturated results.

use std::cmp::Ordering;

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::args::{no_such_function, Args};
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const MATH: &str = "math";
pub(crate) const CMP: &str = "cmp";

pub(crate) struct Math;

impl Service for Math {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let args = Args::new(MATH, &call.function_name, call.arguments);
        let overflow = "i64 overflow";
        let outcome = match call.function_name.as_str() {
            "add" => binary(args, |x: i64, y: i64| x.checked_add(y).ok_or(overflow)),
            "sub" => binary(args, |x: i64, y: i64| x.checked_sub(y).ok_or(overflow)),
            "mul" => binary(args, |x: i64, y: i64| x.checked_mul(y).ok_or(overflow)),
            // The product of two floats, rounded down; `as` saturates at the i64 bounds.
            "fmul" => binary(args, |x: f64, y: f64| Ok::<_, &str>((x * y).floor() as i64)),
            "div" => binary(args, |x: i64, y: i64| divide(x, y, i64::checked_div)),
            "rem" => binary(args, |x: i64, y: i64| divide(x, y, i64::checked_rem)),
            "pow" => binary(args, |x: i64, y: u32| x.checked_pow(y).ok_or(overflow)),
            // log(x, y) is the logarithm of y to base x, rounded down.
            "log" => binary(args, |x: i64, y: i64| {
                y.checked_ilog(x)
                    .ok_or("the base must be at least 2 and the number positive")
            }),
            other => no_such_function(MATH, other),
        };
        Reply::Ready(outcome)
    }
}

/// `operation(x, y)` for a division, which fails on a zero divisor or on `i64::MIN / -1`.
fn divide(x: i64, y: i64, operation: fn(i64, i64) -> Option<i64>) -> Result<i64, &'static str> {
    if y == 0 {
        return Err("division by zero");
    }
    operation(x, y).ok_or("i64 overflow")
}

pub(crate) struct Cmp;

impl Service for Cmp {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let args = Args::new(CMP, &call.function_name, call.arguments);
        let compare =
            |test: fn(Ordering) -> bool| move |x: i64, y: i64| Ok::<_, &str>(test(x.cmp(&y)));
        let outcome = match call.function_name.as_str() {
            "gt" => binary(args, compare(Ordering::is_gt)),
            "gte" => binary(args, compare(Ordering::is_ge)),
            "lt" => binary(args, compare(Ordering::is_lt)),
            "lte" => binary(args, compare(Ordering::is_le)),
            // -1, 0 or 1.
            "cmp" => binary(args, |x: i64, y: i64| Ok::<_, &str>(x.cmp(&y) as i8)),
            other => no_such_function(CMP, other),
        };
        Reply::Ready(outcome)
    }
}

/// A function of exactly two arguments, `x` and `y`.
fn binary<X, Y, R>(mut args: Args, f: impl FnOnce(X, Y) -> Result<R, &'static str>) -> Outcome
where
    X: DeserializeOwned,
    Y: DeserializeOwned,
    R: Into<Value>,
{
    let result = args.expect_count(2).and_then(|()| {
        let x: X = args.next("x")?;
        let y: Y = args.next("y")?;
        f(x, y).map_err(|message| args.error(message))
    });
    match result {
        Ok(value) => Outcome::Value(value.into()),
        Err(message) => Outcome::Error(message),
    }
}
