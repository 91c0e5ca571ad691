# Backups and restores that failed, in whole or in part, routed from the run events
# lifeboat publishes on the default bus to a topic of their own: subscribe a pager or a
# mailbox to it. Runs that completed publish events too, which this rule leaves out.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# EventBridge cannot publish to a topic under the AWS managed SNS key, so the topic has
# a key of its own that lets EventBridge encrypt what it sends.
data "aws_iam_policy_document" "failed_runs_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only; the account administers it, as KMS's default policy does.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
  statement {
    sid       = "EventBridgeEncrypts"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }
}

resource "aws_kms_key" "failed_runs" {
  description         = "lifeboat's failed-run topic"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.failed_runs_key.json
}

resource "aws_sns_topic" "failed_runs" {
  name              = "lifeboat-failed-runs"
  kms_master_key_id = aws_kms_key.failed_runs.arn
}

resource "aws_cloudwatch_event_rule" "failed_runs" {
  name        = "lifeboat-failed-runs"
  description = "lifeboat backups and restores that failed, in whole or in part"
  event_pattern = jsonencode({
    source = ["lifeboat"]
    detail = { status = ["Failed", "PartiallyFailed"] }
  })
}

resource "aws_cloudwatch_event_target" "failed_runs" {
  rule = aws_cloudwatch_event_rule.failed_runs.name
  arn  = aws_sns_topic.failed_runs.arn
}

data "aws_iam_policy_document" "failed_runs" {
  statement {
    sid       = "RunEventsFromTheRule"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.failed_runs.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.failed_runs.arn]
    }
  }
}

resource "aws_sns_topic_policy" "failed_runs" {
  arn    = aws_sns_topic.failed_runs.arn
  policy = data.aws_iam_policy_document.failed_runs.json
}
