//! `cargo xtask run | test | bench`: sets up the tools a fresh Debian machine lacks, builds,
//! serves, tests and measures Holdix.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bench;
mod build;
mod edge;
mod leftovers;
mod loadbench;
mod pwa;
mod setup;
mod testing;

#[derive(Parser)]
#[command(about = "Holdix developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Set up what is missing, build the release app and serve it with the proxy.
    Run {
        /// Address to serve on (127.0.0.1 only is recommended).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Also start the exchange simulator with the demo portfolio and send OKX to it.
        #[arg(long)]
        demo: bool,
    },
    /// Set up what is missing and run every test layer: native, edge (the Worker in workerd),
    /// browser, end-to-end.
    Test {
        /// Run only the end-to-end files whose names contain this (while working on them;
        /// the other layers are skipped).
        #[arg(long, value_name = "NAME")]
        only_e2e: Option<String>,
    },
    /// Measure: key derivation, unlock, refresh, loads, bundle sizes, proxy throughput. One
    /// `name: value unit` per line.
    Bench {
        /// Only the proxy figures (while working on the proxy).
        #[arg(long)]
        proxy_only: bool,
        /// Only the soak (while working on it).
        #[arg(long)]
        soak_only: bool,
    },
    /// Long runs of the property tests (parsers, decoders, signing, the proxy's rules).
    Fuzz {
        /// Generated cases per property.
        #[arg(long, default_value_t = 100_000)]
        cases: u64,
    },
    /// Build the proxy as a Cloudflare Worker into target/edge/ (with its wrangler.toml).
    Edge,
    /// Redraw the PNG icons in pwa/icons/ (committed; a test checks they match).
    Icons,
    /// Write DIST/sw.js for the files in DIST, and the precompressed copies (done by every
    /// build; the end-to-end tests use it to make a "new version" of a copied build).
    #[command(hide = true)]
    ServiceWorker { dist: std::path::PathBuf },
    /// The steps after Trunk (minify, service worker, precompressed copies) on DIST, as every build runs them.
    #[command(hide = true)]
    FinishBuild { dist: std::path::PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    leftovers::stop_all_on_signal();
    let result = match cli.task {
        Task::Run { listen, demo } => build::run(&listen, demo),
        Task::Test { only_e2e } => testing::test_all(only_e2e.as_deref()),
        Task::Bench {
            proxy_only,
            soak_only,
        } => bench::bench(proxy_only, soak_only),
        Task::Edge => edge::build().map(|_| ()),
        Task::Fuzz { cases } => testing::fuzz(cases),
        Task::Icons => pwa::write_icons(),
        Task::FinishBuild { dist } => pwa::finish_build(&dist),
        Task::ServiceWorker { dist } => {
            pwa::write_service_worker(&dist).and_then(|_| pwa::precompress(&dist))
        }
    };
    leftovers::let_a_signal_finish();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

pub type Result<T = ()> = std::result::Result<T, String>;
