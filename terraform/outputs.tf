output "bucket_name" {
  description = "The regional backup bucket (LIFEBOAT_BUCKET of both functions)."
  value       = module.storage.bucket_name
}

output "bucket_arn" {
  description = "ARN of the backup bucket."
  value       = module.storage.bucket_arn
}

output "kms_key_arn" {
  description = "Key that encrypts backups and the functions' logs."
  value       = module.storage.kms_key_arn
}

output "backup_function_name" {
  description = "Name of the backup function, for on-demand `aws lambda invoke`."
  value       = aws_lambda_function.this["backup"].function_name
}

output "backup_function_arn" {
  description = "ARN of the backup function."
  value       = aws_lambda_function.this["backup"].arn
}

output "restore_function_name" {
  description = "Name of the restore function, for `aws lambda invoke`."
  value       = aws_lambda_function.this["restore"].function_name
}

output "restore_function_arn" {
  description = "ARN of the restore function."
  value       = aws_lambda_function.this["restore"].arn
}

output "catalog_function_name" {
  description = "Name of the catalog function, for `lifeboat --function` (or LIFEBOAT_CATALOG_FUNCTION)."
  value       = aws_lambda_function.this["catalog"].function_name
}

output "catalog_function_arn" {
  description = "ARN of the catalog function."
  value       = aws_lambda_function.this["catalog"].arn
}

output "catalog_role_arn" {
  description = "Role of the catalog function; map it to the Kubernetes group lifeboat:backup in clusters whose access is managed elsewhere."
  value       = aws_iam_role.catalog.arn
}

output "backup_role_arn" {
  description = "Role of the backup function; map it to the Kubernetes group lifeboat:backup in clusters whose access is managed elsewhere."
  value       = aws_iam_role.backup.arn
}

output "restore_role_arn" {
  description = "Role of the restore function; map it to the Kubernetes group lifeboat:restore in clusters whose access is managed elsewhere."
  value       = aws_iam_role.restore.arn
}

output "scheduler_role_arn" {
  description = "Role the schedules invoke the backup function with."
  value       = aws_iam_role.scheduler.arn
}

output "schedule_arns" {
  description = "Schedule of each enabled infrastructure, by infrastructure."
  value       = { for name, s in aws_scheduler_schedule.backup : name => s.arn }
}

output "dead_letter_queue_url" {
  description = "Queue that receives backup events that failed or could not be delivered."
  value       = aws_sqs_queue.dead_letter.url
}

output "dead_letter_queue_arn" {
  description = "ARN of that queue."
  value       = aws_sqs_queue.dead_letter.arn
}

output "log_group_names" {
  description = "Log group of each function, by function."
  value       = { for k, g in aws_cloudwatch_log_group.function : k => g.name }
}

output "trail_arn" {
  description = "The trail the functions check (created here or passed in)."
  value       = local.trail_arn
}

output "trail_log_bucket_name" {
  description = "Bucket of the trail's log files, when this module created the trail."
  value       = var.create_trail ? module.trail[0].log_bucket_name : null
}

output "kubernetes_rbac" {
  description = "For each infrastructure, the ClusterRoles and bindings its cluster needs, rendered from its setting: apply with kubectl apply -f. They grant the groups lifeboat:backup and lifeboat:restore only the setting's kinds."
  value       = { for name, rbac in module.kubernetes_rbac : name => rbac.manifest }
}

output "drill_kubernetes_rbac" {
  description = "For each drill cluster, the ClusterRole and binding the group lifeboat:drill needs there: apply with kubectl apply -f. It may read and create the drilled kinds and create and delete namespaces; keep the drill cluster for drills."
  value       = local.drill_rbac
}

output "drill_function_arn" {
  description = "ARN of the drill function."
  value       = aws_lambda_function.this["drill"].arn
}

output "drill_role_arn" {
  description = "Role of the drill function; map it to the Kubernetes group lifeboat:drill on drill clusters whose access is managed elsewhere."
  value       = aws_iam_role.drill.arn
}

output "replication_role_arn" {
  description = "Role S3 copies this region's backups with (replicate_to); list it in the other region's replica_writer_arns."
  value       = var.replicate_to == null ? null : aws_iam_role.replication[0].arn
}

output "restore_invoke_guard_policy" {
  description = "A policy that denies invoking the restore function to everyone but restore_invoker_arns; attach it as an SCP or permissions boundary, since Lambda's resource policy can only add invokers."
  value       = data.aws_iam_policy_document.restore_invoke_guard.json
}

output "bucket_policy" {
  description = "The backup bucket's policy, as applied."
  value       = module.storage.bucket_policy_json
}

output "kms_key_policy" {
  description = "The backup key's policy, as applied."
  value       = module.storage.kms_key_policy_json
}
