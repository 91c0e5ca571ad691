//! The benchmark (`bash infra/bench.sh`) at a tiny size, so that it never rots: it runs
//! every step against the local stack and prints its table and JSON. No figure is
//! judged here; speed and memory targets live in the benchmark's own output.

use std::path::Path;
use std::process::Command;

use lifeboat_tests::unique;
use serde_json::Value;

#[test]
fn the_benchmark_runs_every_step_and_prints_one_table_and_the_same_figures_as_json() {
    // The benchmark is a crate of its own (`bench/`), built by the workspace build that
    // `infra/test.sh` runs first; it and the function binaries of this build sit in the
    // folder above this test binary's `deps/`.
    let this = std::env::current_exe().expect("the test binary knows its path");
    let bin_dir = this
        .parent()
        .and_then(Path::parent)
        .expect("a test binary sits in <target>/<profile>/deps");
    let bench = bin_dir.join("bench");
    assert!(
        bench.is_file(),
        "{} is missing: build the workspace first (`cargo build --workspace --all-targets`, as infra/test.sh does)",
        bench.display()
    );
    let work_dir = bin_dir.join("bench-smoke").join(unique("run"));
    std::fs::create_dir_all(&work_dir).expect("the work dir is writable");
    let json = work_dir.join("results.json");
    let output = Command::new(&bench)
        .args([
            "--profile",
            "tiny",
            // Two repetitions, so that each ratio's spread over them is printed; kubectl
            // runs in the first only, as a full run may ask.
            "--reps",
            "2",
            "--script-reps",
            "1",
            "--apply-reps",
            "1",
            "--delete-tenants",
            "--tenant-prefix",
        ])
        .arg(unique("bench-smoke"))
        .arg("--bin-dir")
        .arg(bin_dir)
        .arg("--work-dir")
        .arg(&work_dir)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("the benchmark starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the benchmark failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for heading in [
        "| step",
        "wall s",
        "x floor",
        "peak RSS MiB",
        "S3 requests",
        "S3 writes",
        "S3 MB written",
    ] {
        assert!(
            stdout.contains(heading),
            "the table has no column '{heading}':\n{stdout}"
        );
    }

    let results: Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the JSON is written")).expect("the JSON parses");
    assert_eq!(results["profile"], "tiny");
    assert_eq!(results["objects"], 12, "2 tenants x (3 Secrets + 3 ConfigMaps)");
    let rows = results["rows"].as_array().expect("rows are a list");
    let steps: Vec<&str> = rows.iter().filter_map(|r| r["step"].as_str()).collect();
    assert_eq!(
        steps,
        [
            "floor-all-namespaces",
            "floor-tenants",
            "backup",
            "script",
            "restore",
            "create-floor",
            "apply"
        ]
    );
    for row in rows {
        let wall = row["wall_s"].as_f64().expect("every step has a wall time");
        assert!(wall.is_finite() && wall > 0.0, "{row}");
        assert!(row["x_floor"].as_f64().is_some_and(f64::is_finite), "{row}");
        assert!(
            stdout.contains(row["what"].as_str().expect("named")),
            "the table lacks {row}"
        );
    }
    let step = |name: &str| rows.iter().find(|r| r["step"] == name).expect("the step is there");
    assert!(step("backup")["peak_rss_mib"].as_f64().is_some_and(|m| m > 1.0));
    assert!(step("restore")["peak_rss_mib"].as_f64().is_some_and(|m| m > 1.0));
    assert!(step("backup")["s3_writes"].as_u64().is_some_and(|n| n >= 1));
    assert_eq!(step("script")["s3_writes"], 2, "one upload per namespace");
    // Every request to the bucket, reads as well: what S3 bills a run for.
    let requests = |name: &str| {
        step(name)["s3_requests"]
            .as_u64()
            .unwrap_or_else(|| panic!("{results}"))
    };
    assert!(
        requests("backup") > step("backup")["s3_writes"].as_u64().expect("counted"),
        "the backup also reads whether its run is committed: {results}"
    );
    assert!(requests("script") >= 2, "{results}");
    // The restore reads each of the 2 x 2 stored files and the manifest, and writes
    // nothing.
    assert!(requests("restore") >= 5, "{results}");
    assert_eq!(
        step("restore")["s3_writes"],
        0,
        "a restore writes nothing to the bucket"
    );
    // Where each step's CPU time went, by process (counted in ticks of 10 ms, so a
    // tiny step may show none).
    assert!(stdout.contains("CPU seconds by process"), "{stdout}");
    for row in rows {
        let cpu = &row["cpu_s"];
        for process in ["client", "kube_apiserver", "etcd", "aws_emulator"] {
            assert!(cpu[process].as_f64().is_some_and(|s| s >= 0.0), "{row}");
        }
    }
    assert!(
        step("backup")["cpu_s"]["client"].as_f64().is_some_and(|s| s > 0.0),
        "the function's own CPU time is counted"
    );
    for function in ["backup", "restore"] {
        assert!(
            results["cold_start_ms"][function].as_f64().is_some_and(|ms| ms > 0.0),
            "{results}"
        );
    }
    // The restore beside its own floor, and the bound that floor puts on the ratio.
    assert!(stdout.contains("restore against its floor"), "{stdout}");
    assert!(
        results["restore_concurrency"].as_u64().is_some_and(|c| c >= 1),
        "{results}"
    );
    for ratio in ["restore_x_create_floor", "apply_x_create_floor"] {
        assert!(
            results[ratio].as_f64().is_some_and(|x| x.is_finite() && x > 0.0),
            "{results}"
        );
    }
    let targets = results["targets"].as_array().expect("targets are a list");
    assert!(targets.len() >= 7, "{results}");
    assert!(
        targets
            .iter()
            .all(|t| t["met"].is_boolean() && t["measured"].is_string())
    );

    // A ratio target carries its ratio in each repetition that ran both of its steps,
    // worked out from those steps' own runs; with more than one, the table shows their
    // spread beside the median.
    let numbers = |list: &Value| -> Vec<f64> {
        list.as_array()
            .unwrap_or_else(|| panic!("not a list: {list}"))
            .iter()
            .map(|n| n.as_f64().unwrap_or_else(|| panic!("not a number: {n}")))
            .collect()
    };
    let runs = |name: &str| numbers(&step(name)["runs_s"]);
    let target = |starts: &str| {
        targets
            .iter()
            .find(|t| t["target"].as_str().is_some_and(|n| n.starts_with(starts)))
            .unwrap_or_else(|| panic!("no target '{starts}': {results}"))
    };
    let per_repetition = |t: &Value| numbers(&t["per_repetition"]);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
    let (backup, floor, floor_all) = (runs("backup"), runs("floor-tenants"), runs("floor-all-namespaces"));
    assert_eq!(backup.len(), 2, "{results}");
    let backup_target = target("backup wall time at most 2x the floor");
    let by_repetition = per_repetition(backup_target);
    assert_eq!(by_repetition.len(), 2, "{backup_target}");
    for (i, x) in by_repetition.iter().enumerate() {
        assert!(close(*x, backup[i] / floor[i].min(floor_all[i])), "{backup_target}");
    }
    assert!(
        stdout.contains(&format!(
            "{}: {}",
            backup_target["target"].as_str().expect("named"),
            backup_target["measured"].as_str().expect("measured")
        )) && backup_target["measured"]
            .as_str()
            .is_some_and(|m| m.contains("by repetition")),
        "the table shows the backup's spread:\n{stdout}"
    );
    let (apply, restore) = (runs("apply"), runs("restore"));
    assert_eq!(
        (apply.len(), restore.len()),
        (1, 2),
        "kubectl ran in the first repetition only"
    );
    let restore_target = target("restore at least 5x faster");
    assert_eq!(per_repetition(restore_target).len(), 1, "{restore_target}");
    assert!(
        close(per_repetition(restore_target)[0], apply[0] / restore[0]),
        "{restore_target}"
    );
    assert!(
        !restore_target["measured"]
            .as_str()
            .is_some_and(|m| m.contains("by repetition")),
        "one repetition has no spread to show: {restore_target}"
    );
    let script_target = target("backup at least 20x faster");
    assert!(
        close(per_repetition(script_target)[0], runs("script")[0] / backup[0]),
        "{script_target}"
    );
    assert!(
        target("backup peak RSS").get("per_repetition").is_none(),
        "only ratios of steps carry one: {results}"
    );
}
