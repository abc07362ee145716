//! Events of a run, in the order they happen. The runner emits them through a
//! callback and knows nothing about output; reporters turn them into progress lines.

use super::component::{Component, ImageRef};
use super::report::{CheckReport, ComponentReport};

/// One event of a run.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// The Docker engine answered; the run's containers will carry this id.
    RunStarted {
        /// The id that names this run's containers and network.
        run_id: &'a str,
        /// The Docker host in use, as configured: it may hold credentials, so
        /// redact it before printing.
        docker_host: &'a str,
    },
    /// Containers and networks that runs killed before their clean-up left behind
    /// were removed.
    StaleRunsRemoved {
        /// The ids of the runs whose leftovers were removed.
        run_ids: &'a [String],
    },
    /// A component's container is being created (the image was found or pulled).
    ComponentStarting {
        /// The role being started.
        component: Component,
        /// The image that fills it.
        image: &'a ImageRef,
    },
    /// A component became ready, was skipped or failed; the report says which.
    ComponentFinished(&'a ComponentReport),
    /// A scenario program was launched.
    ScenarioStarted {
        /// The scenario binary's name, or `the program` for `lgtm-check app`.
        name: &'a str,
    },
    /// A scenario program finished emitting and its manifest was read.
    ScenarioEmitted {
        /// The scenario binary's name, or `the program` for `lgtm-check app`.
        name: &'a str,
        /// The path of the manifest it wrote.
        manifest: &'a str,
    },
    /// The checks start, each scenario's as soon as its manifest is read: up to
    /// `at_once` wait for their data at the same time, so their
    /// [`Event::CheckFinished`] come in the order they finish, not in the catalog's
    /// (the report lists them in the catalog's order).
    ChecksStarted {
        /// How many checks run at the same time at most.
        at_once: usize,
    },
    /// A check reached its verdict (pass, fail or skip).
    CheckFinished(&'a CheckReport),
    /// The run's containers and network were removed.
    CleanedUp {
        /// How many Docker objects (containers and the network) were removed.
        removed: usize,
    },
}
