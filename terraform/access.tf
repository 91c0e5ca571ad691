# EKS access entries map the function roles (the catalog's to the backup's read-only group), on each cluster of this account, to
# the Kubernetes groups lifeboat:backup and lifeboat:restore, with no EKS access policy:
# what those groups may do is only what the kubernetes_rbac output grants them, rendered
# from the infrastructure's setting (see modules/kubernetes-rbac). A cluster reached
# through roles in another account is mapped there, by that account, to the same groups.

locals {
  eks_access = var.manage_eks_access ? merge([
    for name, infra in var.infrastructures : {
      "${name}/backup"  = { cluster = infra.cluster_name, role = aws_iam_role.backup.arn, group = "lifeboat:backup" }
      "${name}/restore" = { cluster = infra.cluster_name, role = aws_iam_role.restore.arn, group = "lifeboat:restore" }
      # The catalog reads what the backup reads, for a diff against the live cluster.
      "${name}/catalog" = { cluster = infra.cluster_name, role = aws_iam_role.catalog.arn, group = "lifeboat:backup" }
    } if infra.backup_role_arn == null
  ]...) : {}
}

resource "aws_eks_access_entry" "function" {
  for_each          = local.eks_access
  cluster_name      = each.value.cluster
  principal_arn     = each.value.role
  kubernetes_groups = [each.value.group]
  type              = "STANDARD"
  tags              = local.tags
}
