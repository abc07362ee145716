//! Helpers shared by the live integration tests.

use lgtm_check::scenario::find_binary;

/// Why a live test that runs the http-service scenario against `images` cannot run
/// here, if it cannot: Docker missing, an image not present, or the scenario binary
/// not built.
pub fn cannot_run(images: &[String]) -> Option<String> {
    for image in images {
        let present = std::process::Command::new("docker")
            .args(["image", "inspect", image])
            .output()
            .map(|o| o.status.success());
        match present {
            Err(e) => return Some(format!("docker cannot be run: {e}")),
            Ok(false) => return Some(format!("image {image} is not available")),
            Ok(true) => {}
        }
    }
    find_binary("http-service", None)
        .err()
        .map(|e| format!("{e} (cargo build -p lgtm-scenarios)"))
}
