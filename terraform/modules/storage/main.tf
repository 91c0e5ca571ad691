# The regional backup bucket and its key. Both refuse `terraform destroy`
# (prevent_destroy): backups must outlive the deployment that wrote them, and deleting
# the key would make every backup unreadable. To uninstall lifeboat and keep its
# backups, remove this module from the state first (see the README).
#
# Who may do what is decided here, in the resource policies, not only in the roles'
# own policies: an identity policy elsewhere in the account that grants s3:GetObject or
# kms:Decrypt on "*" gets nothing from this bucket or key.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  readers   = concat([var.restore_role_arn, var.drill_role_arn], var.reader_arns)

  # What administering a key takes, and nothing that encrypts or decrypts with it.
  key_administration = [
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
    "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
  ]
  via_s3 = "s3.${local.region}.amazonaws.com"
}

# The account keeps administration, so a key is never orphaned, but no use of it:
# without a grant here, no identity policy in the account can use a key for anything
# the statements beside this do not name.
data "aws_iam_policy_document" "administration" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.

  statement {
    sid       = "AccountAdministers"
    actions   = local.key_administration
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }

  dynamic "statement" {
    for_each = length(var.key_administrator_arns) > 0 ? [1] : []
    content {
      sid       = "NamedAdministrators"
      actions   = local.key_administration
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = var.key_administrator_arns
      }
    }
  }
}

data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  source_policy_documents = [data.aws_iam_policy_document.administration.json]

  # Writes need data keys. Decrypt too: S3 reads the parts of a multipart upload back
  # to complete it. Only through S3, whose bucket policy refuses this role reads.
  statement {
    sid       = "BackupEncrypts"
    actions   = ["kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [var.backup_role_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_s3]
    }
  }

  # A drill keeps its record beside the backup it tested: one encrypted write each.
  statement {
    sid       = "DrillEncryptsRecords"
    actions   = ["kms:GenerateDataKey"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [var.drill_role_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_s3]
    }
  }

  # Replication reads each new version to copy it to another region.
  dynamic "statement" {
    for_each = var.replication_role_arn == null ? [] : [1]
    content {
      sid       = "ReplicationDecrypts"
      actions   = ["kms:Decrypt"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = [var.replication_role_arn]
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.via_s3]
      }
    }
  }

  # Another region's replication writes its copies here under this key. The roles are
  # named by condition, not as principals, so this key can be made before they are
  # (each region's deployment needs the other's outputs).
  dynamic "statement" {
    for_each = length(var.replica_writer_arns) == 0 ? [] : [1]
    content {
      sid       = "ReplicasEncrypt"
      actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
      resources = ["*"]
      principals {
        type        = "AWS"
        identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:PrincipalArn"
        values   = var.replica_writer_arns
      }
      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.via_s3]
      }
    }
  }

  # The retention role decrypts too: it reads manifests (the bucket policy lets it read
  # nothing else) to find each infrastructure's newest complete backups.
  statement {
    sid       = "RestoreAndReadersDecrypt"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = concat(local.readers, [var.retention_role_arn])
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = [local.via_s3]
    }
  }

  # CloudWatch Logs encrypts the functions' log groups with this key, and only those.
  statement {
    sid       = "FunctionLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account}:log-group:${var.log_group_prefix}*"]
    }
  }
}

