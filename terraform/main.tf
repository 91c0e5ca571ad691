# lifeboat in one region: the regional backup bucket and its keys, the backup, restore,
# catalog, retention and drill functions, a schedule per enabled infrastructure, a daily
# retention run and daily drill checks, access to each cluster, alarms, and
# (unless another region's deployment already has one) the audit trail.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name

  bucket_name = coalesce(var.bucket_name, "${var.name_prefix}-backups-${local.account}-${local.region}")

  # The bus each run's outcome is published on (the functions' LIFEBOAT_EVENT_BUS).
  event_bus_arn = var.event_bus_name == null ? null : "arn:${local.partition}:events:${local.region}:${local.account}:event-bus/${var.event_bus_name}"

  function_names = {
    backup    = "${var.name_prefix}-backup"
    restore   = "${var.name_prefix}-restore"
    catalog   = "${var.name_prefix}-catalog"
    retention = "${var.name_prefix}-retention"
    drill     = "${var.name_prefix}-drill"
  }

  # Known before the trail exists, so the functions can be told which trail to check
  # while the trail itself is told which functions to record.
  trail_arn = var.create_trail ? "arn:${local.partition}:cloudtrail:${local.region}:${local.account}:trail/${var.trail_name}" : var.trail_arn

  enabled_infrastructures = { for name, infra in var.infrastructures : name => infra if infra.settings.IsEnabled }

  cluster_arns  = distinct([for infra in values(var.infrastructures) : "arn:${local.partition}:eks:${local.region}:${local.account}:cluster/${infra.cluster_name}"])
  cluster_names = distinct([for infra in values(var.infrastructures) : infra.cluster_name])
  # Each function may assume only its own kind of role in other accounts.
  remote_roles = {
    backup  = distinct(compact([for infra in values(var.infrastructures) : infra.backup_role_arn]))
    restore = distinct(compact([for infra in values(var.infrastructures) : infra.restore_role_arn]))
    # The catalog and drills reach clusters of this account only; retention reaches none.
    catalog   = []
    retention = []
    drill     = []
  }
  object_lock = var.object_lock == null ? null : {
    mode = var.object_lock.mode
    days = coalesce(var.object_lock.days, var.backup_retention_days)
  }

  tags = merge({ "lifeboat:managed-by" = "terraform" }, var.tags)
}

module "storage" {
  source = "./modules/storage"

  bucket_name                       = local.bucket_name
  key_alias                         = "${var.name_prefix}-backups"
  log_group_prefix                  = "/aws/lambda/${var.name_prefix}-"
  noncurrent_version_retention_days = var.noncurrent_version_retention_days
  object_lock                       = local.object_lock
  kms_deletion_window_days          = var.kms_deletion_window_days
  backup_role_arn                   = aws_iam_role.backup.arn
  restore_role_arn                  = aws_iam_role.restore.arn
  catalog_role_arn                  = aws_iam_role.catalog.arn
  drill_role_arn                    = aws_iam_role.drill.arn
  replication_role_arn              = var.replicate_to == null ? null : aws_iam_role.replication[0].arn
  replica_writer_arns               = var.replica_writer_arns
  retention_role_arn                = aws_iam_role.retention.arn
  reader_arns                       = concat([aws_iam_role.catalog.arn], var.backup_reader_arns)
  key_administrator_arns            = var.kms_key_administrator_arns
  tags                              = local.tags
}

module "trail" {
  source = "./modules/trail"
  count  = var.create_trail ? 1 : 0

  name          = var.trail_name
  bucket_arns   = [module.storage.bucket_arn]
  function_arns = [for f in aws_lambda_function.this : f.arn]
  object_lock   = var.trail_object_lock
  tags          = local.tags
}
