//! The run plan: raw flags and environment validated into one ready-to-use
//! [`RunPlan`] before anything starts (ripgrep's LowArgs → HiArgs).
//!
//! Image choice is layered: the guide's pinned image, then `LGTM_CHECK_IMAGE_<NAME>`,
//! then `--image name=image` flags. The environment arrives as an [`Env`] built by the
//! caller (this module reads none), so tests can supply their own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::component::{Component, ImageRef};
use super::scenarios::{
    SCENARIOS, ScenarioSpec, VOLUME, VolumeSize, scenario_named, scenario_names,
};

/// A snapshot of the environment variables lgtm-check reads.
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The `LGTM_CHECK_*` variables among `vars`. The core reads no environment: the
    /// edge passes it in (`Env::from_vars(std::env::vars())` in the binary and the
    /// conformance suite).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Env(vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("LGTM_CHECK_"))
            .collect())
    }

    /// An environment made of `pairs` (tests and callers that build one by hand).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// Only the variables whose names `keep` accepts (for callers that honour a
    /// documented subset).
    pub fn only(self, keep: impl Fn(&str) -> bool) -> Self {
        Env(self.0.into_iter().filter(|(k, _)| keep(k)).collect())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// What the `run` command was asked, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawRun {
    /// `component=image` overrides, in flag order.
    pub images: Vec<String>,
    /// `--require-all`: every component must really run (see [`RunPlan::required`]).
    pub require_all: bool,
    /// Components that must run (not be skipped or stood in for).
    pub require: Vec<String>,
    /// `--json PATH`: also write the report as JSON there.
    pub json: Option<PathBuf>,
    /// `--junit PATH`: also write the report as JUnit XML there.
    pub junit: Option<PathBuf>,
    /// `--scenario-dir DIR`: where the scenario binaries are (none: beside the
    /// executable, or `LGTM_CHECK_SCENARIO_DIR`).
    pub scenario_dir: Option<PathBuf>,
    /// `--check-timeout`, in seconds; 0 is rejected ([`PlanError::CheckTimeout`]).
    pub check_timeout_secs: u64,
    /// `--run-id`; none: `LGTM_CHECK_RUN_ID`, else a fresh id.
    pub run_id: Option<String>,
    /// `fixed` (default) or `guide`.
    pub configs: Option<String>,
    /// Deliberate faults for http-service's manifest (testing lgtm-check itself).
    pub faults: Vec<String>,
    /// `--fault KIND:COMPONENT[@WHEN][/FOR]` values: faults injected into the run's
    /// own components ([`super::fault`]).
    pub inject: Vec<String>,
    /// `--scenario NAME`, in flag order (empty: the default set).
    pub scenarios: Vec<String>,
    /// `--log-lines`, `--spans`, `--series` of the volume scenario.
    /// None: [`VolumeSize::default`]'s.
    pub log_lines: Option<u64>,
    /// Spans, 10 per trace; none: [`VolumeSize::default`]'s.
    pub spans: Option<u64>,
    /// Metric series; none: [`VolumeSize::default`]'s.
    pub series: Option<u64>,
    /// `--component-config COMPONENT=PATH`: run a component with this config file.
    pub config_files: Vec<String>,
}

/// Which component configurations a run uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfigSet {
    /// `fixtures/`: the guide's configs with its defects fixed.
    #[default]
    Fixed,
    /// `fixtures/guide/`: the guide's configs exactly as written (only the addresses
    /// of this run's containers and scenario put in), to see where they break.
    Guide,
}

/// Where a component's image choice came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageSource {
    /// The image the guide pins ([`Component::default_image`]).
    Default,
    /// `LGTM_CHECK_IMAGE_<COMPONENT>`.
    Env,
    /// An `--image COMPONENT=IMAGE` flag (wins over the environment).
    Flag,
}

