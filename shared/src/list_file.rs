//! The stored file format, shared by backup and restore: a Kubernetes `v1` `List` of
//! the objects of one kind in one tenant (or cluster-wide), one object a line, which
//! `kubectl apply -f` takes as it is; and the LIST pages it is built from.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::kinds::ResolvedKind;
use crate::layout::RunLayout;
use crate::manifest::ManifestFile;
use crate::object::{Listed, write_stored};
use crate::store::{StoreError, Upload};

/// One stored file being built: a `v1` `List` written one object a line, which
/// `kubectl apply -f` accepts as it is.
pub(crate) struct ListFile<'a> {
    pub(crate) upload: Upload<'a>,
    pub(crate) names: Vec<String>,
}

impl<'a> ListFile<'a> {
    pub(crate) fn new(mut upload: Upload<'a>) -> Self {
        upload
            .buffer()
            .extend_from_slice(b"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\n");
        Self {
            upload,
            names: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, object: &Value) {
        let buffer = self.upload.buffer();
        if !self.names.is_empty() {
            buffer.extend_from_slice(b",\n");
        }
        serde_json::to_writer(&mut *buffer, object).expect("a JSON value always serialises");
        self.names
            .push(crate::object::name(object).unwrap_or_default().to_string());
    }

    /// Adds one object of a LIST page, unless it is left out (see [`write_stored`]);
    /// `backed_up` is every kind of the backup.
    pub(crate) fn push_listed(
        &mut self,
        kind: &ResolvedKind,
        object: &RawValue,
        backed_up: &[ResolvedKind],
    ) -> serde_json::Result<Listed> {
        let buffer = self.upload.buffer();
        let mark = buffer.len();
        if !self.names.is_empty() {
            buffer.extend_from_slice(b",\n");
        }
        let listed = write_stored(kind, object, backed_up, buffer);
        match &listed {
            Ok(Listed::Written(name)) => self.names.push(name.clone()),
            // Nothing of a skipped or unreadable object stays, not even its separator.
            _ => buffer.truncate(mark),
        }
        listed
    }

    pub(crate) async fn abandon(self) {
        self.upload.abort().await;
    }

    pub(crate) async fn finish(
        mut self,
        layout: &RunLayout,
        kind: &ResolvedKind,
        tenant: Option<&str>,
    ) -> std::result::Result<ManifestFile, StoreError> {
        self.upload.buffer().extend_from_slice(b"\n]}\n");
        let key = self.upload_key(layout, kind, tenant);
        let stored = self.upload.finish().await?;
        Ok(ManifestFile {
            key,
            api_version: kind.api_version(),
            kind: kind.kind.clone(),
            namespace: tenant.map(str::to_string),
            sha256: stored.sha256,
            size: stored.size,
            version_id: stored.version_id,
            objects: self.names,
            skipped: Vec::new(),
        })
    }

    fn upload_key(&self, layout: &RunLayout, kind: &ResolvedKind, tenant: Option<&str>) -> String {
        let full = if *kind == ResolvedKind::namespace() {
            layout.namespaces_key()
        } else {
            layout.kind_key(kind, tenant)
        };
        full[layout.prefix().len()..].to_string()
    }
}

/// The wire form of one LIST page. Stored objects stay the text the API server sent
/// (`&RawValue`, see `write_stored`); the few a run reads rather than stores, its
/// namespaces, are decoded (`Value`).
#[derive(serde::Deserialize)]
pub(crate) struct Page<'a, T> {
    #[serde(default, borrow)]
    pub(crate) metadata: PageMeta<'a>,
    // Named, as plain `default` would ask `T` for a default too.
    #[serde(default = "Vec::new")]
    pub(crate) items: Vec<T>,
}

#[derive(Default, serde::Deserialize)]
pub(crate) struct PageMeta<'a> {
    #[serde(default, rename = "continue", borrow)]
    continue_: Option<std::borrow::Cow<'a, str>>,
}

impl PageMeta<'_> {
    /// The token for the next page; none, or an empty one, on the last.
    pub(crate) fn next(self) -> Option<String> {
        self.continue_.filter(|t| !t.is_empty()).map(|t| t.into_owned())
    }
}

/// The response text of one page of a LIST of a kind in a namespace (or cluster-wide).
pub(crate) async fn list_page_text(
    client: &kube::Client,
    kind: &ResolvedKind,
    namespace: Option<&str>,
    limit: u32,
    token: Option<&str>,
) -> Result<String, kube::Error> {
    let path = crate::names::collection_path(kind, namespace);
    let mut params = kube::api::ListParams::default().limit(limit);
    if let Some(t) = token {
        params = params.continue_token(t);
    }
    let request = kube::core::Request::new(path)
        .list(&params)
        .map_err(kube::Error::BuildRequest)?;
    client.request_text(request).await
}
