//! `array`: sums, set operations on arrays of strings, slices and lengths.
//!
//! Set operations keep the order in which elements first appear (in `xs`, then in `ys`); the
//! reference peer promises no order, so any order it gives is one of ours too.

use std::collections::HashSet;

use serde_json::Value;

use super::args::{kind, no_such_function, Args};
use crate::service::{Call, Outcome, ParticleParams, Reply, Service};

pub(crate) const SERVICE: &str = "array";

pub(crate) struct Array;

impl Service for Array {
    fn call(&self, call: Call, _particle: &ParticleParams) -> Reply {
        let args = Args::new(SERVICE, &call.function_name, call.arguments);
        let outcome = match call.function_name.as_str() {
            "sum" => sum(args).into(),
            "dedup" => dedup(args).into(),
            "intersect" => set_operation(args, |xs, ys| {
                let ys: HashSet<&String> = ys.iter().collect();
                xs.into_iter().filter(|x| ys.contains(x)).collect()
            }),
            "diff" => set_operation(args, |xs, ys| {
                let ys: HashSet<&String> = ys.iter().collect();
                xs.into_iter().filter(|x| !ys.contains(x)).collect()
            }),
            "sdiff" => set_operation(args, |xs, ys| {
                let in_xs: HashSet<String> = xs.iter().cloned().collect();
                let in_ys: HashSet<&String> = ys.iter().collect();
                let only_xs = xs.into_iter().filter(|x| !in_ys.contains(x));
                let only_ys: Vec<String> =
                    ys.iter().filter(|y| !in_xs.contains(*y)).cloned().collect();
                only_xs.chain(only_ys).collect()
            }),
            "slice" => slice(args).into(),
            "length" => array_length(args).into(),
            other => no_such_function(SERVICE, other),
        };
        Reply::Ready(outcome)
    }
}

/// The length of its one argument, an array (`array.length` and `op.array_length`).
pub(crate) fn array_length(mut args: Args) -> Result<Value, String> {
    args.expect_count(1)?;
    match args.rest().pop() {
        Some(Value::Array(items)) => Ok(Value::from(items.len())),
        other => Err(args.error(format_args!(
            "argument 1 must be an array, got {}",
            other.as_ref().map_or("nothing", kind)
        ))),
    }
}

fn sum(mut args: Args) -> Result<Value, String> {
    args.expect_count(1)?;
    let xs: Vec<i64> = args.next("xs")?;
    xs.into_iter()
        .try_fold(0i64, i64::checked_add)
        .map(Value::from)
        .ok_or_else(|| args.error("i64 add overflow"))
}

fn dedup(mut args: Args) -> Result<Value, String> {
    args.expect_count(1)?;
    let xs: Vec<String> = args.next("xs")?;
    Ok(Value::from(unique(xs)))
}

/// Applies `operation` to the two arguments, arrays of strings, each without duplicates.
fn set_operation(
    mut args: Args,
    operation: impl FnOnce(Vec<String>, Vec<String>) -> Vec<String>,
) -> Outcome {
    let inputs = args.expect_count(2).and_then(|()| {
        let xs: Vec<String> = args.next("xs")?;
        let ys: Vec<String> = args.next("ys")?;
        Ok((xs, ys))
    });
    match inputs {
        Ok((xs, ys)) => Outcome::Value(Value::from(operation(unique(xs), unique(ys)))),
        Err(message) => Outcome::Error(message),
    }
}

/// The elements of `xs` without repetitions, in the order they first appear.
fn unique(xs: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    xs.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

/// `array[start..end]`. As on the reference peer, an empty array gives an empty slice whatever
/// the indexes.
fn slice(mut args: Args) -> Result<Value, String> {
    if args.count() != 3 {
        return Err(args.error(format_args!(
            "expected 3 arguments (array, start index, end index), got {}",
            args.count()
        )));
    }
    let items: Vec<Value> = args.next("array")?;
    if items.is_empty() {
        return Ok(Value::Array(items));
    }
    let start: usize = args.next("start")?;
    let end: usize = args.next("end")?;
    if start > end || end > items.len() {
        return Err(args.error(format_args!(
            "slice indexes out of bounds: start {start}, end {end}, array length {}",
            items.len()
        )));
    }
    Ok(Value::Array(items[start..end].to_vec()))
}
