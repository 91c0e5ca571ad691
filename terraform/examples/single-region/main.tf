provider "aws" {
  region = var.region
}

module "lifeboat" {
  source = "../.."

  infrastructures        = var.infrastructures
  backup_function_zip    = var.backup_function_zip
  restore_function_zip   = var.restore_function_zip
  catalog_function_zip   = var.catalog_function_zip
  retention_function_zip = var.retention_function_zip
  drill_function_zip     = var.drill_function_zip
  architecture           = var.architecture
  manage_eks_access      = var.manage_eks_access
  restore_invoker_arns   = var.restore_invoker_arns
  alarm_sns_topic_arn    = var.alarm_sns_topic_arn
  object_lock            = var.object_lock
  custom_kinds           = var.custom_kinds

  schedule_window_minutes = var.schedule_window_minutes
}
