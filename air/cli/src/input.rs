//! Reading the files named on the command line; `-` stands for standard input.

use std::io::Read;
use std::path::Path;

pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// The name to show in messages.
pub fn display_name(path: &Path) -> String {
    if is_stdin(path) {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

/// Reads a whole file; the error is a message naming the file.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    bytes.map_err(|error| format!("cannot read {}: {error}", display_name(path)))
}

/// Reads a file as UTF-8 text; reports problems on stderr and returns `None`.
///
/// Text that is not UTF-8 is reported as a diagnostic pointing at the first bad byte, like the
/// errors in a script.
pub fn read_text(path: &Path, color: bool) -> Option<String> {
    let bytes = match read_bytes(path) {
        Ok(bytes) => bytes,
        Err(message) => {
            eprintln!("error: {message}");
            return None;
        }
    };
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(error) => {
            let name = display_name(path);
            let offset = error.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(error.as_bytes()).into_owned();
            // In the lossy text, the invalid byte became U+FFFD at the same offset.
            let span = air::Span::new(offset as u32, offset as u32 + 1);
            let diagnostic = air::Diagnostic::new(
                air::ErrorCode::InvalidUtf8,
                format!("{name} is not valid UTF-8 (byte {offset})"),
                span,
                "invalid byte",
            );
            eprint!("{}", diagnostic.render(&name, &lossy, color));
            None
        }
    }
}
