//! The `weir` binary: parses the command line, runs it, and turns an error into one message
//! and exit code 1.

use clap::Parser;

/// mimalloc, chosen by measurement (see README, "Performance"): glibc malloc costs more per
/// span on weir's allocation-heavy decode and encode, and holds on to memory after bursts.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
