//! Any bytes as an Aqua module compiled whole: loading (with the bundled library), name
//! resolution, type checking and AIR generation never panic, every diagnostic's span lies
//! inside its module's text, and every function that compiles is AIR that parses and
//! validates.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut files = aqua::project::MemoryFiles::new();
    files.insert("/fuzz/main.aqua", data.to_vec());
    let compilation = aqua::compile::compile(
        &["/fuzz/main.aqua".into()],
        &files,
        &aqua::compile::Options::default(),
    );
    for (module, diagnostic) in compilation.diagnostics() {
        let module = compilation.project.module(module);
        assert!(
            diagnostic.span.end <= module.text.len(),
            "span out of the text: {diagnostic:?}"
        );
    }
    for function in &compilation.functions {
        if let Ok(air) = &function.air {
            let checked = air::check(air);
            assert!(
                checked.diagnostics.is_empty(),
                "invalid AIR for {}:\n{air}\n{:?}",
                function.name,
                checked.diagnostics
            );
        }
    }
});