/// A validated plan for one run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Names this run's containers and network and tags its telemetry, so runs
    /// side by side do not see each other's data (ASCII letters, digits and `-`).
    pub run_id: String,
    /// Every component's image, with where the choice came from.
    pub images: BTreeMap<Component, (ImageRef, ImageSource)>,
    /// Components that must really run: if one is skipped or stood in for, or a
    /// check that needs one is skipped, the run fails. `--require-all` names all.
    pub required: BTreeSet<Component>,
    /// Where to write the report as JSON (`--json`).
    pub json: Option<PathBuf>,
    /// Where to write the report as JUnit XML (`--junit`).
    pub junit: Option<PathBuf>,
    /// Where to look for the scenario binaries (none: beside the executable and
    /// one directory up).
    pub scenario_dir: Option<PathBuf>,
    /// How long one check may wait for its data to become visible.
    pub check_timeout: Duration,
    /// Which component configurations to start the stack with (`--configs`).
    pub configs: ConfigSet,
    /// Faults http-service builds into its manifest (`--fault`), so that named checks
    /// must fail: from `LGTM_CHECK_FAULTS=a,b`, for testing lgtm-check itself.
    pub faults: Vec<String>,
    /// Faults injected into the run's own components, in flag order.
    pub inject: Vec<super::fault::Fault>,
    /// The scenarios to run, in start order (default: [`SCENARIOS`]).
    pub scenarios: Vec<ScenarioSpec>,
    /// How much the volume scenario emits, when it runs.
    pub volume: VolumeSize,
    /// Configuration files that replace a component's fixture (`run --component-config
    /// loki=PATH`, the gate's `--candidate-config loki=PATH`); read when the stack
    /// starts.
    pub config_files: BTreeMap<Component, PathBuf>,
}

