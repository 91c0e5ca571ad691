output "trail_arn" {
  description = "ARN of the trail; the functions check it (LIFEBOAT_TRAIL_ARN)."
  value       = aws_cloudtrail.this.arn
}

output "trail_name" {
  description = "Name of the trail."
  value       = aws_cloudtrail.this.name
}

output "log_bucket_name" {
  description = "Bucket the trail writes its log files to."
  value       = module.logs.bucket_name
}

output "kms_key_arn" {
  description = "Key that encrypts the trail's log files."
  value       = aws_kms_key.trail.arn
}
