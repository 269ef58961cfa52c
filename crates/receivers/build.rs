//! Compiles the wire formats of the receivers beside OTLP (`proto/zipkin`, `proto/jaeger`)
//! with protox (pure Rust, so a fresh machine builds with cargo alone) and prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["../../proto/zipkin/zipkin.proto", "../../proto/jaeger/api_v2.proto"];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(protos, ["../../proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
