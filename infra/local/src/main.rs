//! `eccs-local serve` and `eccs-local invoke` (SPEC §4).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use eccs_local::engine::{Storage, default_data_dir};
use eccs_local::{Options, Runner, demo, prepare};

#[derive(Parser)]
#[command(
    name = "eccs-local",
    about = "The ECCS account service on this machine: embedded DynamoDB, every function, the UI"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every function behind one HTTP server, with the UI and the schedules.
    Serve {
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
        /// Keep the data under DIR (default .local/).
        #[arg(long, conflicts_with = "memory")]
        data: Option<PathBuf>,
        /// Keep the data in memory only.
        #[arg(long, conflicts_with = "dynamodb")]
        memory: bool,
        /// Use this DynamoDB-compatible endpoint (DynamoDB Local, moto_server) instead of the
        /// embedded engine; tables are created there if missing.
        #[arg(long, conflicts_with = "data")]
        dynamodb: Option<String>,
        /// Load the demo accounts (existing ones are kept).
        #[arg(long)]
        demo: bool,
        /// Send mail (notices, invitations, confirmations) to this SMTP server, e.g.
        /// smtp://127.0.0.1:2525 (`.venv/bin/python -m aiosmtpd -n -l 127.0.0.1:2525`); without it,
        /// mail waits in the outbox.
        #[arg(long, env = "SMTP_URL")]
        smtp: Option<String>,
        /// The identity verification provider's issuer URL (R-CRED-4), e.g. http://127.0.0.1:3001
        /// (`node tests/oidc/provider.mjs`); without it, the link and the reset answer that no
        /// provider is configured.
        #[arg(long, env = "OIDC_ISSUER")]
        oidc_issuer: Option<String>,
        /// This service's client id at the provider.
        #[arg(long, env = "OIDC_CLIENT_ID", default_value = "eccs-local")]
        oidc_client_id: String,
        /// Its client secret.
        #[arg(long, env = "OIDC_CLIENT_SECRET", default_value = "local-secret", hide_default_value = true)]
        oidc_client_secret: String,
    },
    /// Run one function once with an event file, as `sam local invoke` would, and print its response.
    Invoke {
        /// The function's folder under functions/ (e.g. `me`, `sync-hourly`). `schedules` talks to
        /// EventBridge Scheduler: AWS, or the endpoint in SCHEDULER_ENDPOINT (e.g. moto_server).
        function: String,
        /// An event file, e.g. events/me/get.json. `${TOKEN:utokyo:0000000001}` in it becomes a
        /// fresh token for that account.
        event: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        /// Load the demo accounts first (existing ones are kept).
        #[arg(long)]
        demo: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::edge::lambda::init_tracing();
    let result = match Cli::parse().command {
        Command::Serve {
            addr,
            data,
            memory,
            dynamodb,
            demo,
            smtp,
            oidc_issuer,
            oidc_client_id,
            oidc_client_secret,
        } => {
            let oidc = oidc_issuer.map(|issuer| shared::config::OidcSettings {
                issuer,
                client_id: oidc_client_id,
                client_secret: shared::config::OidcSecret::Value(oidc_client_secret.into()),
            });
            serve(addr, data, memory, dynamodb, demo, smtp, oidc).await
        }
        Command::Invoke { function, event, data, demo } => invoke(&function, &event, data, demo).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eccs-local: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    addr: String,
    data: Option<PathBuf>,
    memory: bool,
    dynamodb: Option<String>,
    demo: bool,
    smtp: Option<String>,
    oidc: Option<shared::config::OidcSettings>,
) -> Result<(), String> {
    let storage = match (memory, dynamodb) {
        (_, Some(endpoint)) => Storage::External { endpoint, prefix: String::new() },
        (true, None) => Storage::Memory,
        (false, None) => Storage::Dir(data.unwrap_or_else(default_data_dir)),
    };
    let where_ = match &storage {
        Storage::Memory => "in memory".to_owned(),
        Storage::Dir(d) => format!("under {}", d.display()),
        Storage::External { endpoint, .. } => format!("in the DynamoDB at {endpoint}"),
    };
    let mail = smtp.clone().map_or("waits in the outbox (no --smtp)".to_owned(), |u| format!("goes to {u}"));
    let identity = oidc
        .as_ref()
        .map_or("no provider (no --oidc-issuer)".to_owned(), |o| format!("{} as client {}", o.issuer, o.client_id));
    let runner = Runner::start(Options { addr, storage, demo, smtp_url: smtp, oidc, ..Options::default() }).await?;
    println!("ECCS account service (local) — {}", runner.url);
    println!("  UI      {}/", runner.url);
    println!("  health  {}/api/health", runner.url);
    println!("  data    {where_} (DynamoDB endpoint {})", runner.engine.endpoint);
    println!("  clock   POST {}/_local/clock {{\"now\": \"2026-11-22T10:20:00+09:00\"}} (null: real time)", runner.url);
    println!("  mail    {mail}");
    println!("  identity verification {identity}");
    println!("  runs    POST {0}/_local/run/sync-hourly, {0}/_local/run/sweep-daily", runner.url);
    if let Some(loaded) = &runner.demo {
        println!(
            "Demo data: {} accounts created, {} kept. Logins (realm, account, password):",
            loaded.created, loaded.kept
        );
        for l in demo::LOGINS {
            println!("  {:<8} {:<10} {:<16} {}", l.realm, l.account, l.password, l.what);
        }
    }
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    println!("stopping");
    Ok(())
}

async fn invoke(function: &str, event: &PathBuf, data: Option<PathBuf>, demo: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(event).map_err(|e| format!("{}: {e}", event.display()))?;
    let storage = Storage::Dir(data.unwrap_or_else(default_data_dir));
    let scheduler = std::env::var("SCHEDULER_ENDPOINT").ok();
    let (_engine, app, _) = prepare(&storage, "http://127.0.0.1:3000", None, demo, scheduler).await?;
    let output = eccs_local::invoke(&app, function, &text).await?;
    println!("{}", serde_json::to_string_pretty(&output).map_err(|e| e.to_string())?);
    Ok(())
}
