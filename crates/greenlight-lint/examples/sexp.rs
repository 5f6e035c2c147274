fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut parser = greenlight_lint::shell::new_parser().unwrap_or_else(|| std::process::exit(1));
    if let Some(tree) = parser.parse(&text, None) {
        println!("{}", tree.root_node().to_sexp());
    }
}
