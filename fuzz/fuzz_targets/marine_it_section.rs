//! Arbitrary bytes as a module's `interface-types` section.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(section) = marine_it::decode(bytes) else {
        return;
    };
    let _ = section.to_text();
    let _ = marine_it::ModuleInterface::new(&section);
    // What was read can be written back, and reads the same (decoded strings fit a byte).
    let written = marine_it::encode(&section).expect("decoded strings fit the format");
    assert_eq!(marine_it::decode(&written).as_ref(), Ok(&section));
});
