//! Why one object of a restore was not written. Each failure is recorded in the report
//! against its object, in words that say what to do, and the restore goes on.

use std::sync::Arc;

pub(crate) use crate::manifest::FileFailure;

/// Why one object was not written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ObjectFailure {
    /// Its file failed; shared by every object wanted from it.
    #[error(transparent)]
    File(Arc<FileFailure>),
    #[error("{key} holds two objects named {name:?}, where a backup stores each once; neither was written")]
    Duplicate { key: String, name: String },
    #[error("the manifest lists it in {key} but the file does not hold it")]
    NotInFile { key: String },
    /// The object says it is of another kind than its file: it would be written with the
    /// rights of the kind the request allowed.
    #[error(
        "the object in {key} says it is {said_version:?} {said_kind:?}, not the {api_version} {kind} the file is \
         listed as; it was not written"
    )]
    OtherKind {
        key: String,
        said_version: String,
        said_kind: String,
        api_version: String,
        kind: String,
    },
    /// The cluster does not know some fields and, asked for strict validation, refused
    /// rather than drop them.
    #[error(
        "{write} refused: the cluster does not know some of the object's fields and would drop them ({message}); \
         restore into a cluster that serves them (a newer Kubernetes version, or the custom resource definition \
         as backed up)"
    )]
    UnknownFields { write: &'static str, message: String },
    #[error("{write} failed: {source}")]
    Write { write: &'static str, source: kube::Error },
    /// A write whose answer was lost, after which the cluster does not hold the object
    /// as backed up.
    #[error(
        "the cluster's answer to the {write} was lost ({source}) and, read back, the object is not as backed up: \
         restore again"
    )]
    AnswerLost { write: &'static str, source: kube::Error },
    #[error("cannot read {what}: {source}")]
    Read { what: String, source: kube::Error },
    #[error(
        "it cannot change in place ({message}), and deleting a {kind} to create it again would take what belongs \
         to it along; it was left as it is: delete it yourself and restore again to replace it"
    )]
    NotRecreatable { message: String, kind: String },
    #[error("'{name}' is still being deleted after {seconds}s; restore again once it is gone")]
    StillDeleting { name: String, seconds: u64 },
    #[error("the definition '{name}' was created but not established within {seconds}s; its custom resources may fail")]
    NotEstablished { name: String, seconds: u64 },
}

impl ObjectFailure {
    /// The failure of a create, replace or delete the cluster refused.
    pub(crate) fn of_write(write: &'static str, error: kube::Error) -> Self {
        match error {
            kube::Error::Api(status) if status.code == 400 && status.message.contains("strict decoding error") => {
                Self::UnknownFields {
                    write,
                    message: status.message,
                }
            }
            source => Self::Write { write, source },
        }
    }
}
