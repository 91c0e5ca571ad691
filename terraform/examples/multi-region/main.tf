# Two regions, each with its own bucket, functions and schedules, and one multi-region
# trail, homed in the primary region, that records both.

provider "aws" {
  region = var.primary_region
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  trail_name = "lifeboat-audit"
  # Known before the trail exists: the functions are told which trail to check while
  # the trail is told which functions to record.
  trail_arn = "arn:${data.aws_partition.current.partition}:cloudtrail:${var.primary_region}:${data.aws_caller_identity.current.account_id}:trail/${local.trail_name}"
}

module "lifeboat_primary" {
  source = "../.."

  infrastructures        = var.primary_infrastructures
  backup_function_zip    = var.backup_function_zip
  restore_function_zip   = var.restore_function_zip
  catalog_function_zip   = var.catalog_function_zip
  retention_function_zip = var.retention_function_zip
  drill_function_zip     = var.drill_function_zip
  architecture           = var.architecture
  manage_eks_access      = var.manage_eks_access
  alarm_sns_topic_arn    = var.alarm_sns_topic_arn
  create_trail           = false
  trail_arn              = local.trail_arn
}

module "lifeboat_secondary" {
  source = "../.."
  providers = {
    aws = aws.secondary
  }

  infrastructures        = var.secondary_infrastructures
  backup_function_zip    = var.backup_function_zip
  restore_function_zip   = var.restore_function_zip
  catalog_function_zip   = var.catalog_function_zip
  retention_function_zip = var.retention_function_zip
  drill_function_zip     = var.drill_function_zip
  architecture           = var.architecture
  manage_eks_access      = var.manage_eks_access
  alarm_sns_topic_arn    = var.secondary_alarm_sns_topic_arn
  create_trail           = false
  trail_arn              = local.trail_arn
}

module "trail" {
  source = "../../modules/trail"

  name        = local.trail_name
  bucket_arns = [module.lifeboat_primary.bucket_arn, module.lifeboat_secondary.bucket_arn]
  function_arns = [
    module.lifeboat_primary.backup_function_arn,
    module.lifeboat_primary.restore_function_arn,
    module.lifeboat_secondary.backup_function_arn,
    module.lifeboat_secondary.restore_function_arn,
  ]
}
