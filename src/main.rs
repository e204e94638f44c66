//! The `anju` binary: parse the command line and run.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = anju::cli::Cli::parse();
    match anju::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("anju: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
