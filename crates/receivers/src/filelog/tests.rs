use std::{fs, io::Write, path::Path};

use weir_core::Component;

use super::{Settings, Tracker};

fn settings(dir: &Path, extra: &str) -> Settings {
    Settings::parse(&format!("include: ['{}/*.log']\n{extra}", dir.display()))
        .unwrap_or_else(|e| panic!("{e:?}"))
}

fn append(path: &Path, text: &str) {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// Every entry a poll read, in order, with its file's name.
fn poll(tracker: &mut Tracker, settings: &Settings) -> Vec<String> {
    let mut cut = 0;
    let poll = tracker.poll(settings, &mut cut);
    poll.entries
        .into_iter()
        .flat_map(|(path, entries)| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            entries.into_iter().map(move |e| format!("{name}: {e}"))
        })
        .collect()
}

#[test]
fn start_at_end_skips_what_was_there_and_new_files_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.log");
    append(&app, "old 1\nold 2\n");
    let settings = settings(dir.path(), "force_flush_period: 1h");
    let mut tracker = Tracker::default();
    assert!(poll(&mut tracker, &settings).is_empty(), "start_at: end");
    append(&app, "new 1\r\nnew 2\npart");
    assert_eq!(
        poll(&mut tracker, &settings),
        ["app.log: new 1", "app.log: new 2"],
        "an unfinished line waits"
    );
    append(&app, "ial\n");
    append(&dir.path().join("later.log"), "first\n");
    fs::write(dir.path().join("ignored.txt"), "not matched\n").unwrap();
    assert_eq!(poll(&mut tracker, &settings), ["app.log: partial", "later.log: first"]);
    assert!(poll(&mut tracker, &settings).is_empty(), "nothing twice");
}

#[test]
fn rotation_by_rename_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.log");
    let settings = settings(dir.path(), "start_at: beginning");
    let mut tracker = Tracker::default();
    append(&app, "line 1\nline 2\n");
    assert_eq!(poll(&mut tracker, &settings).len(), 2);
    // the writer still holds the file it writes as it is renamed away, then reopens
    let mut writer = fs::OpenOptions::new().append(true).open(&app).unwrap();
    fs::rename(&app, dir.path().join("app.log.1")).unwrap();
    writer.write_all(b"line 3\n").unwrap();
    append(&app, "line 4\n");
    let read = poll(&mut tracker, &settings);
    assert_eq!(
        read,
        ["app.log: line 3", "app.log: line 4"],
        "the old file read to its end, the new one whole"
    );
    append(&app, "line 5\n");
    assert_eq!(poll(&mut tracker, &settings), ["app.log: line 5"]);
}

#[test]
fn copytruncate_and_recreation_start_again() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.log");
    let settings = settings(dir.path(), "start_at: beginning");
    let mut tracker = Tracker::default();
    append(&app, "before truncation, a long first line\nsecond\n");
    assert_eq!(poll(&mut tracker, &settings).len(), 2);
    fs::copy(&app, dir.path().join("app.log.1")).unwrap();
    fs::OpenOptions::new().write(true).open(&app).unwrap().set_len(0).unwrap();
    append(&app, "after\n");
    assert_eq!(poll(&mut tracker, &settings), ["app.log: after"], "truncated: from the start");
    fs::remove_file(&app).unwrap();
    append(&app, "recreated\n");
    assert_eq!(poll(&mut tracker, &settings), ["app.log: recreated"]);
}

#[test]
fn multiline_entries_and_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.log");
    let settings = settings(
        dir.path(),
        "start_at: beginning\nforce_flush_period: 0s\nmax_log_size: 64\nmultiline: {line_start_pattern: '^\\d{4}-'}",
    );
    let mut tracker = Tracker::default();
    append(
        &app,
        "2026-12-03 ERROR boom\njava.lang.IllegalStateException: no cart\n\tat shop.Cart.load(Cart.java:42)\n\tat shop.Api.get(Api.java:7)\n2026-12-03 INFO next\n",
    );
    let mut cut = 0;
    let entries: Vec<String> =
        tracker.poll(&settings, &mut cut).entries.into_iter().flat_map(|(_, e)| e).collect();
    assert_eq!(
        entries[0], "2026-12-03 ERROR boom\njava.lang.IllegalStateException: no cart\n\t",
        "the stack trace joined to its first line, cut at 64 bytes"
    );
    assert_eq!(entries[1], "2026-12-03 INFO next", "the next entry whole");
    assert_eq!(cut, 1);
    let long = settings_lines(dir.path());
    let mut tracker = Tracker::default();
    append(&dir.path().join("big.log"), &format!("{}\nafter\n", "x".repeat(10 << 20)));
    let mut cut = 0;
    let mut entries: Vec<String> = Vec::new();
    for _ in 0..20 {
        entries.extend(
            tracker
                .poll(&long, &mut cut)
                .entries
                .into_iter()
                .filter(|(p, _)| p.ends_with("big.log"))
                .flat_map(|(_, e)| e),
        );
    }
    assert_eq!(entries.len(), 2, "a 10 MB line is one cut entry");
    assert_eq!(entries[0].len(), 1 << 20);
    assert_eq!(entries[1], "after");
    assert_eq!(cut, 1);
}

