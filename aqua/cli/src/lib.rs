//! The library side of the `aquac` command: what `aquac run` does, for tests that run
//! compiled functions exactly as the command does.

pub mod run;
