//! The `lgtm-check` command line. Flags are validated into a `RunPlan` before anything
//! starts; errors that stop lgtm-check from doing its job are reported here, once.
//!
//! Exit codes (`lgtm_check::core::report::exit`): 0 at least one check passed and
//! none failed; 1 a check or component failed (or a required component,
//! `--require`/`--require-all`, was skipped or stood in for); 2 lgtm-check could not
//! run (bad flags, Docker unreachable, a scenario binary missing; a component or
//! scenario failing mid-run is a finding, exit 1, with the report); 3 nothing
//! was verified: no check passed and none failed (e.g. every image was missing; the
//! report's last lines say why); 130 interrupted (containers removed).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lgtm_check::clients::redact_url;
use lgtm_check::core::event::Event;
use lgtm_check::core::plan::{Env, RawRun, RunPlan};
use lgtm_check::core::report::exit;
use lgtm_check::core::target::{CONFIG_FILE, ConfigFile, Target, TargetError, TargetSettings};
use lgtm_check::external::Deployment;
use lgtm_check::report::{json, junit, terminal};
use lgtm_check::runner;
use lgtm_check::stack::docker::Docker;

#[derive(Parser, Debug)]
#[command(
    name = "lgtm-check",
    version,
    about = "End-to-end conformance checks for the Grafana LGTM stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the stack in containers (or, with --target external, use a running
    /// deployment), run the scenarios, run every check, print the report. With
    /// --target external --record PATH: no scenario, the exact checks of a tap's
    /// record.
    Run(Box<RunArgs>),
    /// Remove containers and networks left by runs whose process is gone.
    Cleanup,
    /// Print the image each component would run with (after environment and flags).
    Images(ImageArgs),
    /// Read the telemetry shape of a run from Loki, Tempo and a Prometheus-API
    /// backend; print it, or compare it with a snapshot file.
    Shape(lgtm_check::shape_command::ShapeArgs),
    /// Start the stack (or, with --target external, use a running deployment), run a
    /// program (any language) against it with the standard variables, then check
    /// what arrived: exactly, where it wrote a manifest, and its telemetry shape.
    /// `lgtm-check app [FLAGS] -- CMD ARGS…`
    App(Box<AppCommandArgs>),
    /// Gate an upgrade: run the catalog on the baseline's images, then on the
    /// candidate's, and report per check what changed (exit 1 on a regression).
    Gate(lgtm_check::gate_command::GateArgs),
    /// Run the suite N times in a row (each with its own stack and run id) and
    /// report passes, flakes (each failing check with its reason) and anything a run
    /// leaked (containers, networks). Takes `run`'s flags; `--json` writes the soak
    /// summary.
    Soak(Box<SoakArgs>),
    /// Run the recording gateway in front of a running deployment (the same target
    /// settings as `run --target external`): a program sends its telemetry to it, each
    /// request goes on to the deployment, and on SIGINT/SIGTERM the record of every
    /// item and answer is written to --record.
    Tap(Box<TapCommandArgs>),
    /// Measure, side by side with a bare baseline: stack ready vs `docker run`,
    /// time-to-visible per signal vs a 5 ms probe, the default run cold and warm,
    /// memory, volume throughput and loss, OTLP throughput through the gateway vs
    /// straight to the backends. Prints tables; `--json` writes them.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    #[command(flatten)]
    images: ImageArgs,
    /// Samples per signal for time-to-visible.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// Leave out the full default run (its cold/warm times and memory).
    #[arg(long)]
    skip_run: bool,
    /// Volume sizes of log lines (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "10000,50000,100000")]
    log_lines: Vec<u64>,
    /// Volume sizes of spans (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "2000,10000")]
    spans: Vec<u64>,
    /// Volume sizes of metric series (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    series: Vec<u64>,
    /// OTLP requests per signal sent straight to the backends and again through the
    /// gateway (0 leaves the gateway's measurement out).
    #[arg(long, value_name = "N", default_value_t = 200)]
    gateway_requests: usize,
    /// Spans, and log records, per gateway-measurement request.
    #[arg(long, value_name = "N", default_value_t = 500)]
    gateway_batch: usize,
    /// Metric points per gateway-measurement request (default 100: both paths stay
    /// within Cortex's default ingestion burst).
    #[arg(long, value_name = "N", default_value_t = 100)]
    gateway_points: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Where the scenario binaries are (default: beside this executable).
    #[arg(long, value_name = "DIR")]
    scenario_dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct TapCommandArgs {
    #[command(flatten)]
    tap: lgtm_check::tap_command::TapArgs,
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(clap::Args, Debug)]
struct AppCommandArgs {
    #[command(flatten)]
    app: lgtm_check::app_command::AppArgs,
    /// `--target external`: the program's telemetry goes to a running deployment
    /// (through lgtm-check's gateway) and is checked there; nothing is started.
    #[command(flatten)]
    target: TargetArgs,
}

