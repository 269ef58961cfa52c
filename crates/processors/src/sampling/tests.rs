use super::*;

/// The specification's table: probability → `th` at precisions 3, 4 and 5.
const VECTORS: [(f64, [&str; 3]); 8] = [
    (1.0, ["0", "0", "0"]),
    (0.5, ["8", "8", "8"]),
    (1.0 / 3.0, ["aab", "aaab", "aaaab"]),
    (0.25, ["c", "c", "c"]),
    (0.1, ["e66", "e666", "e6666"]),
    (0.01, ["fd71", "fd70a", "fd70a4"]),
    (0.001, ["ffbe7", "ffbe77", "ffbe76d"]),
    (1e-6, ["ffffef4", "ffffef39", "ffffef391"]),
];

#[test]
fn thresholds_encode_as_the_specification_table() {
    for (p, expected) in VECTORS {
        for (precision, th) in [3u8, 4, 5].into_iter().zip(expected) {
            let threshold = Threshold::from_probability(p, precision).unwrap();
            assert_eq!(threshold.encode(), th, "p = {p}, precision {precision}");
            assert_eq!(Threshold::parse(th), Some(threshold), "{th} round-trips");
        }
    }
}

#[test]
fn adjusted_counts_follow_the_threshold() {
    // the specification table's exact adjusted counts at precision 4
    let cases = [
        ("0", 1.0),
        ("8", 2.0),
        ("c", 4.0),
        ("aaab", 3.000_045_777_065_69),
        ("e666", 9.999_389_685_688_13),
        ("fd70a", 99.997_711_234_026_33),
        ("ffbe77", 1_000.012_874_769_029),
        ("ffffef39", 999_992.385_564_61),
    ];
    for (th, count) in cases {
        let adjusted = Threshold::parse(th).unwrap().adjusted_count();
        assert!((adjusted - count).abs() / count < 1e-12, "{th}: {adjusted} vs {count}");
    }
}

#[test]
fn the_specification_example_randomness_is_kept_at_half_and_dropped_at_a_quarter() {
    let r = Randomness::parse("9b8233f7e3a151").unwrap();
    assert!(Threshold::parse("8").unwrap().keeps(r));
    assert!(!Threshold::parse("c").unwrap().keeps(r));
}

#[test]
fn parsing_is_strict() {
    for bad in ["", "0123456789abcde", "ABC", "xyz", "8 "] {
        assert_eq!(Threshold::parse(bad), None, "{bad:?}");
    }
    assert_eq!(Threshold::parse("1").unwrap().value(), 1 << 52, "padded on the right");
    assert_eq!(Randomness::parse("9b8233f7e3a15"), None, "rv is exactly 14 digits");
    assert_eq!(Randomness::parse("9B8233F7E3A151"), None, "lowercase only");
}

#[test]
fn randomness_is_the_low_56_bits_of_the_trace_id() {
    let mut id = [0u8; 16];
    id[9..].copy_from_slice(&[0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde]);
    id[0] = 0xff;
    assert_eq!(Randomness::from_trace_id(&id).unwrap().value(), 0x12_3456_789a_bcde);
    assert_eq!(Randomness::from_trace_id(&[0u8; 16]), None, "all zeros has no randomness");
    // rv wins over the trace id
    let read = incoming("ot=rv:00000000000001", &id);
    assert_eq!(read.randomness.unwrap().value(), 1);
}

#[test]
fn tracestate_edits_keep_other_sub_keys_and_vendors() {
    let state = "vendor=abc,ot=rv:9b8233f7e3a151;th:8;xx:yy,other=1";
    let edited = with_threshold(state, Some(Threshold::parse("c").unwrap()));
    assert_eq!(edited, "ot=th:c;rv:9b8233f7e3a151;xx:yy,vendor=abc,other=1");
    assert_eq!(ot_state(&edited).th, Some("c"));
    assert_eq!(with_threshold("ot=th:8", None), "");
    assert_eq!(with_threshold("a=b,ot=th:8;rv:00000000000001", None), "ot=rv:00000000000001,a=b");
    assert_eq!(with_threshold("", Some(Threshold::ALWAYS)), "ot=th:0");
}

#[test]
fn inconsistent_and_malformed_thresholds_are_erased() {
    let mut id = [0u8; 16];
    id[9] = 0x10; // randomness 0x10000000000000 = 1/16 of the space
    assert_eq!(incoming("ot=th:8", &id).erased, Some("inconsistent"));
    assert_eq!(incoming("ot=th:zz", &id).erased, Some("malformed"));
    let ok = incoming("ot=th:08", &id);
    assert_eq!((ok.threshold, ok.erased), (Threshold::parse("08"), None));
}

#[test]
fn proportional_multiplies_and_never_lowers() {
    // 50 % after an incoming 25 % gives 12.5 %
    let incoming = Threshold::parse("c").unwrap();
    assert_eq!(incoming.proportional(0.5, 4).unwrap().encode(), "e");
    assert!(incoming.proportional(1.0, 4).unwrap() >= incoming);
}
