//! Whether a trail's event selectors record a run's S3 object events and its function's
//! invocations: plain functions over the SDK's selector types, so every shape of selector
//! is tested without a network.

use aws_sdk_cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector, EventSelector, ReadWriteType};

use super::{ObjectAccess, Scope, TrailArn};

/// What the trail misses of this run; empty when it records all of it.
pub(crate) fn problems(
    trail: &str,
    is_logging: bool,
    selectors: &[EventSelector],
    advanced: &[AdvancedEventSelector],
    scope: &Scope<'_>,
) -> Vec<String> {
    let partition = TrailArn::parse(trail).map_or("aws", |t| t.partition);
    let mut problems = Vec::new();
    if !is_logging {
        problems.push(format!(
            "it is not logging; start it with `aws cloudtrail start-logging --name {trail}`"
        ));
    }
    let objects = DataEvents::objects(partition, scope.bucket, scope.access);
    if !objects.recorded_by(selectors, advanced) {
        let (verb, read_write, read_only) = match scope.access {
            ObjectAccess::Write => ("writes", "WriteOnly or All", "false"),
            ObjectAccess::Read => ("reads", "ReadOnly or All", "true"),
        };
        problems.push(format!(
            "it does not record S3 object {verb} in bucket {bucket}; add a data event selector of type AWS::S3::Object \
             with the value arn:{partition}:s3:::{bucket}/ and ReadWriteType {read_write} (or an advanced selector: \
             eventCategory Data, resources.type AWS::S3::Object, resources.ARN StartsWith arn:{partition}:s3:::{bucket}/, \
             readOnly {read_only} or absent)",
            bucket = scope.bucket
        ));
    }
    let invocations = DataEvents::invocations(partition, scope.function_arn);
    if !invocations.recorded_by(selectors, advanced) {
        problems.push(match scope.function_arn {
            Some(function) => format!(
                "it does not record invocations of {function}; add a data event selector of type \
                 AWS::Lambda::Function with the value {function} (or arn:{partition}:lambda for every function) and \
                 ReadWriteType WriteOnly or All, as Invoke is a write event"
            ),
            None => format!(
                "the function's own ARN is unknown (it was not invoked through Lambda), and the trail does not record \
                 invocations of every function; add a data event selector of type AWS::Lambda::Function with the \
                 value arn:{partition}:lambda and ReadWriteType WriteOnly or All"
            ),
        });
    }
    problems
}

/// The ARNs a class of data events names, as a selector sees them.
#[derive(Debug, Clone)]
enum Resources {
    /// Every ARN that starts with this: objects anywhere in a bucket, or every function.
    Under(String),
    /// Exactly this ARN: one function.
    Exactly(String),
}

/// One class of data events a run causes: what a selector must match to record it.
#[derive(Debug, Clone)]
struct DataEvents {
    resource_type: &'static str,
    event_source: &'static str,
    event_names: &'static [&'static str],
    read_only: bool,
    resources: Resources,
    /// The values of a basic selector's data resource that record all of `resources`.
    basic_values: Vec<String>,
}

