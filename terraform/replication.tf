# Copies in a second region. With `replicate_to`, S3 replicates every new version of the
# backup bucket to a bucket in another region (another region's lifeboat bucket, whose
# deployment lists this one's replication role in `replica_writer_arns`), re-encrypted
# with that region's key. Replication keeps each version's id, so a manifest's recorded
# versions are the copy's too, and its Object Lock retention. Deletions are never
# replicated: the copy's own retention function expires its runs. When this region is
# down, the other region's restore function reads the copy: a restore event naming its
# own bucket and `source.infrastructure` set to this region's infrastructure.

locals {
  replica_region = var.replicate_to == null ? null : split(":", var.replicate_to.kms_key_arn)[3]
}

data "aws_iam_policy_document" "replication_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "replication" {
  count = var.replicate_to == null ? 0 : 1

  statement {
    sid       = "ReadReplicationRule"
    actions   = ["s3:GetReplicationConfiguration", "s3:ListBucket"]
    resources = [module.storage.bucket_arn]
  }

  statement {
    sid = "ReadVersionsToCopy"
    actions = [
      "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
      "s3:GetObjectRetention", "s3:GetObjectLegalHold",
    ]
    resources = ["${module.storage.bucket_arn}/*"]
  }

  # Copies only: no ReplicateDelete, so a deletion here never reaches the copy.
  statement {
    sid       = "WriteCopies"
    actions   = ["s3:ReplicateObject", "s3:ReplicateTags"]
    resources = ["${var.replicate_to.bucket_arn}/*"]
  }

  statement {
    sid       = "DecryptHere"
    actions   = ["kms:Decrypt"]
    resources = [module.storage.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }

  statement {
    sid       = "EncryptThere"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.replicate_to.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.replica_region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "replication" {
  count              = var.replicate_to == null ? 0 : 1
  name               = "${var.name_prefix}-replication-${local.region}"
  description        = "lifeboat replication: copies new backup versions to ${local.replica_region}"
  assume_role_policy = data.aws_iam_policy_document.replication_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "replication" {
  count  = var.replicate_to == null ? 0 : 1
  name   = "replication"
  role   = aws_iam_role.replication[0].id
  policy = data.aws_iam_policy_document.replication[0].json
}

resource "aws_s3_bucket_replication_configuration" "copy" {
  count  = var.replicate_to == null ? 0 : 1
  bucket = module.storage.bucket_name
  role   = aws_iam_role.replication[0].arn

  rule {
    id     = "copy-to-${local.replica_region}"
    status = "Enabled"

    filter {}

    delete_marker_replication {
      status = "Disabled"
    }

    source_selection_criteria {
      sse_kms_encrypted_objects {
        status = "Enabled"
      }
    }

    destination {
      bucket        = var.replicate_to.bucket_arn
      storage_class = "STANDARD"
      encryption_configuration {
        replica_kms_key_id = var.replicate_to.kms_key_arn
      }
    }
  }

  depends_on = [aws_iam_role_policy.replication]
}