#[derive(clap::Args, Debug)]
struct SoakArgs {
    /// How many runs.
    #[arg(value_name = "N")]
    runs: u32,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(clap::Args, Debug)]
struct ImageArgs {
    /// Override a component's image: COMPONENT=IMAGE, e.g. loki=grafana/loki:3.3.2.
    /// Also LGTM_CHECK_IMAGE_<COMPONENT>. Repeatable.
    #[arg(long = "image", value_name = "COMPONENT=IMAGE")]
    images: Vec<String>,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    images: ImageArgs,
    /// Fail the run if any component or check is skipped, or Mimir is stood in for.
    #[arg(long, env = "LGTM_CHECK_REQUIRE_ALL")]
    require_all: bool,
    /// Fail the run if this component is skipped or stood in for, or a check is
    /// skipped because of it. Repeatable; also LGTM_CHECK_REQUIRE=a,b.
    #[arg(long, value_name = "COMPONENT")]
    require: Vec<String>,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Also write the report as JUnit XML to this file: one testcase per check, a
    /// suite per component.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
    /// Where the scenario binaries are (default: beside this executable).
    #[arg(long, value_name = "DIR")]
    scenario_dir: Option<PathBuf>,
    /// How long each check waits for its data to become visible, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    check_timeout: u64,
    /// Use this run id instead of a fresh one (letters, digits and `-`).
    #[arg(long)]
    run_id: Option<String>,
    /// `fixed`: the guide's configs with its defects fixed; `guide`: the guide's
    /// configs exactly as written, to see where they break.
    #[arg(long, value_name = "fixed|guide", default_value = "fixed")]
    configs: String,
    /// Run this scenario (repeatable): http-service, checkout-chain, error-burst,
    /// sampling, otlp-service, volume (also by prefix: http, chain, errors, otlp).
    /// Default: all but volume.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// Log lines the volume scenario emits (default 5000).
    #[arg(long, value_name = "N")]
    log_lines: Option<u64>,
    /// Spans the volume scenario emits, 10 per trace (default 2000).
    #[arg(long, value_name = "N")]
    spans: Option<u64>,
    /// Metric series the volume scenario emits (default 100).
    #[arg(long, value_name = "N")]
    series: Option<u64>,
    /// Run a component with this config file instead of the fixture:
    /// COMPONENT=PATH, e.g. loki=low-limits.yaml. Repeatable.
    #[arg(long = "component-config", value_name = "COMPONENT=PATH")]
    config_files: Vec<String>,
    /// Inject a fault into a container while the scenarios push:
    /// KIND:TARGET[@WHEN][/FOR] with KIND kill (SIGKILL, then started again
    /// on the same filesystem and ports), restart (graceful), pause (frozen for
    /// FOR, default 10s) or partition (cut off its network for FOR); WHEN after the
    /// scenarios start (default 5s), or a share of the scenarios done (50%). TARGET:
    /// a component; with --target external, a container or Compose service of the
    /// local Docker engine. E.g. kill:loki@3s, partition:tempo@2s/8s,
    /// kill:loki-write-2@50%. Repeatable; also `faults = [...]` in lgtm-check.toml.
    #[arg(long = "fault", value_name = "KIND:TARGET[@WHEN][/FOR]")]
    inject: Vec<String>,
    /// Run no scenario: check exactly what this record (written by `lgtm-check tap`
    /// or `lgtm-check app --record`) says was sent, against the deployment given by
    /// --target external; the checks are `tap.*`.
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,
    #[command(flatten)]
    target: TargetArgs,
}

