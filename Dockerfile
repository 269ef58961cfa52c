# Multi-stage build: a release binary on a small runtime image, run as a non-root user.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p weir && strip target/release/weir

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/weir /usr/local/bin/weir
COPY config/debug.yaml /etc/weir/config.yaml
# In a container, listen on every interface; mount another file over /etc/weir/config.yaml
# (any OpenTelemetry Collector configuration weir supports) to change the pipelines.
ENV WEIR_GRPC_ENDPOINT=0.0.0.0:4317 WEIR_HTTP_ENDPOINT=0.0.0.0:4318
USER nonroot:nonroot
EXPOSE 4317 4318
ENTRYPOINT ["/usr/local/bin/weir"]
CMD ["--config", "/etc/weir/config.yaml"]
