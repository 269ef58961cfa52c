//! The `weir` binary: parses the command line, runs it, and turns an error into one message
//! and exit code 1.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = weir::cli::Cli::parse();
    match weir::cli::main(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
