# One EventBridge Scheduler schedule per enabled infrastructure, every IntervalInHours
# hours. Its input is the backup event; the scheduler fills in the scheduled time, so a
# retried delivery of the same run lands in the same place.

locals {
  schedule_inputs = {
    for name, infra in local.enabled_infrastructures : name => merge(
      {
        infrastructure = name
        cluster        = infra.cluster_name
        region         = local.region
        bucket         = module.storage.bucket_name
        settings = {
          IsEnabled        = infra.settings.IsEnabled
          IntervalInHours  = infra.settings.IntervalInHours
          K8sResourceKinds = infra.settings.K8sResourceKinds
        }
        scheduled_time = "<aws.scheduler.scheduled-time>"
      },
      infra.tenants == null ? {} : { tenants = infra.tenants },
      infra.tenant_selector == null ? {} : { tenant_selector = infra.tenant_selector },
      infra.exclude_tenants == null ? {} : { exclude_tenants = infra.exclude_tenants },
      infra.exclude_kinds == null ? {} : { exclude_kinds = infra.exclude_kinds },
      infra.backup_role_arn == null ? {} : { role_arn = infra.backup_role_arn },
      infra.backup_external_id == null ? {} : { external_id = infra.backup_external_id },
    )
  }
}

data "aws_iam_policy_document" "scheduler_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeScheduledFunctions"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["backup"].arn, aws_lambda_function.this["retention"].arn, aws_lambda_function.this["drill"].arn]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name_prefix}-scheduler-${local.region}"
  description        = "lifeboat schedules: invoke the backup, retention and drill functions"
  assume_role_policy = data.aws_iam_policy_document.scheduler_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-backup"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

resource "aws_scheduler_schedule" "backup" {
  for_each = local.enabled_infrastructures
  #checkov:skip=CKV_AWS_297:The input holds names and the backup setting, nothing secret; Scheduler encrypts it at rest with its own key.

  name        = "${var.name_prefix}-backup-${each.key}"
  description = "lifeboat backup of ${each.key} (${each.value.cluster_name}) every ${tonumber(each.value.settings.IntervalInHours)} hour(s)"
  # rate() wants the singular for one: "rate(1 hour)", "rate(6 hours)".
  schedule_expression = tonumber(each.value.settings.IntervalInHours) == 1 ? "rate(1 hour)" : "rate(${tonumber(each.value.settings.IntervalInHours)} hours)"

  # Spread over the window; the input's scheduled time is still the nominal one, which
  # names the run's folder and claim.
  flexible_time_window {
    mode                      = var.schedule_window_minutes == 0 ? "OFF" : "FLEXIBLE"
    maximum_window_in_minutes = var.schedule_window_minutes == 0 ? null : var.schedule_window_minutes
  }

  target {
    arn      = aws_lambda_function.this["backup"].arn
    role_arn = aws_iam_role.scheduler.arn
    # jsonencode writes "<" and ">" as \u003c and \u003e; the scheduler substitutes
    # its context attributes only where they are written literally.
    input = replace(replace(jsonencode(local.schedule_inputs[each.key]), "\\u003c", "<"), "\\u003e", ">")

    retry_policy {
      maximum_retry_attempts       = var.schedule_retry_attempts
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter.arn
    }
  }
}
