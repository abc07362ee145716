//! `checkout-chain`: a frontend and a backend service (two processes) with W3C trace
//! propagation over HTTP. See `lgtm_scenarios::checkout_chain`.

use clap::{Parser, ValueEnum};
use lgtm_scenarios::checkout_chain::{Options, run_backend, run_frontend};
use lgtm_scenarios::cli::CommonArgs;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Role {
    Frontend,
    Backend,
}

/// Emit one trace per order across two services, and write its manifest.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The backend's service name [default: the frontend's, with `-backend`].
    #[arg(long)]
    backend_service: Option<String>,
    /// Orders to place (one trace each).
    #[arg(long, default_value_t = 5)]
    orders: u32,
    /// Internal: which side this process is (the frontend starts the backend).
    #[arg(long, value_enum, default_value = "frontend", hide = true)]
    role: Role,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let telemetry = a.common.telemetry_config()?;
    match a.role {
        Role::Backend => run_backend(telemetry, a.common.manifest).await,
        Role::Frontend => {
            let backend_service = a
                .backend_service
                .unwrap_or_else(|| format!("{}-backend", telemetry.service));
            let opts = Options {
                backend_command: (std::env::current_exe()?, a.common.child_args()),
                telemetry,
                manifest: a.common.manifest,
                backend_service,
                orders: a.orders,
            };
            run_frontend(opts).await.map(|_| ())
        }
    }
}
