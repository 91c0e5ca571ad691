# Restore drills. For each infrastructure with a `drill` block, a daily schedule invokes
# the drill function. When no drill passed in drill.every_days, it restores the latest
# complete backup into throwaway namespaces (lifeboat-drill-...) on drill.cluster_name,
# reads every object back against the backup, deletes the namespaces and keeps
# drill-<time>.json beside the backup. Each invocation logs one line with its status
# and the hours since a drill last passed; two alarms per drilled infrastructure watch
# those: a drill failed, and no drill passed in twice the interval (which also catches a
# schedule or function that stopped, as the daily line goes missing).
#
# The drill role reads backups like restore and writes only its records. On the drill
# cluster it is the Kubernetes group lifeboat:drill (drill_kubernetes_rbac): create and
# read the drilled kinds, and create and delete namespaces. RBAC cannot limit deletes to
# a name prefix, so the drill cluster should be one kept for drills, not a production
# cluster; the function itself deletes only the namespaces it created.

locals {
  drilled        = { for name, infra in var.infrastructures : name => infra if infra.drill != null }
  drill_clusters = distinct([for infra in values(local.drilled) : infra.drill.cluster_name])

  drill_inputs = {
    for name, infra in local.drilled : name => merge(
      {
        infrastructure = name
        cluster        = infra.drill.cluster_name
        region         = local.region
        bucket         = module.storage.bucket_name
        every_days     = infra.drill.every_days
        scheduled_time = "<aws.scheduler.scheduled-time>"
      },
      infra.drill.tenants == null ? {} : { tenants = infra.drill.tenants },
    )
  }

  # The namespaced kinds drilled on each drill cluster; cluster-scoped kinds are never
  # written by a drill.
  drill_kinds = {
    for cluster in local.drill_clusters : cluster => distinct(flatten([
      for name, infra in local.drilled : [for k in local.infrastructure_kinds[name] : k if k.namespaced]
      if infra.drill.cluster_name == cluster
    ]))
  }
  drill_rbac_labels = { "app.kubernetes.io/part-of" = "lifeboat" }
  drill_rbac = {
    for cluster, kinds in local.drill_kinds : cluster => join("---\n", [
      yamlencode({
        apiVersion = "rbac.authorization.k8s.io/v1"
        kind       = "ClusterRole"
        metadata   = { name = "lifeboat-drill", labels = local.drill_rbac_labels }
        rules = concat(
          [{ apiGroups = [""], resources = ["namespaces"], verbs = ["get", "create", "delete"] }],
          [for group in sort(distinct([for k in kinds : k.group])) : {
            apiGroups = [group]
            resources = sort(distinct([for k in kinds : k.resource if k.group == group]))
            verbs     = ["get", "create"]
          }],
          contains([for k in kinds : k.group], "rbac.authorization.k8s.io") ? [{
            apiGroups = ["rbac.authorization.k8s.io"], resources = ["roles"], verbs = ["bind", "escalate"]
          }] : [],
        )
      }),
      yamlencode({
        apiVersion = "rbac.authorization.k8s.io/v1"
        kind       = "ClusterRoleBinding"
        metadata   = { name = "lifeboat-drill", labels = local.drill_rbac_labels }
        roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "lifeboat-drill" }
        subjects   = [{ apiGroup = "rbac.authorization.k8s.io", kind = "Group", name = "lifeboat:drill" }]
      }),
    ])
  }
}

