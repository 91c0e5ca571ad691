# Two regions, each with its own bucket, functions and schedules, and one multi-region
# trail, homed in the primary region, that records both. The primary region's backups
# are copied to the secondary's bucket, re-encrypted with its key; when the primary
# region is down, the secondary's restore function restores them from the copy (the
# restore_from_copy output).

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

  replicate_to = {
    bucket_arn  = module.lifeboat_secondary.bucket_arn
    kms_key_arn = module.lifeboat_secondary.kms_key_arn
  }
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
  # The primary's replication role, by name: a reference to it would make each region
  # wait on the other.
  replica_writer_arns = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/lifeboat-replication-${var.primary_region}"]
}

# Copies keep their keys: an infrastructure of the same name in both regions would write
# the same keys in the secondary's bucket, and its restore would refuse the manifest.
resource "terraform_data" "distinct_infrastructures" {
  lifecycle {
    precondition {
      condition     = length(setintersection(keys(var.primary_infrastructures), keys(var.secondary_infrastructures))) == 0
      error_message = "An infrastructure name is used in both regions; the primary's backups are copied into the secondary's bucket under the same keys, so names must differ."
    }
  }
}

module "trail" {
  source = "../../modules/trail"

  name        = local.trail_name
  bucket_arns = [module.lifeboat_primary.bucket_arn, module.lifeboat_secondary.bucket_arn]
  # Every function that reads backups checks that the trail records its invocations.
  function_arns = flatten([for m in [module.lifeboat_primary, module.lifeboat_secondary] : [
    m.backup_function_arn, m.restore_function_arn, m.catalog_function_arn, m.drill_function_arn,
  ]])
}
