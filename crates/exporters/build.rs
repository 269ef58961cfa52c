//! Compiles the Prometheus remote-write messages in `proto/` with protox (pure Rust, so a
//! fresh machine builds with cargo alone) and prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/prometheus/remote_write.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["../../proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
