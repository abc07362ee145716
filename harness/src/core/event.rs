//! Events of a run, in the order they happen. The runner emits them through a
//! callback and knows nothing about output; reporters turn them into progress lines.

use super::component::{Component, ImageRef};
use super::report::{CheckReport, ComponentReport};

/// One event of a run.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    RunStarted {
        run_id: &'a str,
        docker_host: &'a str,
    },
    StaleRunsRemoved {
        run_ids: &'a [String],
    },
    ComponentStarting {
        component: Component,
        image: &'a ImageRef,
    },
    ComponentFinished(&'a ComponentReport),
    ScenarioStarted {
        name: &'a str,
    },
    ScenarioEmitted {
        name: &'a str,
        manifest: &'a str,
    },
    CheckFinished(&'a CheckReport),
    CleanedUp {
        removed: usize,
    },
}
