//! The book's Aqua diagnostics catalogue lists every code with its title and rule.

#[test]
fn catalogue_lists_every_code_with_its_title_and_rule() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../book/src/aqua/diagnostics.md"
    );
    let book = std::fs::read_to_string(path).unwrap();
    for code in aqua::Code::ALL {
        let row = format!(
            "| {} | {} | {} |",
            code.as_str(),
            code.title(),
            code.explanation()
        );
        assert!(
            book.contains(&row),
            "the catalogue lacks or misstates:\n{row}"
        );
    }
}