data "aws_iam_policy_document" "drill" {
  source_policy_documents = [data.aws_iam_policy_document.common.json, data.aws_iam_policy_document.read_backups.json]

  dynamic "statement" {
    for_each = length(local.drill_clusters) > 0 ? [1] : []
    content {
      sid       = "DescribeDrillClusters"
      actions   = ["eks:DescribeCluster"]
      resources = [for name in local.drill_clusters : "arn:${local.partition}:eks:${local.region}:${local.account}:cluster/${name}"]
    }
  }

  statement {
    sid       = "KeepDrillRecords"
    actions   = ["s3:PutObject"]
    resources = ["${module.storage.bucket_arn}/*/infra/*/k8s/drill-*.json"]
  }

  statement {
    sid       = "EncryptDrillRecords"
    actions   = ["kms:GenerateDataKey"]
    resources = [module.storage.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "drill" {
  name               = "${var.name_prefix}-drill-${local.region}"
  description        = "lifeboat drill function: reads backups, restores them into throwaway namespaces, keeps drill records"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "drill" {
  name   = "drill"
  role   = aws_iam_role.drill.id
  policy = data.aws_iam_policy_document.drill.json
}

resource "aws_lambda_function_event_invoke_config" "drill" {
  function_name = aws_lambda_function.this["drill"].function_name
  # A retried drill of the same scheduled time finds its own record and namespaces.
  maximum_retry_attempts = var.function_retry_attempts
}

resource "aws_eks_access_entry" "drill" {
  for_each          = var.manage_eks_access ? toset(local.drill_clusters) : toset([])
  cluster_name      = each.value
  principal_arn     = aws_iam_role.drill.arn
  kubernetes_groups = ["lifeboat:drill"]
  type              = "STANDARD"
  tags              = local.tags
}

resource "aws_scheduler_schedule" "drill" {
  for_each = local.drilled
  #checkov:skip=CKV_AWS_297:The input holds names and a number of days, nothing secret; Scheduler encrypts it at rest with its own key.

  name                = "${var.name_prefix}-drill-${each.key}"
  description         = "lifeboat drill of ${each.key} into ${each.value.drill.cluster_name}: checked daily, run when none passed in ${each.value.drill.every_days} day(s)"
  schedule_expression = "rate(1 day)"

  flexible_time_window {
    mode                      = var.schedule_window_minutes == 0 ? "OFF" : "FLEXIBLE"
    maximum_window_in_minutes = var.schedule_window_minutes == 0 ? null : var.schedule_window_minutes
  }

  target {
    arn      = aws_lambda_function.this["drill"].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = replace(replace(jsonencode(local.drill_inputs[each.key]), "\\u003c", "<"), "\\u003e", ">")

    retry_policy {
      maximum_retry_attempts       = var.schedule_retry_attempts
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter.arn
    }
  }
}

resource "aws_cloudwatch_log_metric_filter" "failed_drills" {
  name           = "${var.name_prefix}-failed-drills"
  log_group_name = aws_cloudwatch_log_group.function["drill"].name
  pattern        = "{ ($.fields.function = \"drill\") && ($.fields.status = \"Failed\") }"

  metric_transformation {
    name       = "FailedDrills"
    namespace  = local.metric_namespace
    value      = "1"
    dimensions = { Infrastructure = "$.fields.infrastructure" }
    unit       = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "hours_since_drill_passed" {
  name           = "${var.name_prefix}-hours-since-drill-passed"
  log_group_name = aws_cloudwatch_log_group.function["drill"].name
  pattern        = "{ ($.fields.function = \"drill\") && ($.fields.hours_since_passed >= 0) }"

  metric_transformation {
    name       = "HoursSinceDrillPassed"
    namespace  = local.metric_namespace
    value      = "$.fields.hours_since_passed"
    dimensions = { Infrastructure = "$.fields.infrastructure" }
    unit       = "None"
  }
}

resource "aws_cloudwatch_metric_alarm" "drill_failed" {
  for_each = local.drilled

  alarm_name          = "${var.name_prefix}-drill-failed-${each.key}"
  alarm_description   = "A lifeboat restore drill of ${each.key} failed; its drill-*.json record beside the backup names what did not come back."
  namespace           = local.metric_namespace
  metric_name         = "FailedDrills"
  dimensions          = { Infrastructure = each.key }
  statistic           = "Sum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags

  depends_on = [aws_cloudwatch_log_metric_filter.failed_drills]
}

resource "aws_cloudwatch_metric_alarm" "no_passed_drill" {
  for_each = local.drilled

  alarm_name        = "${var.name_prefix}-no-drill-${each.key}"
  alarm_description = "No lifeboat restore drill of ${each.key} passed in ${2 * each.value.drill.every_days} days (twice its interval), or the daily drill check stopped running."
  namespace         = local.metric_namespace
  metric_name       = "HoursSinceDrillPassed"
  dimensions        = { Infrastructure = each.key }
  statistic         = "Maximum"
  # A CloudWatch alarm looks back at most 7 days, so the function measures the age of
  # the last passed drill itself, every day, and the alarm compares it.
  period              = 86400
  evaluation_periods  = 2
  datapoints_to_alarm = 2
  threshold           = 2 * each.value.drill.every_days * 24
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # Two days without the daily line is a drill check that stopped.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags

  depends_on = [aws_cloudwatch_log_metric_filter.hours_since_drill_passed]
}
