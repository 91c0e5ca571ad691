output "bucket_name" {
  description = "Name of the backup bucket."
  value       = module.bucket.bucket_name
}

output "bucket_arn" {
  description = "ARN of the backup bucket."
  value       = module.bucket.bucket_arn
}

output "bucket_policy_json" {
  description = "The backup bucket's policy, as applied."
  value       = module.bucket.policy_json
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts backups and the functions' logs."
  value       = aws_kms_key.backups.arn
}

output "kms_key_alias" {
  description = "Alias of that key."
  value       = aws_kms_alias.backups.name
}

output "kms_key_policy_json" {
  description = "The key's policy, as applied."
  value       = data.aws_iam_policy_document.key.json
}

output "fingerprint_key_arn" {
  description = "ARN of the catalog's HMAC key for fingerprints of concealed values."
  value       = aws_kms_key.fingerprints.arn
}
