# The catalog function answers list, describe, history and diff. It reads backups and
# decrypts them (describe checks checksums, history and diff compare objects), reads
# clusters with the backup's read-only Kubernetes group (a diff against the live
# cluster), and writes nothing anywhere. Its answers show Secret values only as keyed
# fingerprints: HMACs under a key derived from the HMAC KMS key the storage module makes
# for it, which never leaves KMS.

data "aws_iam_policy_document" "catalog" {
  source_policy_documents = [data.aws_iam_policy_document.common.json, data.aws_iam_policy_document.read_backups.json]

  statement {
    sid       = "Fingerprints"
    actions   = ["kms:GenerateMac"]
    resources = [module.storage.fingerprint_key_arn]
  }
}

resource "aws_iam_role" "catalog" {
  name               = "${var.name_prefix}-catalog-${local.region}"
  description        = "lifeboat catalog function: reads backups and clusters, writes nothing"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "catalog" {
  name   = "catalog"
  role   = aws_iam_role.catalog.id
  policy = data.aws_iam_policy_document.catalog.json
}

resource "aws_lambda_function_event_invoke_config" "catalog" {
  function_name = aws_lambda_function.this["catalog"].function_name
  # Answers go back to whoever asked synchronously; an asynchronous question has no
  # one to answer, so it is not asked again.
  maximum_retry_attempts = 0
}

resource "aws_lambda_permission" "catalog" {
  for_each      = toset(var.catalog_invoker_arns)
  statement_id  = "invoke-${substr(sha256(each.value), 0, 16)}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["catalog"].function_name
  principal     = each.value
}