impl DataEvents {
    /// Object events in `bucket`: anywhere in it, since every run has its own folder.
    fn objects(partition: &str, bucket: &str, access: ObjectAccess) -> Self {
        let (event_names, read_only): (&'static [&'static str], bool) = match access {
            ObjectAccess::Write => (&["PutObject"], false),
            ObjectAccess::Read => (&["GetObject"], true),
        };
        Self {
            resource_type: "AWS::S3::Object",
            event_source: "s3.amazonaws.com",
            event_names,
            read_only,
            resources: Resources::Under(format!("arn:{partition}:s3:::{bucket}/")),
            basic_values: vec![
                format!("arn:{partition}:s3"),
                format!("arn:{partition}:s3:::"),
                format!("arn:{partition}:s3:::{bucket}"),
                format!("arn:{partition}:s3:::{bucket}/"),
            ],
        }
    }

    /// Invocations of the function; of any function when its ARN is unknown.
    fn invocations(partition: &str, function_arn: Option<&str>) -> Self {
        let all = format!("arn:{partition}:lambda");
        let (resources, basic_values) = match function_arn {
            Some(arn) => (Resources::Exactly(arn.to_string()), vec![all, arn.to_string()]),
            None => (Resources::Under(format!("{all}:")), vec![all]),
        };
        Self {
            resource_type: "AWS::Lambda::Function",
            event_source: "lambda.amazonaws.com",
            event_names: &["Invoke"],
            // Invoke is recorded as a write event.
            read_only: false,
            resources,
            basic_values,
        }
    }

    /// Whether any selector records every one of these events. A trail has either basic
    /// or advanced selectors, never both; both are looked at all the same.
    fn recorded_by(&self, selectors: &[EventSelector], advanced: &[AdvancedEventSelector]) -> bool {
        selectors.iter().any(|s| self.recorded_by_basic(s)) || advanced.iter().any(|s| self.recorded_by_advanced(s))
    }

    fn recorded_by_basic(&self, selector: &EventSelector) -> bool {
        let read_write = match selector.read_write_type() {
            // The API's default.
            None | Some(ReadWriteType::All) => true,
            Some(ReadWriteType::ReadOnly) => self.read_only,
            Some(ReadWriteType::WriteOnly) => !self.read_only,
            Some(_) => false,
        };
        read_write
            && selector.data_resources().iter().any(|r| {
                r.r#type() == Some(self.resource_type) && r.values().iter().any(|v| self.basic_values.contains(v))
            })
    }

    /// An advanced selector records an event when every one of its field selectors
    /// matches it, so it records all of ours when each field admits all of ours.
    fn recorded_by_advanced(&self, selector: &AdvancedEventSelector) -> bool {
        let fields = selector.field_selectors();
        let has = |field: &str| fields.iter().any(|f| f.field() == field);
        // Without these two the selector is not one for these data events at all.
        if !has("eventCategory") || !has("resources.type") {
            return false;
        }
        let read_only = if self.read_only { "true" } else { "false" };
        fields.iter().all(|f| match f.field() {
            "eventCategory" => admits_all(f, &["Data"]),
            "resources.type" => admits_all(f, &[self.resource_type]),
            "eventSource" => admits_all(f, &[self.event_source]),
            "eventName" => admits_all(f, self.event_names),
            "readOnly" => admits_all(f, &[read_only]),
            "resources.ARN" => admits_resources(f, &self.resources),
            // A field this check cannot evaluate may drop some of the events.
            _ => false,
        })
    }
}

/// Whether a field selector matches every one of `values`. Its positive operators
/// (Equals, StartsWith, EndsWith) are alternatives; its negative ones all apply.
fn admits_all(field: &AdvancedFieldSelector, values: &[&str]) -> bool {
    values.iter().all(|value| {
        let positive = !field.equals().is_empty() || !field.starts_with().is_empty() || !field.ends_with().is_empty();
        let matched = field.equals().iter().any(|v| v == value)
            || field.starts_with().iter().any(|v| value.starts_with(v.as_str()))
            || field.ends_with().iter().any(|v| value.ends_with(v.as_str()));
        let excluded = field.not_equals().iter().any(|v| v == value)
            || field.not_starts_with().iter().any(|v| value.starts_with(v.as_str()))
            || field.not_ends_with().iter().any(|v| value.ends_with(v.as_str()));
        (!positive || matched) && !excluded
    })
}