/// What `run` checks: its own containers, or a running deployment. Every setting also
/// comes from `lgtm-check.toml` (table `[external]`, the same names) and
/// `LGTM_CHECK_<NAME>`; flags win over the environment, which wins over the file.
#[derive(clap::Args, Debug, Default)]
struct TargetArgs {
    /// `containers` (start the stack, the default) or `external` (check a running
    /// deployment at the URLs given; nothing is started).
    #[arg(long, value_name = "containers|external")]
    target: Option<String>,
    /// The settings file [default: ./lgtm-check.toml when it exists].
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Loki's base URL.
    #[arg(long, value_name = "URL")]
    loki_url: Option<String>,
    /// Tempo's query API base URL.
    #[arg(long, value_name = "URL")]
    tempo_url: Option<String>,
    /// OTLP ingest base URL (the spans of the scenarios go there).
    #[arg(long, value_name = "URL")]
    otlp_url: Option<String>,
    /// `grpc` (default) or `http/protobuf`: what the deployment's OTLP ingest speaks;
    /// for `app`, also what the program is told to use.
    #[arg(long, value_name = "PROTOCOL")]
    otlp_protocol: Option<String>,
    /// The Prometheus query API of Mimir, Cortex or Prometheus, with its prefix
    /// (e.g. http://mimir:9009/prometheus).
    #[arg(long, value_name = "URL")]
    prometheus_url: Option<String>,
    /// Where the scenarios remote-write their metrics (e.g. http://mimir:9009/api/v1/push).
    #[arg(long, value_name = "URL")]
    remote_write_url: Option<String>,
    /// Loki's OTLP endpoint, where `tap` forwards OTLP logs [default: --loki-url with
    /// /otlp/v1/logs].
    #[arg(long, value_name = "URL")]
    loki_otlp_url: Option<String>,
    /// The metrics backend's OTLP endpoint (e.g. http://mimir:9009/otlp/v1/metrics),
    /// where `tap` forwards OTLP metrics; without it they are translated and
    /// remote-written to --remote-write-url.
    #[arg(long, value_name = "URL")]
    metrics_otlp_url: Option<String>,
    /// Tenant (X-Scope-OrgID) of every component unless its own is given.
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long, value_name = "TENANT")]
    loki_tenant: Option<String>,
    #[arg(long, value_name = "TENANT")]
    tempo_tenant: Option<String>,
    /// Tenant of OTLP ingest [default: --tempo-tenant, else --tenant].
    #[arg(long, value_name = "TENANT")]
    otlp_tenant: Option<String>,
    #[arg(long, value_name = "TENANT")]
    prometheus_tenant: Option<String>,
    #[arg(long, value_name = "TENANT")]
    remote_write_tenant: Option<String>,
    /// Basic-auth user of every component.
    #[arg(long)]
    user: Option<String>,
    /// The variable holding the basic-auth password [default: LGTM_CHECK_PASSWORD].
    #[arg(long, value_name = "VAR")]
    password_env: Option<String>,
    /// The variable holding a bearer token (instead of --user).
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// A PEM file of CA certificates to trust beside the system's roots (https
    /// endpoints signed by a private CA).
    #[arg(long, value_name = "PATH")]
    ca_cert: Option<String>,
}

