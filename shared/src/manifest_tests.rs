//! Manifest verification: which versions of a manifest key are trusted, and which bytes
//! are the manifest of the run at their key.

use super::*;
use serde_json::{Value, json};

fn manifest(run_path: &str, infrastructure: &str) -> Value {
    json!({
        "format_version": FORMAT_VERSION,
        "infrastructure": infrastructure, "cluster": "prod-eks", "region": "us-east-1",
        "run_path": run_path, "run_time": "2026-11-22T13:00:00Z",
        "started_at": "2026-11-22T13:00:01Z", "finished_at": "2026-11-22T13:00:09Z",
        "settings": { "IsEnabled": true, "IntervalInHours": 1, "K8sResourceKinds": ["Secret"] },
        "kinds": [], "tenants": ["billing"], "status": "Completed", "errors": [],
        "files": [{ "key": "namespaces/billing/secrets.json", "api_version": "v1", "kind": "Secret",
                    "namespace": "billing", "sha256": "00", "size": 2, "version_id": "v7", "objects": ["db"] }],
    })
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

#[test]
fn only_a_key_with_exactly_one_version_and_no_delete_marker_is_read() {
    let v = |id: &str| Some(id.to_string());
    assert_eq!(held(&[], 0), Held::Nothing);
    assert_eq!(held(&[v("a")], 0), Held::One(v("a")));
    assert_eq!(held(&[None], 0), Held::One(None), "an unversioned bucket's one object");
    assert_eq!(held(&[v("b"), v("a")], 0), Held::Rewritten, "written over");
    assert_eq!(held(&[v("a")], 1), Held::Rewritten, "deleted, then the deletion hidden");
    assert_eq!(held(&[], 1), Held::Rewritten, "deleted");
}

#[test]
fn the_manifest_of_the_run_at_its_key_is_read() {
    let read = verified(
        &bytes(&manifest("2026/11/22/130000", "prod")),
        "2026/11/22/130000",
        "prod",
    )
    .unwrap();
    assert_eq!(read.object_count(), 1);
    assert_eq!(read.files[0].version_id.as_deref(), Some("v7"));
}

#[test]
fn a_manifest_of_another_run_or_infrastructure_is_refused() {
    let at_key = ("2026/11/22/130000", "prod");
    for (run_path, infrastructure) in [("2026/11/22/120000", "prod"), ("2026/11/22/130000", "staging")] {
        let refused = verified(&bytes(&manifest(run_path, infrastructure)), at_key.0, at_key.1).unwrap_err();
        assert_eq!(
            refused,
            Unusable::OtherRun {
                run_path: run_path.into(),
                infrastructure: infrastructure.into()
            }
        );
    }
}

#[test]
fn another_format_or_what_is_no_manifest_is_refused_with_what_to_do() {
    let mut old = manifest("2026/11/22/130000", "prod");
    old["format_version"] = json!(1);
    let refused = verified(&bytes(&old), "2026/11/22/130000", "prod").unwrap_err();
    assert_eq!(refused, Unusable::Format(1));
    assert!(
        refused
            .to_string()
            .contains("restore it with the lifeboat release that wrote it")
    );
    for junk in [b"{".to_vec(), b"[]".to_vec(), bytes(&json!({ "format_version": 2 }))] {
        assert!(
            matches!(
                verified(&junk, "2026/11/22/130000", "prod"),
                Err(Unusable::NotAManifest(_))
            ),
            "{}",
            String::from_utf8_lossy(&junk)
        );
    }
}
