//! The bucket: read as a test checks it, and changed as someone with write access to
//! it could change it (objects put over existing keys, whole runs forged as the backup
//! role could create them).

use serde_json::{Value, json};

use crate::Stack;

/// Puts `bytes` at `key` as a plain write, over whatever is there (a new version).
pub async fn put(stack: &Stack, key: &str, bytes: Vec<u8>) {
    stack
        .s3
        .put_object()
        .bucket(&stack.bucket)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

/// How many versions `key` holds.
pub async fn versions(stack: &Stack, key: &str) -> usize {
    lifeboat::store::Store::new(stack.s3.clone(), &stack.bucket, None)
        .versions(key)
        .await
        .expect("the key's versions list")
        .objects
        .len()
}

/// The key of a run's manifest.
pub fn manifest_key(infrastructure: &str, run: &str) -> String {
    format!("{run}/infra/{infrastructure}/k8s/manifest.json")
}

/// A `v1` `List` of `items`, as a backup stores a file.
pub fn list_of(items: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "apiVersion": "v1", "kind": "List", "items": items })).expect("JSON serialises")
}

/// Writes a run of `infrastructure` at `run` as a forger could: each file, then
/// `manifest` listing them, one version of each key. The manifest's run and
/// infrastructure are made to match; each entry's checksum and size too when `reseal`,
/// or left as given, so the file no longer matches them. Entries lose their version id,
/// as a bucket without versioning gives none.
pub async fn forge_run(
    stack: &Stack,
    infrastructure: &str,
    run: &str,
    mut manifest: Value,
    files: Vec<(Value, Vec<u8>)>,
    reseal: bool,
) {
    manifest["run_path"] = json!(run);
    manifest["infrastructure"] = json!(infrastructure);
    let mut entries = Vec::new();
    for (mut entry, bytes) in files {
        if reseal {
            entry["sha256"] = json!(lifeboat::store::sha256_hex(&bytes));
            entry["size"] = json!(bytes.len());
        }
        entry
            .as_object_mut()
            .expect("an entry is an object")
            .remove("version_id");
        let key = format!(
            "{run}/infra/{infrastructure}/k8s/{}",
            entry["key"].as_str().expect("an entry has a key")
        );
        put(stack, &key, bytes).await;
        entries.push(entry);
    }
    manifest["files"] = json!(entries);
    put(
        stack,
        &manifest_key(infrastructure, run),
        serde_json::to_vec(&manifest).expect("JSON serialises"),
    )
    .await;
}

/// A committed run's manifest, and each of its files' entry and bytes.
pub async fn committed(stack: &Stack, infrastructure: &str, run: &str) -> (Value, Vec<(Value, Vec<u8>)>) {
    let manifest: Value =
        serde_json::from_slice(&stack.read(&manifest_key(infrastructure, run)).await).expect("the manifest is JSON");
    let mut files = Vec::new();
    for entry in manifest["files"].as_array().expect("the manifest lists files") {
        let key = format!(
            "{run}/infra/{infrastructure}/k8s/{}",
            entry["key"].as_str().expect("an entry has a key")
        );
        files.push((entry.clone(), stack.read(&key).await));
    }
    (manifest, files)
}

impl Stack {
    /// Every key under a prefix of the bucket.
    pub async fn keys_under(&self, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            keys.extend(
                page.expect("the bucket lists")
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        keys
    }

    /// Reads an object of the bucket.
    pub async fn read(&self, key: &str) -> Vec<u8> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("read {key}: {e:?}"));
        out.body.collect().await.expect("the body reads").into_bytes().to_vec()
    }
}

/// The objects of a stored file (a `v1` `List`).
pub fn list_items(bytes: Vec<u8>) -> Vec<Value> {
    let list: Value = serde_json::from_slice(&bytes).expect("a stored file is JSON");
    assert_eq!(list["kind"], "List", "a stored file is a List");
    assert_eq!(list["apiVersion"], "v1");
    list["items"].as_array().expect("a List has items").clone()
}
