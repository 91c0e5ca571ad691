//! The fast path of a backup: each listed object copied into its file as the API server
//! sent it, less what the server sets, without decoding it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::rules::{self, OwnerRef};
use super::{SERVER_SET_METADATA, made_by_cluster, name, strip_server_set_fields};
use crate::kinds::ResolvedKind;

/// What became of one listed object handed to [`write_stored`].
#[derive(Debug, PartialEq, Eq)]
pub enum Listed {
    /// Written, as the object of this name.
    Written(String),
    /// Left out, with the reason: the cluster makes it itself (see
    /// [`super::generated_by_cluster`]), a controller does (see [`rules::left_out`]), or
    /// it is labelled to be left out.
    Skipped(String, String),
}

/// Writes one object of a LIST response to `out` as it is stored: what
/// [`strip_server_set_fields`] makes of it, without decoding it, unless it is left out.
/// `backed_up` is every kind of this backup, whose controllers' objects are left out.
///
/// A backup handles every object of a cluster once, and decoding each into a [`Value`]
/// (a map and a string per field, all dropped again at once) was most of its own CPU
/// time; here only the object's top level and its metadata are split into fields, and
/// every other value is copied as the API server sent it. A kind with rules of its own
/// (a Service's allocated ports, a Job's generated selector) is decoded.
pub fn write_stored(
    kind: &ResolvedKind,
    raw: &RawValue,
    backed_up: &[ResolvedKind],
    out: &mut Vec<u8>,
) -> serde_json::Result<Listed> {
    if rules::has_rules(kind) {
        let mut object: Value = serde_json::from_str(raw.get())?;
        let name = name(&object).unwrap_or_default().to_string();
        let meta = &object["metadata"];
        let owners: Vec<OwnerRef> = serde_json::from_value(meta["ownerReferences"].clone()).unwrap_or_default();
        let labels: Option<BTreeMap<String, String>> = serde_json::from_value(meta["labels"].clone()).ok();
        if let Some(why) = rules::left_out(&owners, labels.as_ref(), backed_up)
            .or_else(|| rules::left_out_decoded(kind, &object, backed_up))
        {
            return Ok(Listed::Skipped(name, why));
        }
        strip_server_set_fields(&mut object, kind);
        serde_json::to_writer(&mut *out, &object)?;
        return Ok(Listed::Written(name));
    }
    let Fields(fields) = serde_json::from_str(raw.get())?;
    let field = |key: &str| fields.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    let metadata = match field("metadata") {
        Some(raw) => serde_json::from_str::<Fields>(raw.get())?.0,
        None => Vec::new(),
    };
    let name = match metadata.iter().find(|(k, _)| k == "name") {
        Some((_, raw)) => serde_json::from_str::<String>(raw.get())?,
        None => String::new(),
    };
    let type_ = field("type").and_then(|raw| serde_json::from_str::<Cow<str>>(raw.get()).ok());
    if let Some(why) = made_by_cluster(kind, Some(&name), type_.as_deref()) {
        return Ok(Listed::Skipped(name, why.to_string()));
    }
    let meta_field = |key: &str| metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.get());
    let owners: Vec<OwnerRef> = match meta_field("ownerReferences") {
        Some(text) => serde_json::from_str(text)?,
        None => Vec::new(),
    };
    let labels: Option<BTreeMap<String, String>> = match meta_field("labels") {
        Some(text) => Some(serde_json::from_str(text)?),
        None => None,
    };
    if let Some(why) = rules::left_out(&owners, labels.as_ref(), backed_up) {
        return Ok(Listed::Skipped(name, why));
    }
    out.extend_from_slice(b"{\"apiVersion\":");
    serde_json::to_writer(&mut *out, &kind.api_version())?;
    out.extend_from_slice(b",\"kind\":");
    serde_json::to_writer(&mut *out, &kind.kind)?;
    for (key, value) in &fields {
        match key.as_ref() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                out.extend_from_slice(b",\"metadata\":{");
                let kept = metadata
                    .iter()
                    .filter(|(k, _)| !SERVER_SET_METADATA.contains(&k.as_ref()));
                for (i, (key, value)) in kept.enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_field(out, key, value)?;
                }
                out.push(b'}');
            }
            _ => {
                out.push(b',');
                write_field(out, key, value)?;
            }
        }
    }
    out.push(b'}');
    Ok(Listed::Written(name))
}

fn write_field(out: &mut Vec<u8>, key: &str, value: &RawValue) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, key)?;
    out.push(b':');
    out.extend_from_slice(value.get().as_bytes());
    Ok(())
}

/// A JSON object's fields in their order, their values left as the text they were.
struct Fields<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    fields.push((key, map.next_value()?));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// A field name, borrowed from the text unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
