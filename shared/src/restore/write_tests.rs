//! The writer against a stand-in API server, for what the local stack's (1.20, which
//! ignores `fieldValidation`) cannot show and for the requests a write must never send.

use super::*;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// A stand-in for an API server: it records each request's method and path and gives
/// the answers it was handed, in turn.
fn stand_in(answers: Vec<(u16, &'static str)>) -> (Client, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    let log = seen.clone();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        log.lock()
            .unwrap()
            .push(format!("{} {}", request.method(), request.uri()));
        // A request beyond the script is answered 500, and the test reads it in the log.
        let (code, body) = answers.lock().unwrap().pop_front().unwrap_or((500, "{}"));
        async move {
            http::Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(kube::client::Body::from(body.as_bytes().to_vec()))
        }
    });
    (Client::new(service, "default"), seen)
}

fn config_maps() -> ResolvedKind {
    ResolvedKind::new("", "v1", "ConfigMap", "configmaps", true)
}

fn config_map() -> Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app", "namespace": "tenant"},
        "data": {"key": "value"},
        "binaryData2": {"from": "a newer cluster"},
    })
}

/// What an API server from 1.25 on answers a strict write with a field it does not know.
const UNKNOWN_FIELD: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"binaryData2\"",
    "reason":"BadRequest","code":400}"#;

/// What an API server answers a replace of an immutable object.
const IMMUTABLE: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"field is immutable","reason":"Invalid","code":422}"#;

const GONE: &str =
    r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not found","reason":"NotFound","code":404}"#;

#[tokio::test]
async fn creates_and_replaces_ask_the_api_server_to_refuse_fields_it_does_not_know() {
    let (client, seen) = stand_in(vec![(201, "{}"), (200, "{}")]);
    let api = Target::new(&client, &config_maps(), Some("tenant"));
    create(&api, &config_map(), false).await.unwrap();
    replace(&api, &config_maps(), "app", config_map(), Some("7".into()), false)
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "POST /api/v1/namespaces/tenant/configmaps?fieldValidation=Strict",
            "PUT /api/v1/namespaces/tenant/configmaps/app?fieldValidation=Strict",
        ]
    );
}

#[tokio::test]
async fn a_name_is_sent_as_one_encoded_path_segment_never_as_a_path() {
    let roles = ResolvedKind::new("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false);
    let (client, seen) = stand_in(vec![(200, "{}"), (404, GONE)]);
    let api = Target::new(&client, &roles, None);
    api.send(&config_map(), Some("system:a b/../../x"), false)
        .await
        .unwrap();
    assert_eq!(api.get("../secrets").await.unwrap(), None);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "PUT /apis/rbac.authorization.k8s.io/v1/clusterroles/system:a%20b%2F..%2F..%2Fx?fieldValidation=Strict",
            "GET /apis/rbac.authorization.k8s.io/v1/clusterroles/..%2Fsecrets",
        ]
    );
}

#[tokio::test]
async fn an_object_with_a_field_the_cluster_does_not_know_fails_and_the_clusters_copy_is_kept() {
    let (client, seen) = stand_in(vec![(400, UNKNOWN_FIELD), (400, UNKNOWN_FIELD)]);
    let api = Target::new(&client, &config_maps(), Some("tenant"));
    let created = create(&api, &config_map(), false).await.unwrap_err();
    let replaced = replace(&api, &config_maps(), "app", config_map(), Some("7".into()), false)
        .await
        .unwrap_err();
    for (failure, write) in [(created, "create"), (replaced, "replace")] {
        assert!(
            matches!(&failure, ObjectFailure::UnknownFields { write: w, .. } if *w == write),
            "{failure:?}"
        );
        let reason = failure.to_string();
        assert!(
            reason.starts_with(&format!(
                "{write} refused: the cluster does not know some of the object's fields"
            )) && reason.contains(r#"unknown field "binaryData2""#)
                && reason.contains("restore into a cluster that serves them"),
            "{reason}"
        );
    }
    // No DELETE: the refusal would only repeat after one, with the cluster's copy gone.
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "POST /api/v1/namespaces/tenant/configmaps?fieldValidation=Strict",
            "PUT /api/v1/namespaces/tenant/configmaps/app?fieldValidation=Strict",
        ]
    );
}