/// Flags or environment that cannot make a plan.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    /// A `--fault` value that cannot be injected.
    #[error(transparent)]
    Fault(#[from] super::fault::FaultError),
    /// An `--image` value without `=`.
    #[error("--image `{value}`: expected COMPONENT=IMAGE, e.g. loki=grafana/loki:3.3.2")]
    ImageOverrideSyntax {
        /// The flag's value as given.
        value: String,
    },
    /// An `--image` value whose component is unknown or whose image reference does
    /// not parse.
    #[error("--image `{value}`: {reason}")]
    ImageOverride {
        /// The flag's value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `LGTM_CHECK_IMAGE_<COMPONENT>` variable whose image reference does not
    /// parse.
    #[error("{var}=`{value}`: {reason}")]
    EnvImage {
        /// The variable's name.
        var: String,
        /// Its value.
        value: String,
        /// Why the value is not an image reference.
        reason: String,
    },
    /// Two `--image` flags for the same component.
    #[error("--image names {component} twice")]
    DuplicateOverride {
        /// The component named twice.
        component: Component,
    },
    /// The run id (from `--run-id` or `LGTM_CHECK_RUN_ID`) is empty or has a
    /// character container names cannot carry.
    #[error("run id `{0}` may only contain ASCII letters, digits and `-`")]
    RunId(String),
    /// `--require` or `LGTM_CHECK_REQUIRE` names an unknown component (the
    /// reason says which).
    #[error("--require: {0}")]
    Require(String),
    /// `--configs` is neither `fixed` nor `guide`.
    #[error("--configs `{0}`: expected `fixed` or `guide`")]
    Configs(String),
    /// `--check-timeout 0`.
    #[error("--check-timeout must be at least 1 second")]
    CheckTimeout,
    /// `--scenario` names no scenario, neither by its binary's name nor by its
    /// prefix.
    #[error("--scenario `{name}`: no such scenario (known: {known})")]
    Scenario {
        /// The name as given.
        name: String,
        /// The known scenario names, comma-separated.
        known: String,
    },
    /// Two `--scenario` flags select the same scenario (the binary's name).
    #[error("--scenario {0} is given twice")]
    DuplicateScenario(String),
    /// `--log-lines`, `--spans` or `--series` without the volume scenario, which
    /// is the only one they size.
    #[error("{flag} needs --scenario volume")]
    VolumeFlag {
        /// The flag given.
        flag: &'static str,
    },
    /// The volume scenario together with another scenario that serves `/metrics`
    /// (named here); only one scraped target fits in a run.
    #[error(
        "--scenario volume with {0}: both serve /metrics on the one target the Prometheus role scrapes; run them in separate runs"
    )]
    TwoScraped(&'static str),
    #[error(
        "--component-config `{value}`: expected COMPONENT=PATH, e.g. loki=loki.yaml ({reason})"
    )]
    /// A `--component-config` value without `=`, with an unknown component or
    /// with no path.
    ConfigFile {
        /// The flag's value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl RunPlan {
    /// Validates `raw` against `env`; `fresh_run_id` is used when no run id was given.
    pub fn build(raw: RawRun, env: &Env, fresh_run_id: String) -> Result<Self, PlanError> {
        let mut images: BTreeMap<Component, (ImageRef, ImageSource)> = Component::ALL
            .into_iter()
            .map(|c| (c, (c.default_image(), ImageSource::Default)))
            .collect();

        for c in Component::ALL {
            let var = c.image_env_var();
            if let Some(value) = env.get(&var) {
                let image = value.parse().map_err(|reason| PlanError::EnvImage {
                    var: var.clone(),
                    value: value.into(),
                    reason,
                })?;
                images.insert(c, (image, ImageSource::Env));
            }
        }

        let mut seen = Vec::new();
        for value in &raw.images {
            let (component, image) =
                value
                    .split_once('=')
                    .ok_or_else(|| PlanError::ImageOverrideSyntax {
                        value: value.clone(),
                    })?;
            let component: Component =
                component
                    .parse()
                    .map_err(|reason| PlanError::ImageOverride {
                        value: value.clone(),
                        reason,
                    })?;
            if seen.contains(&component) {
                return Err(PlanError::DuplicateOverride { component });
            }
            seen.push(component);
            let image = image.parse().map_err(|reason| PlanError::ImageOverride {
                value: value.clone(),
                reason,
            })?;
            images.insert(component, (image, ImageSource::Flag));
        }

        let required: BTreeSet<Component> = if raw.require_all {
            Component::ALL.into_iter().collect()
        } else {
            raw.require
                .iter()
                .map(String::as_str)
                .chain(env.get("LGTM_CHECK_REQUIRE"))
                .flat_map(|s| s.split(','))
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.parse().map_err(PlanError::Require))
                .collect::<Result<_, _>>()?
        };

        let run_id = raw
            .run_id
            .or_else(|| env.get("LGTM_CHECK_RUN_ID").map(str::to_owned))
            .unwrap_or(fresh_run_id);
        if run_id.is_empty()
            || !run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(PlanError::RunId(run_id));
        }
        if raw.check_timeout_secs == 0 {
            return Err(PlanError::CheckTimeout);
        }
        let scenarios = select_scenarios(&raw.scenarios)?;
        let has_volume = scenarios.contains(&VOLUME);
        for (flag, given) in [
            ("--log-lines", raw.log_lines),
            ("--spans", raw.spans),
            ("--series", raw.series),
        ] {
            if given.is_some() && !has_volume {
                return Err(PlanError::VolumeFlag { flag });
            }
        }
        let default = VolumeSize::default();
        let volume = VolumeSize {
            log_lines: raw.log_lines.unwrap_or(default.log_lines),
            spans: raw.spans.unwrap_or(default.spans),
            series: raw.series.unwrap_or(default.series),
        };
        let config_files = raw
            .config_files
            .iter()
            .map(|value| {
                let bad = |reason: String| PlanError::ConfigFile {
                    value: value.clone(),
                    reason,
                };
                let (c, path) = value.split_once('=').ok_or_else(|| bad("no `=`".into()))?;
                let c: Component = c.parse().map_err(bad)?;
                if path.is_empty() {
                    return Err(bad("no path".into()));
                }
                Ok((c, PathBuf::from(path)))
            })
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Ok(RunPlan {
            scenarios,
            volume,
            config_files,
            run_id,
            images,
            required,
            json: raw.json,
            junit: raw.junit,
            scenario_dir: raw
                .scenario_dir
                .or_else(|| env.get("LGTM_CHECK_SCENARIO_DIR").map(PathBuf::from)),
            check_timeout: Duration::from_secs(raw.check_timeout_secs),
            inject: raw
                .inject
                .iter()
                .map(|v| super::fault::Fault::parse(v))
                .collect::<Result<_, _>>()?,
            faults: raw
                .faults
                .iter()
                .map(String::as_str)
                .chain(env.get("LGTM_CHECK_FAULTS"))
                .flat_map(|s| s.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            configs: match raw.configs.as_deref() {
                None | Some("fixed") => ConfigSet::Fixed,
                Some("guide") => ConfigSet::Guide,
                Some(other) => return Err(PlanError::Configs(other.into())),
            },
        })
    }

    /// The image chosen for `c`.
    pub fn image(&self, c: Component) -> &ImageRef {
        &self.images[&c].0
    }
}