impl TargetArgs {
    fn settings(&self) -> TargetSettings {
        TargetSettings {
            target: self.target.clone(),
            loki_url: self.loki_url.clone(),
            tempo_url: self.tempo_url.clone(),
            otlp_url: self.otlp_url.clone(),
            otlp_protocol: self.otlp_protocol.clone(),
            prometheus_url: self.prometheus_url.clone(),
            remote_write_url: self.remote_write_url.clone(),
            loki_otlp_url: self.loki_otlp_url.clone(),
            metrics_otlp_url: self.metrics_otlp_url.clone(),
            tenant: self.tenant.clone(),
            loki_tenant: self.loki_tenant.clone(),
            tempo_tenant: self.tempo_tenant.clone(),
            otlp_tenant: self.otlp_tenant.clone(),
            prometheus_tenant: self.prometheus_tenant.clone(),
            remote_write_tenant: self.remote_write_tenant.clone(),
            user: self.user.clone(),
            password_env: self.password_env.clone(),
            token_env: self.token_env.clone(),
            ca_cert: self.ca_cert.clone(),
        }
    }

    /// The target from the file, the environment and these flags; for an external
    /// one, its endpoints with the secret read from the variable it names.
    fn resolve(&self) -> Result<Option<Deployment>, TargetError> {
        self.resolve_with(self.file()?.as_ref())
    }

    /// The settings file: `--config PATH`, else ./lgtm-check.toml when it exists.
    fn file(&self) -> Result<Option<ConfigFile>, TargetError> {
        let path = match &self.config {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from(CONFIG_FILE)).filter(|p| p.is_file()),
        };
        match &path {
            Some(p) => {
                let shown = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| TargetError::File {
                    path: shown.clone(),
                    message: e.to_string(),
                })?;
                Ok(Some(ConfigFile::parse(&shown, &text)?))
            }
            None => Ok(None),
        }
    }

    /// [`TargetArgs::resolve`] with the settings file already read.
    fn resolve_with(&self, file: Option<&ConfigFile>) -> Result<Option<Deployment>, TargetError> {
        let env = Env::from_vars(std::env::vars());
        match Target::resolve(file, &env, self.settings())? {
            Target::Containers => Ok(None),
            Target::External(t) => Deployment::connect(&t, |var| std::env::var(var).ok()).map(Some),
        }
    }
}

fn plan(raw: RawRun) -> Result<RunPlan, ExitCode> {
    RunPlan::build(
        raw,
        &Env::from_vars(std::env::vars()),
        lgtm_check::stack::fresh_run_id(),
    )
    .map_err(|e| {
        eprintln!("lgtm-check: {e}");
        ExitCode::from(exit::HARNESS_ERROR as u8)
    })
}

fn print_progress(event: Event<'_>) {
    let _ = terminal::progress(&event, &mut std::io::stderr().lock());
}

/// Prints an error with its chain of causes, credentials in URLs redacted.
fn report_error(e: &(dyn std::error::Error + 'static)) {
    let mut msg = format!("lgtm-check: {e}");
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(&format!("\n  caused by: {s}"));
        source = s.source();
    }
    eprintln!("{}", redact_url(&msg));
}

fn raw_run(args: &RunArgs) -> RawRun {
    RawRun {
        images: args.images.images.clone(),
        require_all: args.require_all,
        require: args.require.clone(),
        json: args.json.clone(),
        junit: args.junit.clone(),
        scenario_dir: args.scenario_dir.clone(),
        check_timeout_secs: args.check_timeout,
        run_id: args.run_id.clone(),
        configs: Some(args.configs.clone()),
        faults: Vec::new(),
        scenarios: args.scenarios.clone(),
        log_lines: args.log_lines,
        spans: args.spans,
        series: args.series,
        config_files: args.config_files.clone(),
        inject: args.inject.clone(),
    }
}

