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

output "kubernetes_rbac" {
  description = "Each cluster's Kubernetes RBAC, to apply with kubectl apply -f."
  value       = module.lifeboat.kubernetes_rbac
}

output "drill_kubernetes_rbac" {
  description = "Each drill cluster's Kubernetes RBAC for the drill function, to apply with kubectl apply -f."
  value       = module.lifeboat.drill_kubernetes_rbac
}

output "restore_invoke_guard_policy" {
  description = "Attach as an SCP or permissions boundary so only restore_invoker_arns may invoke restore."
  value       = module.lifeboat.restore_invoke_guard_policy
}

output "bucket_policy" {
  description = "The backup bucket's policy."
  value       = module.lifeboat.bucket_policy
}

output "kms_key_policy" {
  description = "The backup key's policy."
  value       = module.lifeboat.kms_key_policy
}

output "kms_key_arn" {
  description = "The key that encrypts backups."
  value       = module.lifeboat.kms_key_arn
}

output "trail_log_bucket_name" {
  description = "The bucket of the trail's log files."
  value       = module.lifeboat.trail_log_bucket_name
}

output "failed_runs_topic_arn" {
  description = "The topic that failed and partly failed backups and restores are published to."
  value       = aws_sns_topic.failed_runs.arn
}
