//! Parses the files given as arguments and prints their diagnostics (a development aid).
fn main() {
    for path in std::env::args().skip(1) {
        let source = std::fs::read_to_string(&path).expect("readable file");
        let parsed = aqua::syntax::parse(&source);
        for d in &parsed.diagnostics {
            eprint!(
                "{}",
                aqua::diagnostic::render(d, path.as_ref(), &source, false)
            );
        }
        println!(
            "{path}: {} items, {} diagnostics",
            parsed.file.items.len(),
            parsed.diagnostics.len()
        );
    }
}
