# The audit trail: a multi-region CloudTrail trail that records who invoked the
# functions and every read and write of a backup object, with log-file validation, into
# a bucket of its own encrypted with a key of its own. One trail serves every region.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account    = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  trail_arn  = "arn:${local.partition}:cloudtrail:${local.region}:${local.account}:trail/${var.name}"
  log_bucket = coalesce(var.log_bucket_name, "${lower(var.name)}-${local.account}")
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only; account administration is the AWS default key policy.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  statement {
    sid       = "TrailEncryptsLogs"
    actions   = ["kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:cloudtrail:arn"
      values   = ["arn:${local.partition}:cloudtrail:*:${local.account}:trail/*"]
    }
  }

  statement {
    sid       = "TrailDescribesKey"
    actions   = ["kms:DescribeKey"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "trail" {
  description             = "lifeboat audit trail ${var.name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "TrailChecksAcl"
    actions   = ["s3:GetBucketAcl"]
    resources = ["arn:${local.partition}:s3:::${local.log_bucket}"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

  statement {
    sid       = "TrailWrites"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${local.log_bucket}/AWSLogs/${local.account}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudtrail.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [local.trail_arn]
    }
  }

}

# Hardened as the backup bucket is (TLS only, never public, versioned, an optional
# Object Lock), with a lifecycle of its own.
module "logs" {
  source = "../hardened-bucket"

  bucket_name                        = local.log_bucket
  kms_key_arn                        = aws_kms_key.trail.arn
  object_lock                        = var.object_lock
  expiration_days                    = var.log_retention_days
  noncurrent_version_expiration_days = var.noncurrent_version_retention_days
  policy_documents                   = [data.aws_iam_policy_document.logs.json]
  tags                               = var.tags
}

resource "aws_cloudtrail" "this" {
  #checkov:skip=CKV2_AWS_10:The audit record is the validated log files in S3; sending them to CloudWatch Logs as well is the operator's choice.
  #checkov:skip=CKV_AWS_252:Nothing subscribes to log-file delivery notifications.
  name                          = var.name
  s3_bucket_name                = module.logs.bucket_name
  kms_key_id                    = aws_kms_key.trail.arn
  is_multi_region_trail         = true
  include_global_service_events = true
  enable_log_file_validation    = true
  enable_logging                = true
  tags                          = var.tags

  event_selector {
    read_write_type           = "All"
    include_management_events = true

    data_resource {
      type   = "AWS::S3::Object"
      values = [for arn in var.bucket_arns : "${arn}/"]
    }

    data_resource {
      type   = "AWS::Lambda::Function"
      values = var.function_arns
    }
  }

  depends_on = [module.logs]
}
