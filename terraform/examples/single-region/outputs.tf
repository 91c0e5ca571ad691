output "bucket_name" {
  description = "The backup bucket."
  value       = module.lifeboat.bucket_name
}

output "backup_function_name" {
  description = "The backup function."
  value       = module.lifeboat.backup_function_name
}

output "restore_function_name" {
  description = "The restore function."
  value       = module.lifeboat.restore_function_name
}

output "schedule_arns" {
  description = "The schedules, by infrastructure."
  value       = module.lifeboat.schedule_arns
}

output "trail_arn" {
  description = "The audit trail."
  value       = module.lifeboat.trail_arn
}
