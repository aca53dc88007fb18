//! Generates the client from the committed document at build time.

use std::{env, fs, path::Path};

fn main() {
    let src = "../openapi.yaml";
    println!("cargo:rerun-if-changed={src}");
    let text = fs::read_to_string(src).expect("read ../openapi.yaml");
    let spec: openapiv3::OpenAPI = serde_yaml::from_str(&text).expect("openapi.yaml parses");
    let mut generator = progenitor::Generator::default();
    let tokens = generator
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor cannot generate a client: {e}"));
    let ast = syn::parse2(tokens).expect("generated code parses");
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("codegen.rs");
    fs::write(out, prettyplease::unparse(&ast)).expect("write the client");
}