/// The scenarios `names` select, in order; none: the default set.
fn select_scenarios(names: &[String]) -> Result<Vec<ScenarioSpec>, PlanError> {
    if names.is_empty() {
        return Ok(SCENARIOS.to_vec());
    }
    let mut out: Vec<ScenarioSpec> = Vec::new();
    for name in names {
        let spec = scenario_named(name).ok_or_else(|| PlanError::Scenario {
            name: name.clone(),
            known: scenario_names().join(", "),
        })?;
        if out.contains(&spec) {
            return Err(PlanError::DuplicateScenario(spec.binary.into()));
        }
        out.push(spec);
    }
    if out.contains(&VOLUME)
        && let Some(other) = out.iter().find(|s| s.scraped && **s != VOLUME)
    {
        return Err(PlanError::TwoScraped(other.binary));
    }
    Ok(out)
}

/// What fills the Mimir role. Cortex (Mimir's ancestor) and a Prometheus with its
/// remote-write receiver speak the same remote-write and query APIs; reports name
/// them as stand-ins, never as Mimir.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MimirFlavour {
    /// Mimir itself.
    Mimir,
    /// Cortex, chosen when the Mimir role's image name contains `cortex`.
    Cortex,
    /// A Prometheus with its remote-write receiver on, chosen when the Mimir
    /// image is missing and the Prometheus image is there.
    Prometheus,
}

impl MimirFlavour {
    /// Mimir or Cortex, judged by the image name.
    pub fn from_image(image: &ImageRef) -> Self {
        if image.name.to_ascii_lowercase().contains("cortex") {
            MimirFlavour::Cortex
        } else {
            MimirFlavour::Mimir
        }
    }

    /// The HTTP port the role listens on inside its container.
    pub fn port(self) -> u16 {
        match self {
            MimirFlavour::Mimir | MimirFlavour::Cortex => 9009,
            MimirFlavour::Prometheus => 9090,
        }
    }

