output "bucket_name" {
  description = "Name of the backup bucket."
  value       = aws_s3_bucket.backups.id
}

output "bucket_arn" {
  description = "ARN of the backup bucket."
  value       = aws_s3_bucket.backups.arn
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts backups and the functions' logs."
  value       = aws_kms_key.backups.arn
}

output "kms_key_alias" {
  description = "Alias of that key."
  value       = aws_kms_alias.backups.name
}