resource "aws_kms_key" "backups" {
  description             = "lifeboat backups in ${var.bucket_name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_kms_alias" "backups" {
  name          = "alias/${var.key_alias}"
  target_key_id = aws_kms_key.backups.key_id
}

data "aws_iam_policy_document" "bucket" {
  # The functions ask for SSE-KMS with this bucket's key on every write; anything else
  # is a write that did not come from them or that would escape the key.
  statement {
    sid       = "DenyWritesWithoutKmsEncryption"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.bucket_name}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }

  statement {
    sid       = "DenyWritesWithAnotherKey"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.bucket_name}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    # Only writes that name a key: one that names none gets the bucket's default key.
    condition {
      test     = "Null"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = ["false"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "s3:x-amz-server-side-encryption-aws-kms-key-id"
      values   = [aws_kms_key.backups.arn]
    }
  }

  # Backups are create-only. The backup role's object writes (PutObject, and the
  # CompleteMultipartUpload that ends an upload) must carry If-None-Match, so S3 refuses
  # any that would replace an object; starting an upload and sending its parts cannot
  # carry it and are exempt (s3:ObjectCreationOperation false). Its claims, which it
  # takes and releases by overwriting, are the one exception.
  statement {
    sid           = "DenyBackupWritesOverBackups"
    effect        = "Deny"
    actions       = ["s3:PutObject"]
    not_resources = ["arn:${local.partition}:s3:::${var.bucket_name}/claims/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [var.backup_role_arn]
    }
    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }
    condition {
      test     = "Bool"
      variable = "s3:ObjectCreationOperation"
      values   = ["true"]
    }
  }

  # The drill role writes its records and nothing else, each create-only; no one else
  # writes a record, so a passed drill on record was run by the drill function.
  statement {
    sid           = "DenyDrillWritesButRecords"
    effect        = "Deny"
    actions       = ["s3:PutObject"]
    not_resources = ["arn:${local.partition}:s3:::${var.bucket_name}/*/infra/*/k8s/drill-*.json"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [var.drill_role_arn]
    }
  }

  statement {
    sid       = "DenyDrillRecordOverwrites"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.bucket_name}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [var.drill_role_arn]
    }
    condition {
      test     = "Null"
      variable = "s3:if-none-match"
      values   = ["true"]
    }
  }

  statement {
    sid       = "DenyDrillRecordsToOthers"
    effect    = "Deny"
    actions   = ["s3:PutObject"]
    resources = ["arn:${local.partition}:s3:::${var.bucket_name}/*/infra/*/k8s/drill-*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = [var.drill_role_arn]
    }
  }

  # Backups hold every Secret of a fleet: only the restore role and the readers an
  # operator names may read them, whatever else the account's IAM policies grant. The
  # retention role reads manifests, which hold names and checksums, and no data file.
  statement {
    sid       = "DenyBackupReadsToOthers"
    effect    = "Deny"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = ["arn:${local.partition}:s3:::${var.bucket_name}/*/infra/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnNotEquals"
      variable = "aws:PrincipalArn"
      values   = concat(local.readers, [var.retention_role_arn])
    }
  }

  statement {
    sid           = "DenyRetentionDataReads"
    effect        = "Deny"
    actions       = ["s3:GetObject", "s3:GetObjectVersion"]
    not_resources = ["arn:${local.partition}:s3:::${var.bucket_name}/*/infra/*/k8s/manifest.json"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [var.retention_role_arn]
    }
  }

  # Retention deletes versions Object Lock no longer holds, and may not write, unlock or
  # change the bucket's rules: it cannot shorten what the lock keeps.
  statement {
    sid = "DenyRetentionWritingOrUnlocking"
    actions = [
      "s3:PutObject", "s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:BypassGovernanceRetention",
      "s3:PutLifecycleConfiguration", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning",
    ]
    effect = "Deny"
    resources = [
      "arn:${local.partition}:s3:::${var.bucket_name}",
      "arn:${local.partition}:s3:::${var.bucket_name}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [var.retention_role_arn]
    }
  }

  # Backup, restore, the catalog and drills may not remove or unlock what is stored, whatever
  # their roles are given.
  statement {
    sid = "DenyFunctionsDeletingOrUnlocking"
    actions = [
      "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectRetention",
      "s3:PutObjectLegalHold", "s3:BypassGovernanceRetention", "s3:PutLifecycleConfiguration",
      "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketVersioning",
    ]
    effect = "Deny"
    resources = [
      "arn:${local.partition}:s3:::${var.bucket_name}",
      "arn:${local.partition}:s3:::${var.bucket_name}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:PrincipalArn"
      values   = [var.backup_role_arn, var.restore_role_arn, var.catalog_role_arn, var.drill_role_arn]
    }
  }
}

module "bucket" {
  source = "../hardened-bucket"

  bucket_name = var.bucket_name
  kms_key_arn = aws_kms_key.backups.arn
  object_lock = var.object_lock
  # No expiry of current versions: an S3 rule cannot tell a complete backup from a
  # failed one, and would expire an infrastructure's last good backups. The retention
  # function expires runs instead; noncurrent versions and stale uploads still go here.
  expiration_days                    = null
  noncurrent_version_expiration_days = var.noncurrent_version_retention_days
  policy_documents                   = [data.aws_iam_policy_document.bucket.json]
  tags                               = var.tags
}