    /// Path of the remote-write endpoint.
    pub fn push_path(self) -> &'static str {
        match self {
            MimirFlavour::Mimir | MimirFlavour::Cortex => "/api/v1/push",
            MimirFlavour::Prometheus => "/api/v1/write",
        }
    }

    /// Path of the OTLP metrics endpoint, where there is one: Mimir's
    /// `/otlp/v1/metrics`, Cortex's `/api/v1/otlp/v1/metrics`; `None` for the
    /// Prometheus stand-in (Debian's 2.42 has no OTLP receiver; lgtm-check's gateway
    /// translates OTLP metrics to remote write for it).
    pub fn otlp_metrics_path(self) -> Option<&'static str> {
        match self {
            MimirFlavour::Mimir => Some("/otlp/v1/metrics"),
            MimirFlavour::Cortex => Some("/api/v1/otlp/v1/metrics"),
            MimirFlavour::Prometheus => None,
        }
    }

    /// How this Mimir role stores OTLP metrics, by its reported version: Cortex
    /// before 1.19 puts every resource attribute on every series and makes no
    /// `target_info`; later Cortex and Mimir translate as Prometheus does; the
    /// Prometheus stand-in gets lgtm-check's own translation to remote write.
    pub fn otlp_translation(self, version: Option<&str>) -> super::otlp_mapping::PromTranslation {
        use super::otlp_mapping::{PromTranslation, major_minor};
        let named = |name: &str| match version.and_then(major_minor) {
            Some((a, b)) => format!("{name} {a}.{b}"),
            None => name.to_owned(),
        };
        match (self, version.and_then(major_minor)) {
            (MimirFlavour::Cortex, Some(v)) if v < (1, 19) => PromTranslation::cortex_1_18(),
            (MimirFlavour::Cortex, _) => PromTranslation::prometheus(named("cortex")),
            (MimirFlavour::Mimir, _) => PromTranslation::prometheus(named("mimir")),
            (MimirFlavour::Prometheus, _) => PromTranslation::prometheus(
                "lgtm-check's translation to remote write (the Prometheus stand-in has no OTLP receiver)",
            ),
        }
    }

    /// Prefix of the Prometheus query API.
    pub fn query_prefix(self) -> &'static str {
        match self {
            MimirFlavour::Mimir | MimirFlavour::Cortex => "/prometheus",
            MimirFlavour::Prometheus => "",
        }
    }

    /// The readiness endpoint.
    pub fn ready_path(self) -> &'static str {
        match self {
            MimirFlavour::Mimir | MimirFlavour::Cortex => "/ready",
            MimirFlavour::Prometheus => "/-/ready",
        }
    }

    /// The stand-in's name for reports; `None` for Mimir itself.
    pub fn stand_in(self) -> Option<&'static str> {
        match self {
            MimirFlavour::Mimir => None,
            MimirFlavour::Cortex => Some("cortex"),
            MimirFlavour::Prometheus => Some("prometheus"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(images: &[&str]) -> RawRun {
        RawRun {
            images: images.iter().map(|s| s.to_string()).collect(),
            check_timeout_secs: 30,
            ..RawRun::default()
        }
    }

    #[test]
    fn layers_defaults_env_then_flags() {
        let env = Env::from_pairs([
            ("LGTM_CHECK_IMAGE_LOKI", "env/loki:1"),
            ("LGTM_CHECK_IMAGE_TEMPO", "env/tempo:2"),
        ]);
        let plan = RunPlan::build(raw(&["loki=flag/loki:3"]), &env, "r1".into()).unwrap();
        assert_eq!(plan.images[&Component::Loki].0.to_string(), "flag/loki:3");
        assert_eq!(plan.images[&Component::Loki].1, ImageSource::Flag);
        assert_eq!(plan.images[&Component::Tempo].0.to_string(), "env/tempo:2");
        assert_eq!(plan.images[&Component::Tempo].1, ImageSource::Env);
        assert_eq!(
            plan.image(Component::Mimir).to_string(),
            "grafana/mimir:2.14.0"
        );
        assert_eq!(plan.run_id, "r1");
        assert!(plan.required.is_empty());
    }

    #[test]
    fn required_components_come_from_flags_env_or_require_all() {
        let env = Env::from_pairs([("LGTM_CHECK_REQUIRE", "prometheus, mimir")]);
        let mut r = raw(&[]);
        r.require = vec!["loki".into()];
        let plan = RunPlan::build(r.clone(), &env, "r".into()).unwrap();
        assert_eq!(
            plan.required,
            BTreeSet::from([Component::Loki, Component::Prometheus, Component::Mimir])
        );
        r.require_all = true;
        let plan = RunPlan::build(r.clone(), &Env::default(), "r".into()).unwrap();
        assert_eq!(plan.required.len(), 5);
        r.require_all = false;
        r.require = vec!["tempoo".into()];
        assert!(matches!(
            RunPlan::build(r, &Env::default(), "r".into()),
            Err(PlanError::Require(_))
        ));
    }

    #[test]
    fn rejects_bad_overrides_with_named_errors() {
        let env = Env::default();
        let err = RunPlan::build(raw(&["loki"]), &env, "r".into()).unwrap_err();
        assert!(matches!(err, PlanError::ImageOverrideSyntax { .. }));
        let err = RunPlan::build(raw(&["lokki=x:1"]), &env, "r".into()).unwrap_err();
        assert!(
            err.to_string().contains("unknown component `lokki`"),
            "{err}"
        );
        let err = RunPlan::build(raw(&["loki=a:1", "loki=b:2"]), &env, "r".into()).unwrap_err();
        assert_eq!(
            err,
            PlanError::DuplicateOverride {
                component: Component::Loki
            }
        );
        let bad_env = Env::from_pairs([("LGTM_CHECK_IMAGE_MIMIR", "x:")]);
        let err = RunPlan::build(raw(&[]), &bad_env, "r".into()).unwrap_err();
        assert!(
            err.to_string().starts_with("LGTM_CHECK_IMAGE_MIMIR="),
            "{err}"
        );
        let err = RunPlan::build(raw(&[]), &env, "bad id!".into()).unwrap_err();
        assert!(matches!(err, PlanError::RunId(_)));
    }

    #[test]
    fn only_keeps_the_named_variables() {
        let env = Env::from_pairs([
            ("LGTM_CHECK_IMAGE_LOKI", "x/loki:1"),
            ("LGTM_CHECK_FAULTS", "drop-span"),
            ("LGTM_CHECK_RUN_ID", "zzz"),
        ])
        .only(|k| k.starts_with("LGTM_CHECK_IMAGE_"));
        let plan = RunPlan::build(raw(&[]), &env, "fresh".into()).unwrap();
        assert_eq!(plan.image(Component::Loki).to_string(), "x/loki:1");
        assert_eq!(plan.run_id, "fresh");
        assert!(plan.faults.is_empty());
    }

    #[test]
    fn scenarios_are_selected_by_name_and_volume_flags_need_volume() {
        let plan = RunPlan::build(raw(&[]), &Env::default(), "r".into()).unwrap();
        assert_eq!(plan.scenarios, SCENARIOS.to_vec());
        let mut r = raw(&[]);
        r.scenarios = vec!["volume".into(), "chain".into()];
        r.log_lines = Some(100_000);
        let plan = RunPlan::build(r.clone(), &Env::default(), "r".into()).unwrap();
        let names: Vec<&str> = plan.scenarios.iter().map(|s| s.binary).collect();
        assert_eq!(names, ["volume", "checkout-chain"]);
        assert_eq!(plan.volume.log_lines, 100_000);
        assert_eq!(plan.volume.spans, VolumeSize::default().spans);
        r.scenarios = vec!["chain".into()];
        assert_eq!(
            RunPlan::build(r.clone(), &Env::default(), "r".into()).unwrap_err(),
            PlanError::VolumeFlag {
                flag: "--log-lines"
            }
        );
        r.scenarios = vec!["volume".into(), "http".into()];
        assert_eq!(
            RunPlan::build(r.clone(), &Env::default(), "r".into()).unwrap_err(),
            PlanError::TwoScraped("http-service")
        );
        r.scenarios = vec!["volum".into()];
        let err = RunPlan::build(r, &Env::default(), "r".into()).unwrap_err();
        assert!(err.to_string().contains("known: http-service"), "{err}");
    }

    #[test]
    fn mimir_flavours_differ_where_their_apis_do() {
        let cortex: ImageRef = "cortexproject/cortex:v1.18.1".parse().unwrap();
        assert_eq!(MimirFlavour::from_image(&cortex), MimirFlavour::Cortex);
        assert_eq!(
            MimirFlavour::from_image(&Component::Mimir.default_image()),
            MimirFlavour::Mimir
        );
        assert_eq!(MimirFlavour::Prometheus.push_path(), "/api/v1/write");
        assert_eq!(MimirFlavour::Mimir.query_prefix(), "/prometheus");
        assert_eq!(MimirFlavour::Mimir.stand_in(), None);
    }
}