#[tokio::test]
async fn an_object_that_cannot_change_in_place_is_created_again_with_the_same_validation() {
    let (client, seen) = stand_in(vec![(422, IMMUTABLE), (200, "{}"), (404, GONE), (201, "{}")]);
    let api = Target::new(&client, &config_maps(), Some("tenant"));
    let how = replace(&api, &config_maps(), "app", config_map(), Some("7".into()), false)
        .await
        .unwrap();
    assert_eq!(
        how.as_deref(),
        Some("it cannot change in place (field is immutable), so it was deleted and created again")
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen[1].starts_with("DELETE /api/v1/namespaces/tenant/configmaps/app"),
        "{seen:?}"
    );
    assert_eq!(
        seen[3],
        "POST /api/v1/namespaces/tenant/configmaps?fieldValidation=Strict"
    );
}

#[tokio::test]
async fn a_namespace_or_a_workload_that_cannot_change_in_place_is_never_deleted() {
    let deployments = ResolvedKind::new("apps", "v1", "Deployment", "deployments", true);
    for kind in [ResolvedKind::namespace(), deployments] {
        let (client, seen) = stand_in(vec![(422, IMMUTABLE)]);
        let api = Target::new(&client, &kind, Some("tenant"));
        let refused = replace(&api, &kind, "billing", config_map(), Some("7".into()), false)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, ObjectFailure::NotRecreatable { kind: k, .. } if *k == kind.kind),
            "{refused:?}"
        );
        let refused = refused.to_string();
        assert!(
            refused.contains("would take what belongs to it along") && refused.contains("left as it is"),
            "{refused}"
        );
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{} sent more than its PUT: {seen:?}", kind.kind);
        assert!(seen[0].starts_with("PUT "), "{seen:?}");
    }
}

#[tokio::test]
async fn a_dry_run_sends_its_writes_for_the_api_server_to_check_and_not_keep() {
    let (client, seen) = stand_in(vec![(201, "{}"), (200, "{}"), (400, UNKNOWN_FIELD)]);
    let api = Target::new(&client, &config_maps(), Some("tenant"));
    create(&api, &config_map(), true).await.unwrap();
    assert_eq!(
        replace(&api, &config_maps(), "app", config_map(), Some("7".into()), true)
            .await
            .unwrap(),
        None
    );
    // What the cluster would refuse, a dry run reports as the restore would.
    let refused = create(&api, &config_map(), true).await.unwrap_err();
    assert!(
        matches!(refused, ObjectFailure::UnknownFields { write: "create", .. }),
        "{refused:?}"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "POST /api/v1/namespaces/tenant/configmaps?&dryRun=All&fieldValidation=Strict",
            "PUT /api/v1/namespaces/tenant/configmaps/app?&dryRun=All&fieldValidation=Strict",
            "POST /api/v1/namespaces/tenant/configmaps?&dryRun=All&fieldValidation=Strict",
        ]
    );
}

#[tokio::test]
async fn a_dry_run_says_an_object_that_cannot_change_in_place_would_be_created_again_and_deletes_nothing() {
    let (client, seen) = stand_in(vec![(422, IMMUTABLE)]);
    let api = Target::new(&client, &config_maps(), Some("tenant"));
    let how = replace(&api, &config_maps(), "app", config_map(), Some("7".into()), true)
        .await
        .unwrap();
    assert_eq!(
        how.as_deref(),
        Some("it cannot change in place (field is immutable); it would be deleted and created again")
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["PUT /api/v1/namespaces/tenant/configmaps/app?&dryRun=All&fieldValidation=Strict"]
    );
}

#[test]
fn a_dry_run_leaves_unchecked_what_needs_a_namespace_or_definition_it_would_create_first() {
    let result = |kind: &str, name: &str, tenant: Option<&str>, target: Option<&str>, action| ObjectResult {
        tenant: tenant.map(Into::into),
        target_namespace: target.map(Into::into),
        kind: kind.into(),
        name: name.into(),
        action,
        reason: None,
    };
    let first = CreatedFirst::default();
    first.note(&[
        result(
            "Namespace",
            "billing",
            Some("billing"),
            Some("billing-dr"),
            Action::WouldCreate,
        ),
        result("Namespace", "payroll", Some("payroll"), None, Action::Unchanged),
    ]);
    first.note_definition(&serde_json::json!({
        "metadata": { "name": "widgets.example.com" },
        "spec": { "group": "example.com", "names": { "kind": "Widget", "plural": "widgets" } },
    }));
    assert_eq!(
        first.unchecked(Some("billing-dr")).as_deref(),
        Some("not checked by the cluster: the restore would create the namespace billing-dr first")
    );
    assert_eq!(first.unchecked(Some("billing")), None);
    assert_eq!(first.unchecked(Some("payroll")), None);
    assert_eq!(
        first.definition_of("example.com", "Widget").as_deref(),
        Some("widgets.example.com")
    );
    assert_eq!(first.definition_of("example.com", "Gadget"), None);
}
