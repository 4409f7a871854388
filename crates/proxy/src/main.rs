//! `holdix-proxy`: see the library docs. Flags override the built-in upstream table for tests.
use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use holdix_proxy::{Cidr, Config, RateLimit};

#[derive(Parser, Debug)]
#[command(version, about = "Thin read-only CORS proxy for Holdix")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "HOLDIX_LISTEN")]
    listen: std::net::SocketAddr,
    /// Also serve the built app from this directory (one origin for app and proxy).
    #[arg(long = "static")]
    static_dir: Option<std::path::PathBuf>,
    /// Override an upstream: `okx=http://127.0.0.1:9101` (an exchange family or prefix).
    #[arg(long = "upstream", value_parser = parse_pair, env = "HOLDIX_UPSTREAMS", value_delimiter = ' ')]
    upstreams: Vec<(String, String)>,
    /// Allowed browser origin (repeatable). Default: this proxy's own origin plus
    /// http://127.0.0.1 and http://localhost on any port.
    #[arg(
        long = "allow-origin",
        env = "HOLDIX_ALLOW_ORIGINS",
        value_delimiter = ' '
    )]
    allow_origins: Vec<String>,
    /// Also forward exchange requests that carry no Origin and are not same-origin: for
    /// scripts and command-line clients. Off by default, so that no other web page can spend
    /// the proxy's exchange quotas through its visitors' browsers.
    #[arg(long)]
    allow_no_origin: bool,
    /// A load balancer or reverse proxy in front of this one (CIDR or address; repeatable):
    /// only from these peers are X-Forwarded-For / Forwarded read to find the client's
    /// address for rate limiting.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxies: Vec<Cidr>,
    /// Seconds to wait for an exchange.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
    /// Seconds a client may take to send a request's headers (slow or idle connections are
    /// closed after this).
    #[arg(long, default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds a client may take to send a request's body.
    #[arg(long, default_value_t = 10)]
    body_timeout_secs: u64,
    /// Every request is answered within this many seconds.
    #[arg(long, default_value_t = 30)]
    request_deadline_secs: u64,
    /// Client connections open at most (further ones wait to be accepted).
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Event loops (threads), each serving its own connections; default: one per core.
    #[arg(long)]
    threads: Option<usize>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    max_body: usize,
    /// Upstream requests in flight at most.
    #[arg(long, default_value_t = 256)]
    max_concurrent: usize,
    /// Requests per second per client address (0 turns the limit off).
    #[arg(long, default_value_t = 20.0)]
    rate_limit: f64,
    /// Burst allowance per client address (a refresh of OKX, Binance and Bybit is about 25
    /// requests; connecting them one after another about 60).
    #[arg(long, default_value_t = 120.0)]
    rate_burst: f64,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (name, url) = text.split_once('=').ok_or("expected NAME=URL")?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("the upstream must be an http:// or https:// URL".into());
    }
    Ok((name.to_string(), url.to_string()))
}

// This thread runs one of the event loops; `serve` starts the others (one per core).
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    // Colours only for a person at a terminal; a log file or journal gets plain lines (and
    // formatting them is cheaper: measured in the proxy benchmark).
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let config = Config {
        upstreams: args.upstreams.into_iter().collect::<BTreeMap<_, _>>(),
        allow_origins: (!args.allow_origins.is_empty()).then_some(args.allow_origins),
        allow_no_origin: args.allow_no_origin,
        trusted_proxies: args.trusted_proxies,
        static_dir: args.static_dir,
        timeout: Duration::from_secs(args.timeout_secs),
        header_timeout: Duration::from_secs(args.header_timeout_secs),
        body_timeout: Duration::from_secs(args.body_timeout_secs),
        request_deadline: Duration::from_secs(args.request_deadline_secs),
        max_body: args.max_body,
        max_concurrent: args.max_concurrent,
        max_connections: args.max_connections,
        rate_limit: (args.rate_limit > 0.0).then_some(RateLimit {
            per_second: args.rate_limit,
            burst: args.rate_burst.max(1.0),
        }),
        threads: args.threads.unwrap_or(Config::default().threads),
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "holdix-proxy listening");
    holdix_proxy::serve(listener, config, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