async fn run(args: RunArgs) -> ExitCode {
    let file = match args.target.file() {
        Ok(f) => f,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
    };
    let mut raw = raw_run(&args);
    if raw.inject.is_empty() {
        raw.inject = file.as_ref().map(|f| f.faults.clone()).unwrap_or_default();
    }
    let plan = match plan(raw) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let deployment = match args.target.resolve_with(file.as_ref()) {
        Ok(d) => d,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
    };
    if deployment.is_none()
        && let Some(e) = plan.inject.iter().find_map(|f| f.own_component().err())
    {
        eprintln!("lgtm-check: {e}");
        return ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    if let Some(path) = &args.record {
        return run_record(&args, &plan, deployment, path).await;
    }
    if let Some(deployment) = deployment {
        eprintln!(
            "lgtm-check: run {} on {}",
            plan.run_id,
            redact_url(&deployment.target.to_string())
        );
        let result = tokio::select! {
            r = runner::run_external(&plan, &deployment, &print_progress) => r,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("lgtm-check: interrupted (nothing was started on the target)");
                return ExitCode::from(exit::INTERRUPTED as u8);
            }
        };
        return match result {
            Ok(report) => finish(&report, &plan),
            Err(e) => {
                report_error(&e);
                ExitCode::from(exit::HARNESS_ERROR as u8)
            }
        };
    }
    let result = tokio::select! {
        r = runner::run(&plan, &print_progress) => r,
        _ = tokio::signal::ctrl_c() => return interrupted(&plan.run_id).await,
    };
    match result {
        Ok(report) => finish(&report, &plan),
        Err(e) => {
            report_error(&e);
            ExitCode::from(exit::HARNESS_ERROR as u8)
        }
    }
}

/// `run --record PATH`: the record checked against the external target; no
/// scenario runs.
async fn run_record(
    args: &RunArgs,
    plan: &RunPlan,
    deployment: Option<Deployment>,
    path: &std::path::Path,
) -> ExitCode {
    use lgtm_check::record_command::{self, RecordRunError};
    let usage = |e: RecordRunError| {
        report_error(&e);
        ExitCode::from(exit::HARNESS_ERROR as u8)
    };
    let Some(deployment) = deployment else {
        return usage(RecordRunError::NotExternal);
    };
    let scenario_flags = [
        ("--scenario", !args.scenarios.is_empty()),
        ("--log-lines", args.log_lines.is_some()),
        ("--spans", args.spans.is_some()),
        ("--series", args.series.is_some()),
    ];
    if let Some((flag, _)) = scenario_flags.iter().find(|(_, given)| *given) {
        return usage(RecordRunError::ScenarioFlag { flag });
    }
    let record = match record_command::read(path) {
        Ok(r) => r,
        Err(e) => return usage(e.into()),
    };
    eprintln!(
        "lgtm-check: the record {} (run {}) on {}",
        path.display(),
        record.run_id,
        redact_url(&deployment.target.to_string())
    );
    let report = tokio::select! {
        r = record_command::run(plan, &deployment, &record, &print_progress) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("lgtm-check: interrupted (nothing was started on the target)");
            return ExitCode::from(exit::INTERRUPTED as u8);
        }
    };
    finish(&report, plan)
}

