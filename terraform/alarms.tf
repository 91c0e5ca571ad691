# Alarms: a function that errs, and an enabled infrastructure that went a whole interval
# without a successful backup (which also catches a schedule that stopped firing).

locals {
  alarm_actions    = var.alarm_sns_topic_arn == null ? [] : [var.alarm_sns_topic_arn]
  metric_namespace = "Lifeboat"
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.function_names

  alarm_name          = "${each.value}-errors"
  alarm_description   = "The lifeboat ${each.key} function failed; its log group has the report."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.tags
}

# Each backup logs its report as one JSON line with the infrastructure and the status
# as fields of their own; a run that completed (or found its scheduled run already
# completed) counts as one successful backup of that infrastructure.
resource "aws_cloudwatch_log_metric_filter" "successful_backups" {
  name           = "${var.name_prefix}-successful-backups"
  log_group_name = aws_cloudwatch_log_group.function["backup"].name
  pattern        = "{ ($.fields.function = \"backup\") && (($.fields.status = \"Completed\") || ($.fields.status = \"AlreadyCompleted\")) }"

  metric_transformation {
    name       = "SuccessfulBackups"
    namespace  = local.metric_namespace
    value      = "1"
    dimensions = { Infrastructure = "$.fields.infrastructure" }
    unit       = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "no_successful_backup" {
  for_each = local.enabled_infrastructures

  alarm_name        = "${var.name_prefix}-no-backup-${each.key}"
  alarm_description = "No successful lifeboat backup of ${each.key} in the last ${tonumber(each.value.settings.IntervalInHours)} hour(s)."
  namespace         = local.metric_namespace
  metric_name       = "SuccessfulBackups"
  dimensions        = { Infrastructure = each.key }
  statistic         = "Sum"
  # CloudWatch periods stop at a day; longer intervals are counted in days.
  period              = min(tonumber(each.value.settings.IntervalInHours), 24) * 3600
  evaluation_periods  = min(ceil(tonumber(each.value.settings.IntervalInHours) / 24), 7)
  datapoints_to_alarm = min(ceil(tonumber(each.value.settings.IntervalInHours) / 24), 7)
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  # No data is exactly the failure this alarm is for.
  treat_missing_data = "breaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = local.tags

  depends_on = [aws_cloudwatch_log_metric_filter.successful_backups]
}
