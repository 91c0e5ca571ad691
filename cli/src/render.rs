//! The catalog's answers as tables for people; `--json` prints them as they come.

use std::fmt::Write;

use serde_json::Value;

/// The answer as text, by its action.
pub fn render(answer: &Value) -> String {
    match answer["action"].as_str() {
        Some("list") => list(answer),
        Some("describe") => describe(answer),
        Some("history") => history(answer),
        Some("diff") => diff(answer),
        _ => format!("{answer:#}\n"),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(items) => items.iter().map(s).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let text: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", text.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
    out
}

fn list(a: &Value) -> String {
    let backups = a["backups"].as_array().cloned().unwrap_or_default();
    let mut out = format!("Backups of {} in s3://{}\n", s(&a["infrastructure"]), s(&a["bucket"]));
    if backups.is_empty() {
        out.push_str("none in this range\n");
        return out;
    }
    let rows: Vec<Vec<String>> = backups
        .iter()
        .map(|b| {
            vec![
                s(&b["backup"]),
                s(&b["status"]),
                s(&b["tenants"]),
                s(&b["kinds"]),
                s(&b["objects"]),
                s(&b["bytes"]),
                s(&b["skipped"]),
                s(&b["errors"]),
            ]
        })
        .collect();
    out += &table(
        &[
            "BACKUP", "STATUS", "TENANTS", "KINDS", "OBJECTS", "BYTES", "SKIPPED", "ERRORS",
        ],
        &rows,
    );
    for b in backups.iter().filter(|b| !b["refused"].is_null()) {
        let _ = writeln!(out, "{} refused: {}", s(&b["backup"]), s(&b["refused"]));
    }
    if a["more"] == Value::Bool(true) {
        out.push_str("more backups are older: ask again with --to before the last one\n");
    }
    out
}

fn describe(a: &Value) -> String {
    let mut out = format!(
        "Backup {} of {} ({}), cluster {} in {}\nfinished {}; {} objects, {} bytes, {} skipped\n",
        s(&a["backup"]),
        s(&a["infrastructure"]),
        s(&a["status"]),
        s(&a["cluster"]),
        s(&a["region"]),
        s(&a["finished_at"]),
        s(&a["objects"]),
        s(&a["bytes"]),
        s(&a["skipped"]),
    );
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    let mut add = |tenant: &str, part: &Value| {
        let verified = match &part["verified"] {
            Value::Bool(true) => "ok".to_string(),
            Value::Bool(false) => "FAILED".to_string(),
            _ => "-".to_string(),
        };
        rows.push(vec![
            tenant.to_string(),
            s(&part["kind"]),
            s(&part["objects"]),
            s(&part["bytes"]),
            part["skipped"].as_array().map_or(0, Vec::len).to_string(),
            verified,
        ]);
        for sk in part["skipped"].as_array().into_iter().flatten() {
            skipped.push(format!(
                "{tenant}/{} {}: {}",
                s(&part["kind"]),
                s(&sk["name"]),
                s(&sk["reason"])
            ));
        }
        if !part["problem"].is_null() {
            skipped.push(format!(
                "{tenant}/{} FAILED its check: {}",
                s(&part["kind"]),
                s(&part["problem"])
            ));
        }
    };
    if let Some(tenants) = a["tenants"].as_object() {
        for (tenant, parts) in tenants {
            for part in parts.as_array().into_iter().flatten() {
                add(tenant, part);
            }
        }
    }
    for part in a["cluster_scoped"].as_array().into_iter().flatten() {
        add("(cluster)", part);
    }
    out += &table(&["TENANT", "KIND", "OBJECTS", "BYTES", "SKIPPED", "CHECKSUM"], &rows);
    for line in skipped {
        let _ = writeln!(out, "{line}");
    }
    for e in a["errors"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "error: {}", s(&e["message"]));
    }
    if let Some(v) = a.get("verification") {
        let _ = writeln!(
            out,
            "checksums: {} of {} files verified, {} failed",
            s(&v["verified"]),
            s(&v["files"]),
            s(&v["failed"])
        );
    }
    out
}