/// Whether a `resources.ARN` field selector matches every ARN of `resources`.
fn admits_resources(field: &AdvancedFieldSelector, resources: &Resources) -> bool {
    match resources {
        Resources::Exactly(arn) => admits_all(field, &[arn]),
        Resources::Under(prefix) => {
            let positive =
                !field.equals().is_empty() || !field.starts_with().is_empty() || !field.ends_with().is_empty();
            // Only a prefix of the prefix matches every ARN under it; one ARN or one
            // suffix matches some of them at most.
            let matched = field.starts_with().iter().any(|v| prefix.starts_with(v.as_str()));
            let excluded = field.not_equals().iter().any(|v| v.starts_with(prefix.as_str()))
                || field
                    .not_starts_with()
                    .iter()
                    .any(|v| prefix.starts_with(v.as_str()) || v.starts_with(prefix.as_str()))
                || !field.not_ends_with().is_empty();
            (!positive || matched) && !excluded
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aws_sdk_cloudtrail::types::DataResource;

    pub(crate) const TRAIL: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/lifeboat-audit";
    const BUCKET: &str = "lifeboat-backups-123456789012-us-east-1";
    const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:lifeboat-restore";

    pub(crate) fn scope(access: ObjectAccess) -> Scope<'static> {
        Scope {
            bucket: BUCKET,
            access,
            function_arn: Some(FUNCTION),
        }
    }

    pub(crate) fn basic(read_write: ReadWriteType, resources: &[(&str, &str)]) -> EventSelector {
        let mut selector = EventSelector::builder().read_write_type(read_write);
        for (kind, value) in resources {
            selector = selector.data_resources(DataResource::builder().r#type(*kind).values(*value).build());
        }
        selector.build()
    }

    #[derive(Default)]
    struct Field {
        equals: Vec<&'static str>,
        starts_with: Vec<&'static str>,
        ends_with: Vec<&'static str>,
        not_starts_with: Vec<&'static str>,
    }

    fn field(name: &str, f: Field) -> AdvancedFieldSelector {
        let mut b = AdvancedFieldSelector::builder().field(name);
        for v in f.equals {
            b = b.equals(v);
        }
        for v in f.starts_with {
            b = b.starts_with(v);
        }
        for v in f.ends_with {
            b = b.ends_with(v);
        }
        for v in f.not_starts_with {
            b = b.not_starts_with(v);
        }
        b.build().unwrap()
    }

    fn equals(name: &str, values: &[&'static str]) -> AdvancedFieldSelector {
        field(
            name,
            Field {
                equals: values.to_vec(),
                ..Default::default()
            },
        )
    }

    fn advanced(fields: Vec<AdvancedFieldSelector>) -> AdvancedEventSelector {
        AdvancedEventSelector::builder()
            .set_field_selectors(Some(fields))
            .build()
            .unwrap()
    }

    fn data(kind: &'static str, more: Vec<AdvancedFieldSelector>) -> AdvancedEventSelector {
        let mut fields = vec![equals("eventCategory", &["Data"]), equals("resources.type", &[kind])];
        fields.extend(more);
        advanced(fields)
    }

    pub(crate) const ALL_LAMBDA: (&str, &str) = ("AWS::Lambda::Function", "arn:aws:lambda");

    fn basic_problems(read_write: ReadWriteType, s3_value: &str, access: ObjectAccess) -> Vec<String> {
        let selectors = [basic(read_write, &[("AWS::S3::Object", s3_value), ALL_LAMBDA])];
        problems(TRAIL, true, &selectors, &[], &scope(access))
    }

    #[test]
    fn a_logging_trail_with_bucket_and_function_selectors_audits_both_functions() {
        for value in [
            "arn:aws:s3",
            "arn:aws:s3:::",
            &format!("arn:aws:s3:::{BUCKET}/"),
            &format!("arn:aws:s3:::{BUCKET}"),
        ] {
            for access in [ObjectAccess::Write, ObjectAccess::Read] {
                assert_eq!(
                    basic_problems(ReadWriteType::All, value, access),
                    Vec::<String>::new(),
                    "{value}"
                );
            }
        }
    }

    #[test]
    fn the_read_write_type_must_cover_what_the_function_does() {
        let bucket = format!("arn:aws:s3:::{BUCKET}/");
        assert!(basic_problems(ReadWriteType::WriteOnly, &bucket, ObjectAccess::Write).is_empty());
        // Lambda's Invoke is a write, so a read-only selector misses the invocation too.
        let read_only = basic_problems(ReadWriteType::ReadOnly, &bucket, ObjectAccess::Read);
        assert_eq!(read_only.len(), 1, "{read_only:?}");
        assert!(read_only[0].contains("invocations of"), "{read_only:?}");
        let writes_missed = basic_problems(ReadWriteType::ReadOnly, &bucket, ObjectAccess::Write);
        assert!(
            writes_missed[0].contains("object writes") && writes_missed[0].contains("WriteOnly or All"),
            "{writes_missed:?}"
        );
        let reads_missed = basic_problems(ReadWriteType::WriteOnly, &bucket, ObjectAccess::Read);
        assert!(
            reads_missed[0].contains("object reads") && reads_missed[0].contains("ReadOnly or All"),
            "{reads_missed:?}"
        );
    }

    #[test]
    fn another_bucket_a_prefix_of_the_bucket_or_a_prefix_inside_it_does_not_count() {
        for value in [
            "arn:aws:s3:::other-bucket/",
            "arn:aws:s3:::lifeboat-backups",
            &format!("arn:aws:s3:::{BUCKET}/2026/"),
            "arn:aws-cn:s3",
        ] {
            let found = basic_problems(ReadWriteType::All, value, ObjectAccess::Read);
            assert_eq!(found.len(), 1, "{value}: {found:?}");
            assert!(
                found[0].contains(BUCKET) && found[0].contains(&format!("arn:aws:s3:::{BUCKET}/")),
                "{found:?}"
            );
        }
    }

    #[test]
    fn the_function_is_covered_by_its_own_arn_or_all_functions_only() {
        let bucket = ("AWS::S3::Object", "arn:aws:s3");
        let with = |lambda: &str| {
            problems(
                TRAIL,
                true,
                &[basic(ReadWriteType::All, &[bucket, ("AWS::Lambda::Function", lambda)])],
                &[],
                &scope(ObjectAccess::Read),
            )
        };
        assert!(with(FUNCTION).is_empty());
        assert!(with("arn:aws:lambda").is_empty());
        let other = with("arn:aws:lambda:us-east-1:123456789012:function:lifeboat-backup");
        assert!(other.len() == 1 && other[0].contains(FUNCTION), "{other:?}");

        // Not run by Lambda: only a selector for every function proves anything.
        let unknown = Scope {
            function_arn: None,
            ..scope(ObjectAccess::Read)
        };
        let selectors = [basic(
            ReadWriteType::All,
            &[bucket, ("AWS::Lambda::Function", FUNCTION)],
        )];
        let found = problems(TRAIL, true, &selectors, &[], &unknown);
        assert!(found.len() == 1 && found[0].contains("unknown"), "{found:?}");
        let selectors = [basic(ReadWriteType::All, &[bucket, ALL_LAMBDA])];
        assert!(problems(TRAIL, true, &selectors, &[], &unknown).is_empty());
    }

    #[test]
    fn a_trail_that_is_not_logging_says_how_to_start_it_whatever_its_selectors() {
        let selectors = [basic(
            ReadWriteType::All,
            &[("AWS::S3::Object", "arn:aws:s3"), ALL_LAMBDA],
        )];
        let found = problems(TRAIL, false, &selectors, &[], &scope(ObjectAccess::Write));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("not logging") && found[0].contains(&format!("start-logging --name {TRAIL}")),
            "{found:?}"
        );
        // The trail's default selector: management events only, no data events.
        let default = [EventSelector::builder()
            .read_write_type(ReadWriteType::All)
            .include_management_events(true)
            .build()];
        assert_eq!(
            problems(TRAIL, false, &default, &[], &scope(ObjectAccess::Write)).len(),
            3
        );
    }

    #[test]
    fn advanced_selectors_count_when_every_field_admits_every_event_of_the_run() {
        let bucket_prefix: &'static str = "arn:aws:s3:::lifeboat-backups-123456789012-us-east-1/";
        let s3 = |more: Vec<AdvancedFieldSelector>| data("AWS::S3::Object", more);
        let lambda = data("AWS::Lambda::Function", vec![]);
        let check = |s3_selector: AdvancedEventSelector, access: ObjectAccess| {
            problems(TRAIL, true, &[], &[s3_selector, lambda.clone()], &scope(access))
        };
        let starts = |v: &'static str| {
            field(
                "resources.ARN",
                Field {
                    starts_with: vec![v],
                    ..Default::default()
                },
            )
        };

        // Every object, the bucket's objects, with or without a readOnly of the right kind.
        assert!(check(s3(vec![]), ObjectAccess::Write).is_empty());
        assert!(check(s3(vec![starts(bucket_prefix)]), ObjectAccess::Read).is_empty());
        assert!(check(s3(vec![starts("arn:aws:s3:::")]), ObjectAccess::Read).is_empty());
        let writes = equals("readOnly", &["false"]);
        assert!(check(s3(vec![starts(bucket_prefix), writes.clone()]), ObjectAccess::Write).is_empty());
        assert_eq!(check(s3(vec![writes]), ObjectAccess::Read).len(), 1);
        let reads_by_name = equals("eventName", &["GetObject", "HeadObject"]);
        assert!(check(s3(vec![reads_by_name.clone()]), ObjectAccess::Read).is_empty());
        assert_eq!(check(s3(vec![reads_by_name]), ObjectAccess::Write).len(), 1);

        // Part of the bucket, one object, a suffix, or an exclusion inside it: not all of it.
        for narrowing in [
            starts("arn:aws:s3:::lifeboat-backups-123456789012-us-east-1/2026/"),
            equals("resources.ARN", &[bucket_prefix]),
            field(
                "resources.ARN",
                Field {
                    ends_with: vec![".json"],
                    ..Default::default()
                },
            ),
            field(
                "resources.ARN",
                Field {
                    starts_with: vec!["arn:aws:s3:::"],
                    not_starts_with: vec!["arn:aws:s3:::lifeboat-backups-123456789012-us-east-1/2026/"],
                    ..Default::default()
                },
            ),
            equals("userIdentity.arn", &["arn:aws:iam::123456789012:role/someone"]),
        ] {
            let found = check(s3(vec![narrowing.clone()]), ObjectAccess::Read);
            assert_eq!(found.len(), 1, "{narrowing:?} counted as covering");
        }
        // Excluding another bucket leaves ours recorded.
        let elsewhere = field(
            "resources.ARN",
            Field {
                not_starts_with: vec!["arn:aws:s3:::cloudtrail-logs/"],
                ..Default::default()
            },
        );
        assert!(check(s3(vec![elsewhere]), ObjectAccess::Read).is_empty());
        // A management-events selector records no data events.
        let management = advanced(vec![equals("eventCategory", &["Management"])]);
        assert_eq!(
            problems(TRAIL, true, &[], &[management], &scope(ObjectAccess::Read)).len(),
            2
        );
    }

    #[test]
    fn an_advanced_lambda_selector_may_name_the_function_by_equals_or_prefix() {
        let bucket = data("AWS::S3::Object", vec![]);
        let check = |arn: AdvancedFieldSelector| {
            problems(
                TRAIL,
                true,
                &[],
                &[bucket.clone(), data("AWS::Lambda::Function", vec![arn])],
                &scope(ObjectAccess::Read),
            )
        };
        assert!(check(equals("resources.ARN", &[FUNCTION])).is_empty());
        assert!(
            check(field(
                "resources.ARN",
                Field {
                    starts_with: vec!["arn:aws:lambda:us-east-1:123456789012:function:lifeboat-"],
                    ..Default::default()
                }
            ))
            .is_empty()
        );
        assert_eq!(
            check(equals(
                "resources.ARN",
                &["arn:aws:lambda:us-east-1:123456789012:function:other"]
            ))
            .len(),
            1
        );
    }
}
