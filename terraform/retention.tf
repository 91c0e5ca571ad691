# Retention: once a day, the retention function deletes the runs older than
# backup_retention_days, but each infrastructure's newest keep_completed_backups
# Completed backups, whatever their age. An S3 lifecycle rule cannot tell a complete run
# from a failed one, so none expires current versions. Object Lock (governance mode, for
# the same days, by default) holds every version for those days from its write, and
# nothing here may bypass it: whatever the function decides, S3 refuses to delete a
# version younger than that.

data "aws_iam_policy_document" "retention" {
  # Listing runs, and decrypting manifests (the bucket policy lets it read no other file).
  source_policy_documents = [data.aws_iam_policy_document.common.json, data.aws_iam_policy_document.list_and_decrypt.json]

  # Manifests only: their status and kinds, no object's content.
  statement {
    sid       = "ReadManifests"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${module.storage.bucket_arn}/*/infra/*/k8s/manifest.json"]
  }

  # Whether Object Lock still holds a version whose delete S3 refused.
  statement {
    sid       = "ReadLocks"
    actions   = ["s3:GetObjectRetention", "s3:GetObjectLegalHold"]
    resources = ["${module.storage.bucket_arn}/*/infra/*"]
  }

  statement {
    sid       = "DeleteExpiredRuns"
    actions   = ["s3:DeleteObjectVersion", "s3:DeleteObject"]
    resources = ["${module.storage.bucket_arn}/*/infra/*"]
  }
}

resource "aws_iam_role" "retention" {
  name               = "${var.name_prefix}-retention-${local.region}"
  description        = "lifeboat retention function: deletes expired runs, keeps the newest complete ones"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "retention" {
  name   = "retention"
  role   = aws_iam_role.retention.id
  policy = data.aws_iam_policy_document.retention.json
}

resource "aws_lambda_function_event_invoke_config" "retention" {
  function_name          = aws_lambda_function.this["retention"].function_name
  maximum_retry_attempts = 2
}

resource "aws_scheduler_schedule" "retention" {
  count = var.backup_retention_days == null ? 0 : 1
  #checkov:skip=CKV_AWS_297:The input holds the retention days and a count, nothing secret.

  name                = "${var.name_prefix}-retention"
  description         = "lifeboat retention: runs older than ${var.backup_retention_days} days go, the ${var.keep_completed_backups} newest complete backups of each infrastructure stay"
  schedule_expression = "rate(1 day)"

  flexible_time_window {
    mode                      = "FLEXIBLE"
    maximum_window_in_minutes = 60
  }

  target {
    arn      = aws_lambda_function.this["retention"].arn
    role_arn = aws_iam_role.scheduler.arn
    input = jsonencode({
      bucket         = module.storage.bucket_name
      retention_days = var.backup_retention_days
      keep_completed = var.keep_completed_backups
    })

    retry_policy {
      maximum_retry_attempts       = var.schedule_retry_attempts
      maximum_event_age_in_seconds = var.schedule_max_event_age_seconds
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter.arn
    }
  }
}
