//! `air check`, `air fmt` and `air stats`: the commands that read AIR scripts.

use std::io::Write;
use std::path::Path;

use crate::input::{display_name, is_stdin, read_text};

fn report(name: &str, source: &str, diagnostics: &[air::Diagnostic], color: bool) {
    let mut stderr = std::io::stderr().lock();
    for diagnostic in diagnostics {
        let _ = stderr.write_all(diagnostic.render(name, source, color).as_bytes());
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let warnings = diagnostics.iter().filter(|d| d.code.is_warning()).count();
    let errors = diagnostics.len() - warnings;
    let summary = match (errors, warnings) {
        (_, 0) => plural(errors, "error"),
        (0, _) => plural(warnings, "warning"),
        _ => format!(
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    };
    let _ = writeln!(stderr, "{name}: {summary}");
}

pub fn check(path: &Path, color: bool) -> bool {
    let Some(source) = read_text(path, color) else {
        return false;
    };
    let parsed = air::check(&source);
    if !parsed.diagnostics.is_empty() {
        report(&display_name(path), &source, &parsed.diagnostics, color);
    }
    !parsed.has_errors()
}

pub fn format(path: &Path, check_only: bool, color: bool) -> bool {
    let name = display_name(path);
    let Some(source) = read_text(path, color) else {
        return false;
    };
    // Warnings do not stop formatting; `air check` reports them.
    let parsed = air::check(&source);
    if parsed.has_errors() {
        report(&name, &source, &parsed.diagnostics, color);
        return false;
    }
    let formatted = air::print(&parsed.script);
    if check_only {
        if formatted != source {
            eprintln!("{name}: not formatted");
            return false;
        }
        return true;
    }
    if is_stdin(path) {
        let mut stdout = std::io::stdout().lock();
        return match stdout
            .write_all(formatted.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => true,
            Err(error) => {
                eprintln!("error: cannot write the formatted script: {error}");
                false
            }
        };
    }
    if formatted == source {
        return true;
    }
    // Write next to the file and rename, so that a failure never leaves half a script.
    let temporary = path.with_extension("air.fmt-tmp");
    let written = std::fs::write(&temporary, formatted.as_bytes())
        .and_then(|()| std::fs::rename(&temporary, path));
    match written {
        Ok(()) => true,
        Err(error) => {
            let _ = std::fs::remove_file(&temporary);
            eprintln!("error: cannot write {name}: {error}");
            false
        }
    }
}

pub fn stats(path: &Path, color: bool) -> bool {
    let Some(script) = parse_only(path, color) else {
        return false;
    };
    print!("{}", air::stats::stats(&script));
    true
}

/// `air opt`: the optimized script on standard output. Only valid scripts are optimized:
/// the optimizer relies on what the validator guarantees.
pub fn optimize(path: &Path, color: bool) -> bool {
    let name = display_name(path);
    let Some(source) = read_text(path, color) else {
        return false;
    };
    let parsed = air::check(&source);
    if !parsed.diagnostics.is_empty() {
        report(&name, &source, &parsed.diagnostics, color);
    }
    if parsed.has_errors() {
        return false;
    }
    print!("{}", air::print(&air::optimize(&parsed.script)));
    true
}

/// The script of `path`, parsed but not validated; syntax errors are reported.
fn parse_only(path: &Path, color: bool) -> Option<air::Script> {
    let name = display_name(path);
    let source = read_text(path, color)?;
    let parsed = air::parse(&source);
    if !parsed.diagnostics.is_empty() {
        report(&name, &source, &parsed.diagnostics, color);
        return None;
    }
    Some(parsed.script)
}
