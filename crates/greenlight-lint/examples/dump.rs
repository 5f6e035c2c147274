use saphyr::{LoadableYamlNode, MarkedYaml};
fn walk(n: &MarkedYaml, d: usize) {
    let pad = " ".repeat(d*2);
    match &n.data {
        saphyr::YamlData::Mapping(m) => { println!("{pad}map {:?}", n.span); for (k,v) in m { println!("{pad} key {:?} {:?}", k.data, k.span); walk(v,d+1);} }
        saphyr::YamlData::Sequence(s) => { println!("{pad}seq {:?}", n.span); for v in s { walk(v,d+1);} }
        other => println!("{pad}{:?} {:?}", other, n.span),
    }
}
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let text = std::fs::read_to_string(&args[2]).unwrap();
    if args[1] == "yaml" {
        let docs = MarkedYaml::load_from_str(&text).unwrap();
        for d in &docs { walk(d, 0); }
    } else {
        let mut p = tree_sitter::Parser::new();
        p.set_language(&tree_sitter_bash::LANGUAGE.into()).unwrap();
        let t = p.parse(&text, None).unwrap();
        println!("{}", t.root_node().to_sexp());
    }
}