fn settings_lines(dir: &Path) -> Settings {
    settings(dir, "start_at: beginning\nforce_flush_period: 1h")
}

#[test]
fn mistakes_are_reported_with_paths() {
    let errors = Settings::parse(
        "include: ['[']\nstart_at: middle\nmax_log_size: huge\nencoding: utf-16le\nmultiline: {line_start_pattern: a, line_end_pattern: b}\nstorage: file_storage",
    )
    .unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(found[0].starts_with("include[0]: invalid glob \"[\""), "{found:?}");
    assert_eq!(
        found[1..],
        [
            "start_at: \"middle\": expected beginning or end",
            "max_log_size: \"huge\": expected a size like 1kb or 1MiB",
            "encoding: \"utf-16le\" is not built in weir yet (utf-8 is)",
            "multiline: give exactly one of line_start_pattern and line_end_pattern",
            "storage: is not built in weir yet",
        ]
    );
}

#[test]
fn container_lines_of_each_runtime_become_records() {
    use super::container::{Format, Partial, parse, path_attributes, rfc3339_nanos};
    assert_eq!(rfc3339_nanos("2026-12-03T10:10:38.123456789Z"), Some(1_796_292_638_123_456_789));
    assert_eq!(rfc3339_nanos("2024-02-29T23:59:59+01:00"), Some(1_709_247_599_000_000_000));
    assert_eq!(rfc3339_nanos("yesterday"), None);
    let mut partial = Partial::default();
    let docker = parse(
        r#"{"log":"GET /cart 200\n","stream":"stdout","time":"2026-12-03T10:10:38.5Z"}"#,
        None,
        &mut partial,
        1 << 20,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (docker.body.as_str(), docker.stream.as_str(), docker.logtag),
        ("GET /cart 200", "stdout", None)
    );
    assert_eq!(docker.time_unix_nano, 1_796_292_638_500_000_000);
    assert_eq!(
        parse(
            r#"{"log":"a long ","stream":"stderr","time":"2026-12-03T10:10:38Z"}"#,
            Some(Format::Docker),
            &mut partial,
            1 << 20
        )
        .unwrap(),
        None
    );
    let joined = parse(
        r#"{"log":"line\n","stream":"stderr","time":"2026-12-03T10:10:39Z"}"#,
        None,
        &mut partial,
        1 << 20,
    )
    .unwrap()
    .unwrap();
    assert_eq!(joined.body, "a long line", "Docker's partial lines recombined");
    assert_eq!(
        parse("2026-12-03T10:10:40.000000001Z stdout P first half, ", None, &mut partial, 1 << 20)
            .unwrap(),
        None
    );
    assert_eq!(
        parse("2026-12-03T10:10:40.5Z stderr F other stream", None, &mut partial, 1 << 20)
            .unwrap()
            .unwrap()
            .body,
        "other stream"
    );
    let cri = parse("2026-12-03T10:10:41+00:00 stdout F second half", None, &mut partial, 1 << 20)
        .unwrap()
        .unwrap();
    assert_eq!(cri.body, "first half, second half", "CRI's P lines until an F, per stream");
    assert_eq!(cri.logtag.as_deref(), Some("F"));
    assert_eq!(cri.time_unix_nano, 1_796_292_640_000_000_001, "the first part's time");
    assert!(parse("plain text", None, &mut partial, 1 << 20).is_err());
    let path = Path::new("/var/log/pods/shop_api-7d9_0b1c2d3e-aa/api/3.log");
    let found: Vec<(&str, String)> = path_attributes(path);
    assert_eq!(
        found,
        [
            ("k8s.namespace.name", "shop".to_owned()),
            ("k8s.pod.name", "api-7d9".to_owned()),
            ("k8s.pod.uid", "0b1c2d3e-aa".to_owned()),
            ("k8s.container.name", "api".to_owned()),
            ("k8s.container.restart_count", "3".to_owned()),
        ]
    );
    assert!(path_attributes(Path::new("/tmp/app.log")).is_empty());
    let errors = Settings::parse("include: [a]\noperators: [{type: container, format: podman}, {type: regex_parser, regex: x}, {type: container, colour: red}]").unwrap_err();
    let found: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(found[0], "operators[0].format: \"podman\": expected docker, crio or containerd");
    assert_eq!(
        found[1],
        "operators[1].type: the regex_parser operator is not built in weir yet (container is)"
    );
    assert!(found[2].starts_with("operators[2]: unknown field `colour`"), "{found:?}");
}

#[test]
fn a_line_across_two_reads_is_one_entry() {
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(dir.path(), "start_at: beginning\nforce_flush_period: 0s");
    // 20,000 lines of 100 bytes: more than one read's megabyte, so lines straddle reads
    let line = "x".repeat(99);
    let text: String = (0..20_000).map(|_| format!("{line}\n")).collect();
    append(&dir.path().join("big.log"), &text);
    let mut tracker = Tracker::default();
    let mut count = 0;
    for _ in 0..5 {
        count += poll(&mut tracker, &settings)
            .iter()
            .inspect(|e| assert_eq!(e.len(), "big.log: ".len() + 99, "{e}"))
            .count();
    }
    assert_eq!(count, 20_000);
}
