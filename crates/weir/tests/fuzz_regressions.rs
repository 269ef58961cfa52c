//! Replays every fuzz seed and every input the fuzzers kept (`fuzz/seeds/<target>/`,
//! `fuzz/regressions/<target>/`) through the same entry points `cargo fuzz` runs
//! (`weir::fuzz`): none may panic.

use std::path::Path;

#[test]
fn every_kept_fuzz_input_passes() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for (target, run) in weir::fuzz::TARGETS {
        let mut inputs = 0;
        for kind in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(kind).join(target)) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
                    continue;
                }
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| run(&data));
                assert!(outcome.is_ok(), "{target} panics on {}", path.display());
                inputs += 1;
            }
        }
        assert!(inputs > 0, "{target} has seeds");
        replayed += inputs;
    }
    eprintln!("{replayed} fuzz inputs replayed");
}
