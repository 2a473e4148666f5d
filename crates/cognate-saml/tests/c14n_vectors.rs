//! Canonicalization conformance: our output must equal lxml's (libxml2's)
//! byte for byte for every vector in tests/vectors/c14n/manifest.txt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/c14n")
}

#[test]
fn c14n_matches_lxml() {
    let manifest = std::fs::read_to_string(dir().join("manifest.txt")).unwrap();
    let mut count = 0;
    let mut failures = Vec::new();
    for line in manifest.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(' ').collect();
        let [name, element, exclusive, comments, prefixes, file] = f.as_slice() else {
            panic!("bad manifest line {line}");
        };
        let input = std::fs::read_to_string(dir().join(format!("{name}.input.xml"))).unwrap();
        let expected = std::fs::read(dir().join(file)).unwrap();
        let prefixes: Vec<&str> = if *prefixes == "-" {
            vec![]
        } else {
            prefixes.split(',').collect()
        };
        let actual = cognate_saml::testing::canonicalize_element(
            &input,
            element,
            *exclusive == "1",
            *comments == "1",
            &prefixes,
        )
        .unwrap();
        if actual != expected {
            failures.push(format!(
                "{file}:\n  lxml: {}\n  ours: {}",
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&actual)
            ));
        }
        count += 1;
    }
    assert!(count >= 50, "only {count} vectors");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