async fn soak(args: SoakArgs) -> ExitCode {
    if args.run.run_id.is_some() {
        eprintln!("lgtm-check: soak gives each run its own id; --run-id cannot be used");
        return ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    if args.run.record.is_some() {
        eprintln!("lgtm-check: soak runs the scenarios N times; --record cannot be used");
        return ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    if args.run.target.target.is_some() {
        eprintln!("lgtm-check: soak starts its own stack for each run; --target cannot be used");
        return ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    let json = args.run.json.clone();
    let mut raw = raw_run(&args.run);
    raw.json = None;
    raw.junit = None;
    let plan = match plan(raw) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let quiet = |_: Event<'_>| {};
    let on_run = |i: u32, r: &lgtm_check::soak::SoakRun| {
        eprintln!(
            "lgtm-check soak: run {i}/{} ({}) exit {} in {} ms: {} passed, {} failed{}",
            args.runs,
            r.run_id,
            r.exit_code,
            r.wall_ms,
            r.passed,
            r.failed.len(),
            if r.leaked.is_empty() {
                String::new()
            } else {
                format!(", leaked {}", r.leaked.join(", "))
            }
        );
    };
    let current = std::sync::Mutex::new(String::new());
    let summary = tokio::select! {
        s = lgtm_check::soak::soak(&plan, args.runs, &current, &quiet, &on_run) => s,
        _ = tokio::signal::ctrl_c() => {
            let run_id = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return interrupted(&run_id).await;
        }
    };
    let _ = summary.render(&mut std::io::stdout().lock());
    if let Some(path) = &json
        && let Err(e) = write_file(path, |f| {
            serde_json::to_writer_pretty(&mut *f, &summary).map_err(std::io::Error::other)
        })
    {
        eprintln!("lgtm-check: cannot write {}: {e}", path.display());
        return ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    if summary.passes == summary.runs.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(exit::CHECKS_FAILED as u8)
    }
}

async fn bench(args: BenchArgs) -> ExitCode {
    let plan = match plan(RawRun {
        images: args.images.images,
        scenario_dir: args.scenario_dir,
        check_timeout_secs: 60,
        ..RawRun::default()
    }) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = lgtm_check::bench::BenchOptions {
        samples: args.samples.max(1),
        skip_run: args.skip_run,
        log_lines: args.log_lines,
        spans: args.spans,
        series: args.series,
        gateway: lgtm_check::bench::gateway::GatewayLoad {
            requests: args.gateway_requests,
            batch: args.gateway_batch.max(1),
            points: args.gateway_points.max(1),
        },
    };
    let progress = |what: &str| eprintln!("lgtm-check bench: {what}");
    let report = tokio::select! {
        r = lgtm_check::bench::bench(&plan, &opts, &progress) => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("lgtm-check: interrupted; removing this process's runs");
            if let Ok(docker) = Docker::connect().await {
                let _ = docker.remove_this_process_runs().await;
            }
            return ExitCode::from(exit::INTERRUPTED as u8);
        }
    };
    let _ = report.render(&mut std::io::stdout().lock());
    if let Some(path) = &args.json
        && let Err(e) = write_file(path, |f| {
            serde_json::to_writer_pretty(&mut *f, &report).map_err(std::io::Error::other)
        })
    {
        eprintln!("lgtm-check: cannot write {}: {e}", path.display());
        return ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    ExitCode::SUCCESS
}

async fn app(args: Box<AppCommandArgs>) -> ExitCode {
    let AppCommandArgs {
        app: mut args,
        mut target,
    } = *args;
    // One --otlp-protocol: the program's, and with an external target also the
    // deployment's OTLP ingest's (`run` takes it only with an external target, so it
    // is put back only when the target is one).
    let protocol = target.otlp_protocol.take();
    args.otlp_protocol = protocol.clone().unwrap_or_default();
    let resolved = match target.resolve() {
        Ok(Some(_)) if protocol.is_some() => {
            target.otlp_protocol = protocol;
            target.resolve()
        }
        resolved => resolved,
    };
    let deployment = match resolved {
        Ok(d) => d,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
    };
    if args.command.is_empty() {
        report_error(&lgtm_check::app_command::AppError::NoCommand);
        return ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    let plan = match plan(RawRun {
        images: args.images.clone(),
        json: args.json.clone(),
        junit: args.junit.clone(),
        check_timeout_secs: args.check_timeout,
        run_id: args.run_id.clone(),
        ..RawRun::default()
    }) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mode = lgtm_check::shape::UpdateMode::from_env();
    let mut shape_out = std::io::stdout();
    let result = tokio::select! {
        r = lgtm_check::app_command::run(&plan, &args, deployment.as_ref(), mode, &print_progress, &mut shape_out) => r,
        _ = tokio::signal::ctrl_c() => return interrupted(&plan.run_id).await,
    };
    match result {
        Ok(report) => finish(&report, &plan),
        Err(e) => {
            report_error(&e);
            ExitCode::from(exit::HARNESS_ERROR as u8)
        }
    }
}

async fn gate(args: lgtm_check::gate_command::GateArgs) -> ExitCode {
    let inputs = match lgtm_check::gate_command::inputs(&args) {
        Ok(i) => i,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
    };
    let plan = match lgtm_check::gate_command::plan(
        args,
        &Env::from_vars(std::env::vars()),
        lgtm_check::stack::fresh_run_id(),
    ) {
        Ok(p) => p,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
    };
    let mut run_ids = vec![plan.baseline.run_id.clone()];
    run_ids.extend(plan.between.iter().map(|(_, p)| p.run_id.clone()));
    run_ids.push(plan.candidate.run_id.clone());
    let count = run_ids.len();
    let on_side = |i: usize, label: &str| {
        let p = if i == 0 {
            &plan.baseline
        } else if i == count - 1 {
            &plan.candidate
        } else {
            &plan.between[i - 1].1
        };
        let images: Vec<String> = plan
            .gated()
            .into_iter()
            .map(|c| match p.config_files.get(&c) {
                Some(f) => format!("{c}={} (config {})", p.image(c), f.display()),
                None => format!("{c}={}", p.image(c)),
            })
            .collect();
        eprintln!(
            "lgtm-check gate: side {}/{count} {label}: {}",
            i + 1,
            images.join(", ")
        );
    };
    // Sides run at once: each progress line names its side.
    let on_event = |label: &str, event: Event<'_>| {
        let mut buf = Vec::new();
        let _ = terminal::progress(&event, &mut buf);
        let text = String::from_utf8_lossy(&buf);
        let mut err = std::io::stderr().lock();
        for line in text.lines() {
            let _ = writeln!(err, "[{label}] {line}");
        }
    };
    let result = tokio::select! {
        r = lgtm_check::gate_command::run(&plan, &inputs, &on_side, &on_event) => r,
        _ = tokio::signal::ctrl_c() => {
            let mut code = ExitCode::from(exit::INTERRUPTED as u8);
            for id in &run_ids {
                code = interrupted(id).await;
            }
            return code;
        }
    };
    let gate = match result {
        Ok(r) => r,
        Err(e) => {
            report_error(&e);
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
    };
    let report = &gate.report;
    let _ = lgtm_check::report::gate::terminal(report, &mut std::io::stdout().lock());
    let mut code = ExitCode::from(report.exit_code() as u8);
    if let Some(path) = &plan.json
        && let Err(e) = write_file(path, |f| lgtm_check::report::gate::json(report, f))
    {
        eprintln!(
            "lgtm-check: cannot write the JSON report to {}: {e}",
            path.display()
        );
        code = ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    if let Some(path) = &plan.junit
        && let Err(e) = write_file(path, |f| {
            junit::render_gate(&gate.baseline, &gate.candidate, report, f)
        })
    {
        eprintln!(
            "lgtm-check: cannot write the JUnit report to {}: {e}",
            path.display()
        );
        code = ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    if let (Some(reason), Some(corpus)) = (&inputs.write_accepted, &report.corpus) {
        let written = inputs.accepted.with(&corpus.differences, reason);
        let added = written.accepted.len() - inputs.accepted.accepted.len();
        match std::fs::write(&inputs.accepted_path, written.to_toml()) {
            Ok(()) => eprintln!(
                "lgtm-check gate: {added} difference(s) added to {}",
                inputs.accepted_path.display()
            ),
            Err(e) => {
                eprintln!(
                    "lgtm-check: cannot write {}: {e}",
                    inputs.accepted_path.display()
                );
                code = ExitCode::from(exit::HARNESS_ERROR as u8);
            }
        }
    }
    code
}

/// Until SIGINT or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn tap(args: TapCommandArgs) -> ExitCode {
    let deployment = match args.target.resolve() {
        Ok(Some(d)) => d,
        Ok(None) => {
            eprintln!(
                "lgtm-check: tap forwards to a running deployment: give --target external and its URLs (--loki-url, --tempo-url with --otlp-url, --prometheus-url with --remote-write-url)"
            );
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
        Err(e) => {
            report_error(&e);
            return ExitCode::from(exit::HARNESS_ERROR as u8);
        }
    };
    let run_id = args
        .tap
        .run_id
        .clone()
        .unwrap_or_else(lgtm_check::stack::fresh_run_id);
    let mut out = std::io::stdout();
    match lgtm_check::tap_command::run(&args.tap, &deployment, run_id, &mut out, stop_signal())
        .await
    {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e);
            ExitCode::from(exit::HARNESS_ERROR as u8)
        }
    }
}

/// After Ctrl-C: removes the run's containers and network, and says so.
async fn interrupted(run_id: &str) -> ExitCode {
    eprintln!("lgtm-check: interrupted; removing run {run_id}");
    // Twice: a container whose creation was under way appears after the first.
    if let Ok(docker) = Docker::connect().await {
        let _ = docker.remove_run(run_id).await;
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let _ = docker.remove_run(run_id).await;
    }
    ExitCode::from(exit::INTERRUPTED as u8)
}

/// Prints the report, writes it as JSON and JUnit XML if asked, and returns its
/// exit code.
fn finish(report: &lgtm_check::core::report::Report, plan: &RunPlan) -> ExitCode {
    let _ = terminal::render(report, &mut std::io::stdout().lock());
    let mut code = ExitCode::from(report.exit_code() as u8);
    if let Some(path) = &plan.json
        && let Err(e) = write_file(path, |f| json::render(report, f))
    {
        eprintln!(
            "lgtm-check: cannot write the JSON report to {}: {e}",
            path.display()
        );
        code = ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    if let Some(path) = &plan.junit
        && let Err(e) = write_file(path, |f| junit::render(report, f))
    {
        eprintln!(
            "lgtm-check: cannot write the JUnit report to {}: {e}",
            path.display()
        );
        code = ExitCode::from(exit::HARNESS_ERROR as u8);
    }
    code
}

/// Creates `path` and writes it with `render`.
fn write_file(
    path: &std::path::Path,
    render: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    render(&mut f)?;
    f.flush()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run(*args).await,
        Command::App(args) => app(args).await,
        Command::Soak(args) => soak(*args).await,
        Command::Bench(args) => bench(args).await,
        Command::Gate(args) => gate(args).await,
        Command::Tap(args) => tap(*args).await,
        Command::Cleanup => match Docker::connect().await {
            Ok(docker) => match docker.reap_stale_runs().await {
                Ok(runs) => {
                    println!("removed {} stale runs: {}", runs.len(), runs.join(", "));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    report_error(&e);
                    ExitCode::from(exit::HARNESS_ERROR as u8)
                }
            },
            Err(e) => {
                report_error(&e);
                ExitCode::from(exit::HARNESS_ERROR as u8)
            }
        },
        Command::Images(args) => match plan(RawRun {
            images: args.images,
            check_timeout_secs: 1,
            ..RawRun::default()
        }) {
            Ok(plan) => {
                for (c, (image, source)) in &plan.images {
                    println!("{:<11} {:<34} ({source:?})", c.name(), image.to_string());
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Shape(args) => {
            let mode = lgtm_check::shape::UpdateMode::from_env();
            match lgtm_check::shape_command::run(&args, mode, &mut std::io::stdout().lock()).await {
                Ok(code) => ExitCode::from(code as u8),
                Err(e) => {
                    report_error(&e);
                    ExitCode::from(e.exit_code() as u8)
                }
            }
        }
    }
}
