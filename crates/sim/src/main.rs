//! `holdix-sim`: run the exchange simulator (see the library docs).
use clap::Parser;
use holdix_sim::{Fixture, Sim};

#[derive(Parser, Debug)]
#[command(version, about = "Exchange simulator for Holdix tests and the demo")]
struct Args {
    /// Address to listen on (loopback only).
    #[arg(long, default_value = "127.0.0.1:9101")]
    listen: std::net::SocketAddr,
    /// Accounts and keys (JSON); the built-in demo portfolio when absent.
    #[arg(long)]
    fixture: Option<std::path::PathBuf>,
    /// Delay every answer by this many milliseconds.
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Shift the simulator's clock by this many milliseconds.
    #[arg(long, allow_hyphen_values = true)]
    clock_offset_ms: Option<i64>,
    /// Answer every exchange request with this HTTP status.
    #[arg(long)]
    status: Option<u16>,
    /// Answer with truncated JSON.
    #[arg(long)]
    malformed_json: bool,
    /// Answer every private request with the rate-limit error.
    #[arg(long)]
    force_rate_limit: bool,
    /// Do not enforce the documented rate limits (load tests).
    #[arg(long)]
    no_rate_limits: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut fixture = match &args.fixture {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
        None => Fixture::demo(),
    };
    let faults = &mut fixture.faults;
    faults.latency_ms = args.latency_ms.unwrap_or(faults.latency_ms);
    faults.clock_offset_ms = args.clock_offset_ms.unwrap_or(faults.clock_offset_ms);
    faults.status = args.status.or(faults.status);
    faults.malformed_json |= args.malformed_json;
    faults.force_rate_limit |= args.force_rate_limit;
    faults.rate_limits &= !args.no_rate_limits;
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "exchange simulator listening");
    holdix_sim::serve(listener, Sim::new(fixture), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
