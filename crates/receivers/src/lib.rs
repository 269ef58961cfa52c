//! Receivers of weir and their configuration enum.
//!
//! Each receiver lives in its own folder with its `config.rs`. [`ReceiverSettings`] is the
//! closed set of receivers: adding one is a folder with its declaration and one line in
//! that list.

pub mod decompress;
pub mod filelog;
pub mod hostmetrics;
pub mod http_server;
mod intake;
pub mod jaeger;
pub mod kubeletstats;
mod listen;
pub mod nop;
pub mod otlp;
pub mod prometheus;
mod scrape;
mod thrift;
mod tls;
pub mod zipkin;

weir_core::kind! {
    /// A validated receiver, by type.
    pub enum ReceiverSettings as dyn weir_core::declare::BuildReceiver {
        /// `otlp`: OTLP over gRPC and HTTP.
        Otlp(otlp::Config),
        /// `nop`: receives nothing.
        Nop(nop::Config),
        /// `hostmetrics`: the host's CPU, memory, load, network, paging, processes and disks.
        HostMetrics(hostmetrics::config::Settings),
        /// `kubelet_stats`: node, pod and container figures from the kubelet's Summary API.
        KubeletStats(kubeletstats::Settings),
        /// `zipkin`: Zipkin spans over HTTP.
        Zipkin(zipkin::Config),
        /// `jaeger`: Jaeger spans over gRPC, thrift HTTP and the agent's UDP.
        Jaeger(jaeger::Config),
        /// `prometheus`: Prometheus scrapes.
        Prometheus(prometheus::Settings),
        /// `filelog`: log files followed through rotation.
        FileLog(filelog::Settings),
    }
}
