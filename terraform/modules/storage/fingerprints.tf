# The catalog's fingerprint key: an HMAC key under which it fingerprints the values its
# answers conceal (Secrets). Only the catalog role may use it, so no one else in the
# account can mint fingerprints to test a guessed value against one. Losing it only
# changes every fingerprint from then on; nothing is encrypted with it.

data "aws_iam_policy_document" "fingerprints_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" means this key only.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" means this key only.
  source_policy_documents = [data.aws_iam_policy_document.administration.json]

  statement {
    sid       = "CatalogFingerprints"
    actions   = ["kms:GenerateMac"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = [var.catalog_role_arn]
    }
  }
}

resource "aws_kms_key" "fingerprints" {
  description              = "lifeboat catalog fingerprints for ${var.bucket_name}"
  customer_master_key_spec = "HMAC_256"
  key_usage                = "GENERATE_VERIFY_MAC"
  deletion_window_in_days  = var.kms_deletion_window_days
  policy                   = data.aws_iam_policy_document.fingerprints_key.json
  tags                     = var.tags
}

resource "aws_kms_alias" "fingerprints" {
  name          = "alias/${var.key_alias}-fingerprints"
  target_key_id = aws_kms_key.fingerprints.key_id
}