fn history(a: &Value) -> String {
    let ns = a["namespace"].as_str().map(|n| format!(" in {n}")).unwrap_or_default();
    let mut out = format!(
        "{} {}{} across the backups of {}: {} versions\n",
        s(&a["kind"]),
        s(&a["name"]),
        ns,
        s(&a["infrastructure"]),
        s(&a["versions"])
    );
    let rows: Vec<Vec<String>> = a["backups"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            vec![
                s(&e["backup"]),
                s(&e["status"]),
                s(&e["change"]),
                e.get("fingerprint").map(s).unwrap_or_else(|| "-".into()),
                e.get("problem").map(s).unwrap_or_default(),
            ]
        })
        .collect();
    out += &table(&["BACKUP", "STATUS", "CHANGE", "FINGERPRINT", "PROBLEM"], &rows);
    out
}

fn diff(a: &Value) -> String {
    let against = match a["against"].as_str() {
        Some("live") => format!("the live cluster {}", s(&a["cluster"])),
        _ => format!("backup {}", s(&a["against"])),
    };
    let c = &a["counts"];
    let mut out = format!(
        "Backup {} of {} against {}: {} added, {} removed, {} changed, {} unchanged\n",
        s(&a["backup"]),
        s(&a["infrastructure"]),
        against,
        s(&c["added"]),
        s(&c["removed"]),
        s(&c["changed"]),
        s(&c["unchanged"]),
    );
    for o in a["objects"].as_array().into_iter().flatten() {
        let tenant = o["tenant"].as_str().unwrap_or("(cluster)");
        let _ = writeln!(
            out,
            "{:<8} {tenant}/{} {}",
            s(&o["change"]),
            s(&o["kind"]),
            s(&o["name"])
        );
        for f in o["fields"].as_array().into_iter().flatten() {
            let values = if f["concealed"] == Value::Bool(true) {
                match (f.get("before_fingerprint"), f.get("after_fingerprint")) {
                    (None, None) => "(concealed)".to_string(),
                    (b, a) => format!(
                        "(concealed) {} -> {}",
                        b.map(s).unwrap_or_else(|| "-".into()),
                        a.map(s).unwrap_or_else(|| "-".into())
                    ),
                }
            } else if f["elided"] == Value::Bool(true) {
                "(too long to show)".to_string()
            } else {
                format!(
                    "{} -> {}",
                    f.get("before").map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                    f.get("after").map(|v| v.to_string()).unwrap_or_else(|| "-".into())
                )
            };
            let _ = writeln!(out, "           {} {}: {values}", s(&f["change"]), s(&f["path"]));
        }
    }
    if let Some(n) = a["objects_not_listed"].as_u64() {
        let _ = writeln!(out, "{n} more differing objects not listed (see the counts)");
    }
    for e in a["errors"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "not compared: {}", s(e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_list_prints_one_row_per_backup_newest_first() {
        let text = render(&json!({
            "action": "list", "infrastructure": "prod", "bucket": "b", "more": true,
            "backups": [
                {"backup": "2026/12/02/000000", "status": "Completed", "tenants": ["a", "b"], "kinds": ["Secret"],
                 "objects": 3, "bytes": 100, "skipped": 0, "errors": 0},
                {"backup": "2026/12/01/000000", "status": "Refused", "refused": "written over", "tenants": [],
                 "kinds": [], "objects": 0, "bytes": 0, "skipped": 0, "errors": 0}
            ]
        }));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[1].starts_with("BACKUP") && lines[2].starts_with("2026/12/02/000000  Completed  a,b"),
            "{text}"
        );
        assert!(text.contains("2026/12/01/000000 refused: written over"), "{text}");
        assert!(text.contains("ask again with --to"), "{text}");
    }

    #[test]
    fn a_concealed_field_shows_fingerprints_never_values() {
        let text = render(&json!({
            "action": "diff", "infrastructure": "prod", "backup": "2026/12/02/000000", "against": "live", "cluster": "c",
            "counts": {"added": 0, "removed": 0, "changed": 1, "unchanged": 2},
            "objects": [{"tenant": "t", "kind": "Secret", "name": "db", "change": "changed", "fields": [
                {"path": "data.password", "change": "changed", "concealed": true,
                 "before_fingerprint": "hmac-sha256:aa", "after_fingerprint": "hmac-sha256:bb"}
            ]}],
            "errors": []
        }));
        assert!(text.contains("changed  t/Secret db"), "{text}");
        assert!(
            text.contains("data.password: (concealed) hmac-sha256:aa -> hmac-sha256:bb"),
            "{text}"
        );
    }
}
