# The five functions, built by cargo lambda (a `bootstrap` executable in a zip) for the
# provided.al2023 runtime, each with its own log group, role and dead-letter queue.

locals {
  functions = {
    backup = {
      zip         = var.backup_function_zip
      timeout     = var.backup_timeout_seconds
      memory      = var.backup_memory_mb
      concurrency = var.backup_reserved_concurrency
      role        = aws_iam_role.backup.arn
    }
    restore = {
      zip         = var.restore_function_zip
      timeout     = var.restore_timeout_seconds
      memory      = var.restore_memory_mb
      concurrency = var.restore_reserved_concurrency
      role        = aws_iam_role.restore.arn
    }
    catalog = {
      zip         = var.catalog_function_zip
      timeout     = var.catalog_timeout_seconds
      memory      = var.catalog_memory_mb
      concurrency = var.catalog_reserved_concurrency
      role        = aws_iam_role.catalog.arn
    }
    retention = {
      zip         = var.retention_function_zip
      timeout     = 900
      memory      = 256
      concurrency = 1
      role        = aws_iam_role.retention.arn
    }
    drill = {
      zip         = var.drill_function_zip
      timeout     = 900
      memory      = 512
      concurrency = 4
      role        = aws_iam_role.drill.arn
    }
  }
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = local.function_names
  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = module.storage.kms_key_arn
  tags              = local.tags
}

# Failed asynchronous invocations (a scheduled backup that failed after Lambda's
# retries, or an event the scheduler could not deliver) land here instead of vanishing.
resource "aws_sqs_queue" "dead_letter" {
  name                      = "${var.name_prefix}-dead-letter"
  message_retention_seconds = 1209600
  # SQS's own key rather than the backup key: a KMS-encrypted queue would need the
  # backup role to decrypt with the backup key, which it must not.
  sqs_managed_sse_enabled = true
  tags                    = local.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.functions
  #checkov:skip=CKV_AWS_117:The functions reach public EKS endpoints and AWS APIs; clusters with private endpoints need VPC settings this module does not guess.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile; the zips are built from this repository and identified by their hash.
  #checkov:skip=CKV_AWS_173:The environment holds only names and ARNs, nothing secret; Lambda encrypts it at rest with its own key.

  function_name                  = local.function_names[each.key]
  description                    = "lifeboat ${each.key} of Kubernetes resources"
  filename                       = each.value.zip
  source_code_hash               = filebase64sha256(each.value.zip)
  handler                        = "bootstrap"
  runtime                        = "provided.al2023"
  architectures                  = [var.architecture]
  role                           = each.value.role
  timeout                        = each.value.timeout
  memory_size                    = each.value.memory
  reserved_concurrent_executions = each.value.concurrency

  # What the function serves: an event naming any other infrastructure, cluster,
  # region, bucket or cross-account role is refused before anything is touched.
  environment {
    variables = {
      LIFEBOAT_BUCKET                  = module.storage.bucket_name
      LIFEBOAT_KMS_KEY_ID              = module.storage.kms_key_arn
      LIFEBOAT_TRAIL_ARN               = local.trail_arn
      LIFEBOAT_AUDIT_REQUIRED          = tostring(var.audit_required)
      LIFEBOAT_CLUSTER_ACCESS          = "eks"
      LIFEBOAT_EVENT_BUS               = coalesce(var.event_bus_name, "none")
      LIFEBOAT_FINGERPRINT_KEY_ID      = each.key == "catalog" ? module.storage.fingerprint_key_arn : ""
      LIFEBOAT_ALLOWED_INFRASTRUCTURES = join(",", keys(var.infrastructures))
      # A drill restores into the drill clusters only, and nothing else into those.
      LIFEBOAT_ALLOWED_CLUSTERS  = join(",", each.key == "drill" ? local.drill_clusters : local.cluster_names)
      LIFEBOAT_ALLOWED_REGIONS   = local.region
      LIFEBOAT_ALLOWED_BUCKETS   = module.storage.bucket_name
      LIFEBOAT_ALLOWED_ROLE_ARNS = join(",", local.remote_roles[each.key])
      RUST_LOG                   = var.log_level
    }
  }

  # The functions write one JSON object per line themselves; JSON format lets
  # CloudWatch Logs Insights and the metric filter read their fields.
  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letter.arn
  }

  tags = local.tags

  depends_on = [
    aws_iam_role_policy.backup,
    aws_iam_role_policy.restore,
    aws_iam_role_policy.catalog,
    aws_iam_role_policy.retention,
    aws_iam_role_policy.drill,
    aws_cloudwatch_log_group.function,
  ]
}

resource "aws_lambda_function_event_invoke_config" "backup" {
  function_name          = aws_lambda_function.this["backup"].function_name
  maximum_retry_attempts = var.function_retry_attempts
}

resource "aws_lambda_function_event_invoke_config" "restore" {
  function_name = aws_lambda_function.this["restore"].function_name
  # A restore writes into a cluster; retrying one that failed is a decision for a
  # person reading its report, not for Lambda.
  maximum_retry_attempts = 0
}

# Who may invoke restore is the whole of var.restore_invoker_arns. The resource policy
# below lets them in; Lambda has no way to deny in it, so principals of this account
# whose own IAM policies grant lambda:InvokeFunction would get in too. This policy,
# attached as an SCP or permissions boundary (the restore_invoke_guard_policy output),
# closes that.
data "aws_iam_policy_document" "restore_invoke_guard" {
  statement {
    sid       = "OnlyListedInvokersRestore"
    effect    = "Deny"
    actions   = ["lambda:InvokeFunction", "lambda:InvokeAsync"]
    resources = [aws_lambda_function.this["restore"].arn, "${aws_lambda_function.this["restore"].arn}:*"]
    dynamic "condition" {
      for_each = length(var.restore_invoker_arns) > 0 ? [1] : []
      content {
        test     = "ArnNotEquals"
        variable = "aws:PrincipalArn"
        values   = var.restore_invoker_arns
      }
    }
  }
}

resource "aws_lambda_permission" "restore" {
  for_each      = toset(var.restore_invoker_arns)
  statement_id  = "invoke-${substr(sha256(each.value), 0, 16)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["restore"].function_name
  principal     = each.value
}

resource "aws_lambda_permission" "backup" {
  for_each      = toset(var.backup_invoker_arns)
  statement_id  = "invoke-${substr(sha256(each.value), 0, 16)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["backup"].function_name
  principal     = each.value
}
