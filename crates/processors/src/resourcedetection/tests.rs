use weir_core::{Batch, Component, Decoded, Output, Processor, Signal, testing::spans};
use weir_otlp::attributes::kv;

use super::{detect::*, *};

fn settings(yaml: &str) -> Settings {
    Settings::parse(yaml).unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn env_pairs_are_percent_decoded() {
    let found = env("service.name=checkout, deployment.environment=prod%20eu ,team=a%2Cb").unwrap();
    assert_eq!(
        found,
        [
            kv("service.name", "checkout"),
            kv("deployment.environment", "prod eu"),
            kv("team", "a,b")
        ]
    );
    assert!(env("novalue").unwrap_err().contains("is not key=value"));
    assert!(env("k=%zz").unwrap_err().contains("percent-encoded"));
}

#[test]
fn system_attributes_of_this_machine() {
    let all = settings(
        "detectors: [system]
system:
  hostname_sources: [os]
  resource_attributes:
    host.id: {enabled: true}
    host.arch: {enabled: true}
    os.version: {enabled: true}
    host.cpu.vendor.id: {enabled: true}
    host.cpu.model.name: {enabled: true}",
    );
    let detected = detect(&all, "resourcedetection", None);
    let get = |key: &str| detected.iter().find(|kv| kv.key == key).cloned();
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(get("host.name"), Some(kv("host.name", hostname.trim())));
    assert_eq!(get("os.type"), Some(kv("os.type", "linux")));
    if let Ok(id) = std::fs::read_to_string("/etc/machine-id") {
        assert_eq!(get("host.id"), Some(kv("host.id", id.trim())));
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let vendor = cpuinfo
        .lines()
        .find(|l| l.starts_with("vendor_id"))
        .map(|l| l.split(':').nth(1).unwrap().trim());
    assert_eq!(get("host.cpu.vendor.id").map(|kv| kv.value), vendor.map(|v| kv("", v).value));
    assert!(get("os.description").is_none(), "disabled by default");
    let defaults = settings("detectors: [system]");
    let keys: Vec<String> =
        detect(&defaults, "resourcedetection", None).into_iter().map(|kv| kv.key).collect();
    assert_eq!(keys, ["host.name", "os.type"], "the Collector's defaults");
}

#[test]
fn parsers_of_what_the_system_detector_reads() {
    let cpu = "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\nmodel name\t: Intel(R) Xeon(R)\nstepping\t: 7\n\nprocessor\t: 1\nvendor_id\t: Other\n";
    assert_eq!(cpuinfo(cpu, "vendor_id").as_deref(), Some("GenuineIntel"));
    assert_eq!(cpuinfo(cpu, "model").as_deref(), Some("85"));
    assert_eq!(cpuinfo(cpu, "model name").as_deref(), Some("Intel(R) Xeon(R)"));
    let release = "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
    assert_eq!(os_release(release, "VERSION_ID").as_deref(), Some("12"));
    assert_eq!(arch("x86_64"), "amd64");
    assert_eq!(arch("aarch64"), "arm64");
    let settings = settings(
        "detectors: [system]\nsystem: {hostname_sources: [dns, os], resource_attributes: {os.description: {enabled: true}}}",
    );
    let facts = Facts {
        hostname: Some("node-7".into()),
        machine_id: None,
        kernel: Some("6.1.0".into()),
        os_release: release,
        cpuinfo: cpu,
    };
    let found = system_attributes(&settings, &facts).unwrap();
    assert_eq!(found[0], kv("host.name", "node-7"), "dns finds no FQDN, os answers");
    assert_eq!(found[2], kv("os.description", "Debian GNU/Linux 12 (bookworm) (Linux 6.1.0)"));
}

#[test]
fn detected_attributes_reach_every_resource_without_decoding() {
    let detected = vec![kv("host.name", "node-7"), kv("service.name", "detected")];
    let encoded =
        || Batch::from_protobuf(Signal::Traces, spans("api", 3, 1).encode_protobuf()).unwrap();
    for (override_existing, service) in [(true, "detected"), (false, "api")] {
        let mut processor = ResourceDetection::new(detected.clone(), override_existing);
        let mut out = Output::new();
        processor.process(encoded(), &mut out);
        let batch = out.drain().next().unwrap().batch;
        assert!(batch.is_encoded());
        let Decoded::Traces(r) = batch.into_decoded() else { panic!() };
        let attributes = &r[0].resource.as_ref().unwrap().attributes;
        assert!(attributes.contains(&kv("host.name", "node-7")));
        assert!(attributes.contains(&kv("service.name", service)), "override: {override_existing}");
        assert_eq!(r[0].scope_spans[0].spans.len(), 3);
    }
}

#[test]
fn mistakes_are_reported_with_paths() {
    let errors = Settings::parse(
        "detectors: [env, lambda, nope]
timeout: 2 seconds
system:
  hostname_sources: [os, magic]
  resource_attributes:
    host.mac: {enabled: true}
    host.colour: {enabled: true}
gcp:
  labels: [team]
ec2:
  tags: ['^team$', '(']
eks:
  resource_attributes:
    k8s.cluster.name: {enabled: true}
azure:
  endpoint: https://imds.example
aks:
  resource_attributes:
    azure.vm.name: {enabled: true}",
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        found,
        [
            "detectors[1]: the lambda detector is not built in weir (these are: env, system, k8snode, gcp, ec2, eks, ecs, azure, aks, docker)",
            "detectors[2]: unknown detector \"nope\"",
            "timeout: invalid duration \"2 seconds\": expected a number with a unit, like \"5s\" or \"200ms\"",
            "system.resource_attributes.host.mac: is not detected by weir yet",
            "system.resource_attributes.host.colour: is not an attribute of the system detector",
            "eks.resource_attributes.k8s.cluster.name: needs the EC2 DescribeInstances API, which weir does not call (the instance's tags from its metadata are: ec2 with tags_from_imds)",
            "aks.resource_attributes.azure.vm.name: is not an attribute of the aks detector",
            "system.hostname_sources[1]: unknown source \"magic\": expected dns, os, cname or lookup",
            "gcp.labels: instance labels come from the Compute API, which weir does not call",
            "ec2.tags: weir reads tags from the instance metadata only: set tags_from_imds: true (and allow tags in the instance's metadata)",
            "azure.endpoint: \"https://imds.example\": expected http://host[:port][/path] or unix:///path",
            "ec2.tags[1]: invalid regular expression \"(\": regex parse error:\n    (\n    ^\nerror: unclosed group",
        ]
    );
}

#[test]
fn each_detector_has_the_collectors_defaults() {
    let defaults = settings("detectors: [gcp, ec2, eks, ecs, azure, aks, docker]");
    let on = |detector: &str| defaults.enabled[detector].clone();
    assert!(!on("gcp").contains(&"gcp.gce.instance.name"));
    assert!(on("gcp").contains(&"k8s.cluster.name"));
    assert_eq!(on("ec2").len(), 9);
    assert_eq!(on("eks"), ["cloud.provider", "cloud.platform"]);
    assert_eq!(on("ecs").len(), 15);
    assert!(!on("azure").contains(&"cloud.availability_zone"));
    assert_eq!(on("aks"), ["cloud.provider", "cloud.platform"]);
    assert_eq!(on("docker"), ["host.name", "os.type"]);
    assert!(!defaults.fail_on_missing_metadata);
    assert_eq!(defaults.timeout, std::time::Duration::from_secs(5));
    assert!(defaults.refresh_interval.is_zero());

    let chosen = settings(
        "detectors: [docker, aks]
refresh_interval: 1m
ec2: {fail_on_missing_metadata: true, tags: [^team$], tags_from_imds: true, max_attempts: 3, max_backoff: 20s}
docker: {resource_attributes: {container.name: {enabled: true}, os.type: {enabled: false}}}
aks: {resource_attributes: {k8s.cluster.name: {enabled: true}}}",
    );
    assert_eq!(chosen.enabled["docker"], ["host.name", "container.name"]);
    assert_eq!(chosen.enabled["aks"], ["cloud.provider", "cloud.platform", "k8s.cluster.name"]);
    assert!(chosen.fail_on_missing_metadata, "the ec2 detector's deprecated option still counts");
    assert_eq!(chosen.refresh_interval, std::time::Duration::from_secs(60));
    assert!(chosen.tags["ec2"][0].is_match("team"));
}
