# One role per function, each with only what its function does (the catalog's is in
# catalog.tf). Backup writes objects,
# create-only (the bucket policy refuses it any write without If-None-Match), and cannot
# read or delete them: a compromised backup role cannot rewrite or destroy backups.
# Restore reads and decrypts and cannot write to S3 at all. Each may assume only its
# own kind of role in other accounts.

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

# What every function needs to run: its log stream, traces, the dead-letter queue, the
# trail's status and its clusters' endpoints.
data "aws_iam_policy_document" "common" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.function : "${g.arn}:*"]
  }

  statement {
    sid = "Traces"
    #checkov:skip=CKV_AWS_111:X-Ray's trace APIs take no resource.
    #checkov:skip=CKV_AWS_356:X-Ray's trace APIs take no resource.
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  statement {
    sid       = "DeadLetter"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter.arn]
  }

  statement {
    sid       = "CheckAuditTrail"
    actions   = ["cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"]
    resources = [local.trail_arn]
  }

  dynamic "statement" {
    for_each = length(local.cluster_arns) > 0 ? [1] : []
    content {
      sid       = "DescribeClusters"
      actions   = ["eks:DescribeCluster"]
      resources = local.cluster_arns
    }
  }

}

# Backup and restore publish each run's outcome; the catalog runs nothing to report.
data "aws_iam_policy_document" "run_events" {
  dynamic "statement" {
    for_each = var.event_bus_name == null ? [] : [1]
    content {
      sid       = "PublishRunEvents"
      actions   = ["events:PutEvents"]
      resources = [local.event_bus_arn]
    }
  }
}

data "aws_iam_policy_document" "remote" {
  for_each = local.remote_roles

  # The role of the function's own kind in each other account that holds a cluster.
  dynamic "statement" {
    for_each = length(each.value) > 0 ? [1] : []
    content {
      sid       = "ReachClustersInOtherAccounts"
      actions   = ["sts:AssumeRole"]
      resources = each.value
    }
  }
}

data "aws_iam_policy_document" "backup" {
  source_policy_documents = [
    data.aws_iam_policy_document.common.json,
    data.aws_iam_policy_document.run_events.json,
    data.aws_iam_policy_document.remote["backup"].json,
  ]

  # A large file goes up in parts; aborting a failed upload frees its parts at once
  # instead of at the lifecycle rule's next pass.
  statement {
    sid       = "WriteBackups"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${module.storage.bucket_arn}/*/infra/*"]
  }

  # Two invocations of one scheduled run would interleave their files; each first
  # creates the run's claim with a conditional write, and the loser stands down. A
  # claim left by an invocation that died is read to see whether it has lapsed.
  statement {
    sid       = "ClaimRuns"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${module.storage.bucket_arn}/claims/*"]
  }

  # A retried scheduled run looks for its own run's manifest (the commit marker) to
  # stay idempotent, by listing that one key: it may not read backups.
  statement {
    sid       = "FindManifests"
    actions   = ["s3:ListBucket"]
    resources = [module.storage.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["*/infra/*/k8s/manifest.json"]
    }
  }

  # SSE-KMS writes need a data key; completing a multipart upload and reading a claim
  # need Decrypt. Only through S3, so the key cannot be used on anything but this
  # bucket's objects, of which the bucket policy lets it read only the claims.
  statement {
    sid       = "EncryptBackups"
    actions   = ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"]
    resources = [module.storage.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

# Listing runs and decrypting through S3, for every function that reads the bucket:
# listing finds the newest complete backup (source.backup = "latest") and the runs of a
# range, and listing a manifest's versions proves it was written once.
data "aws_iam_policy_document" "list_and_decrypt" {
  statement {
    sid       = "ListBackups"
    actions   = ["s3:ListBucket", "s3:ListBucketVersions"]
    resources = [module.storage.bucket_arn]
  }

  statement {
    sid       = "DecryptBackups"
    actions   = ["kms:Decrypt"]
    resources = [module.storage.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

# Reading backups, for restore and the catalog: each file at the version its manifest
# records.
data "aws_iam_policy_document" "read_backups" {
  source_policy_documents = [data.aws_iam_policy_document.list_and_decrypt.json]

  statement {
    sid       = "ReadBackups"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["${module.storage.bucket_arn}/*/infra/*"]
  }
}

data "aws_iam_policy_document" "restore" {
  source_policy_documents = [
    data.aws_iam_policy_document.common.json,
    data.aws_iam_policy_document.run_events.json,
    data.aws_iam_policy_document.remote["restore"].json,
    data.aws_iam_policy_document.read_backups.json,
  ]
}

# IAM names are global, so role names carry the region: one name_prefix serves every
# region of a multi-region deployment.
resource "aws_iam_role" "backup" {
  name               = "${var.name_prefix}-backup-${local.region}"
  description        = "lifeboat backup function: reads clusters, writes backups"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "backup" {
  name   = "backup"
  role   = aws_iam_role.backup.id
  policy = data.aws_iam_policy_document.backup.json
}

resource "aws_iam_role" "restore" {
  name               = "${var.name_prefix}-restore-${local.region}"
  description        = "lifeboat restore function: reads backups, writes clusters"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "restore" {
  name   = "restore"
  role   = aws_iam_role.restore.id
  policy = data.aws_iam_policy_document.restore.json
}
