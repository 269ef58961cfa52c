//! The `hostmetrics` receiver in a running weir: scrapes of this machine reach the file
//! exporter every collection interval, with the Collector's metric names and scopes.

use weir_otlp::Decoded;
use weir_tests::Weir;

#[test]
fn scrapes_reach_the_exporter_every_interval() {
    let weir = Weir::start_with(
        "
receivers:
  hostmetrics:
    collection_interval: 200ms
    initial_delay: 0s
    scrapers:
      cpu:
      memory:
      load:
exporters:
  file:
    path: {output}
service:
  pipelines:
    metrics:
      receivers: [hostmetrics]
      exporters: [file]
",
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut scrapes = 0;
    let mut scopes = std::collections::BTreeSet::new();
    for batch in weir.stop() {
        let Decoded::Metrics(resources) = batch.into_decoded() else { panic!("metrics only") };
        for scope in resources.iter().flat_map(|r| &r.scope_metrics) {
            let name = scope.scope.as_ref().unwrap().name.clone();
            if scope.metrics.iter().any(|m| m.name == "system.cpu.time") {
                scrapes += 1;
            }
            scopes.insert(name.rsplit('/').next().unwrap().to_owned());
        }
    }
    assert!(scrapes >= 3, "{scrapes} scrapes in 1.1 s at 200 ms");
    assert_eq!(
        scopes.into_iter().collect::<Vec<_>>(),
        ["cpuscraper", "loadscraper", "memoryscraper"]
    );
}
