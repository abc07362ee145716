//! Writes the manual's generated pages: `docs/src/catalog.md` from the catalog's code
//! and `docs/src/cli.md` from `lgtm-check --help`.
//!
//! ```sh
//! cargo run -p lgtm-check --example gen-docs
//! ```
//!
//! It builds the `lgtm-check` binary first (with the cargo that runs it), so the
//! reference is that of the current source. `cargo test -p lgtm-check --test docs`
//! compares the files with the same rendering.

mod render;

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-q", "-p", "lgtm-check", "--bin", "lgtm-check"]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "cargo build of lgtm-check failed");
    // This example is target/<profile>/examples/gen-docs; the binary is beside examples/.
    let exe = std::env::current_exe().expect("the example's path");
    let binary: PathBuf = exe
        .parent()
        .and_then(|examples| examples.parent())
        .expect("target/<profile>/examples")
        .join(format!("lgtm-check{}", std::env::consts::EXE_SUFFIX));
    let help = |args: &[&str]| {
        let out = Command::new(&binary)
            .args(args)
            .env_clear()
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        assert!(out.status.success(), "lgtm-check {args:?} failed");
        String::from_utf8(out.stdout).expect("help is UTF-8")
    };
    for (page, text) in [
        (render::CATALOG_PAGE, render::catalog_page()),
        (render::CLI_PAGE, render::cli_page(&help)),
    ] {
        let path = render::root().join(page);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!("wrote {page}");
    }
}
