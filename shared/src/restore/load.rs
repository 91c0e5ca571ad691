//! Reading a file a restore wants: the exact version its manifest records, checked
//! against its SHA-256 before anything of it is used, and each wanted object checked to
//! be of the kind the file is listed as.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::failure::ObjectFailure;
use super::plan::Admitted;
use crate::kinds::ResolvedKind;
use crate::layout::RunLayout;
use crate::manifest::ManifestFile;
use crate::selector::LabelSelector;
use crate::store::Store;

/// One object to restore, out of a verified file, or the reason it cannot be.
pub(super) struct Job<'m> {
    pub file: &'m ManifestFile,
    pub name: &'m str,
    pub kind: ResolvedKind,
    pub object: Result<Value, ObjectFailure>,
}

/// Reads one admitted file and takes out the objects wanted. A file that fails its
/// checksum yields nothing to write: each object wanted from it fails with the reason.
pub(super) async fn load<'m>(
    store: &Store,
    layout: &RunLayout,
    admitted: Admitted<'m>,
    selector: Option<&LabelSelector>,
) -> Vec<Job<'m>> {
    let Admitted { file, names, kind } = admitted;
    let job = |name: &'m str, object| Job {
        file,
        name,
        kind: kind.clone(),
        object,
    };
    let mut unselected: Vec<String> = Vec::new();
    let mut by_name: HashMap<String, Result<Value, ObjectFailure>> =
        match crate::manifest::read_file(store, layout, file).await {
            Ok(items) => {
                let mut found = HashMap::new();
                for item in items {
                    let Some(name) = crate::object::name(&item).map(str::to_string) else {
                        continue;
                    };
                    if !names.contains(&name.as_str()) {
                        continue;
                    }
                    // An object the label selector does not take is not wanted: not written,
                    // not reported. A tenant's Namespace comes along whatever its labels.
                    if let Some(selector) = selector
                        && kind != ResolvedKind::namespace()
                    {
                        let labels = serde_json::from_value(item["metadata"]["labels"].clone()).unwrap_or_default();
                        if !selector.matches(&labels) {
                            unselected.push(name);
                            continue;
                        }
                    }
                    let checked = if found.contains_key(&name) {
                        Err(ObjectFailure::Duplicate {
                            key: file.key.clone(),
                            name: name.clone(),
                        })
                    } else {
                        of_listed_kind(file, item)
                    };
                    found.insert(name, checked);
                }
                found
            }
            Err(failure) => {
                let failure = Arc::new(failure);
                return names
                    .into_iter()
                    .map(|name| job(name, Err(ObjectFailure::File(failure.clone()))))
                    .collect();
            }
        };
    names
        .into_iter()
        .filter(|name| !unselected.iter().any(|u| u == name))
        .map(|name| {
            let object = by_name
                .remove(name)
                .unwrap_or_else(|| Err(ObjectFailure::NotInFile { key: file.key.clone() }));
            job(name, object)
        })
        .collect()
}

/// The object, if it says it is of the kind its file is listed as: a file holds one
/// kind, and an object of another (a ClusterRoleBinding in a tenant's Secrets, say)
/// would be written with the rights of the kind the request allowed.
fn of_listed_kind(file: &ManifestFile, object: Value) -> Result<Value, ObjectFailure> {
    let said = |field| object.get(field).and_then(Value::as_str).unwrap_or_default();
    if said("apiVersion") == file.api_version && said("kind") == file.kind {
        Ok(object)
    } else {
        Err(ObjectFailure::OtherKind {
            key: file.key.clone(),
            said_version: said("apiVersion").to_string(),
            said_kind: said("kind").to_string(),
            api_version: file.api_version.clone(),
            kind: file.kind.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets_file() -> ManifestFile {
        ManifestFile {
            key: "namespaces/billing/secrets.json".into(),
            api_version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("billing".into()),
            sha256: String::new(),
            size: 0,
            version_id: None,
            objects: vec!["db".into()],
            skipped: Vec::new(),
        }
    }

    #[test]
    fn an_object_of_another_kind_than_its_file_is_refused() {
        let binding = json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": { "name": "db" },
            "roleRef": { "kind": "ClusterRole", "name": "cluster-admin" },
        });
        let refused = of_listed_kind(&secrets_file(), binding).unwrap_err();
        assert!(
            matches!(&refused, ObjectFailure::OtherKind { said_kind, .. } if said_kind == "ClusterRoleBinding"),
            "{refused:?}"
        );
        let said = refused.to_string();
        assert!(
            said.contains("\"ClusterRoleBinding\"") && said.contains("not the v1 Secret"),
            "{said}"
        );
        let unnamed = json!({ "metadata": { "name": "db" }, "data": {} });
        assert!(matches!(
            of_listed_kind(&secrets_file(), unnamed),
            Err(ObjectFailure::OtherKind { said_kind, .. }) if said_kind.is_empty()
        ));
        let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db" } });
        assert!(of_listed_kind(&secrets_file(), secret).is_ok());
    }
}
