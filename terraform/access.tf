# EKS access entries give the two roles their Kubernetes permissions on each cluster of
# this account: read-only (Secrets included) for backup, write for restore. Clusters
# reached through a role in another account are granted there, by that account.

locals {
  eks_access = var.manage_eks_access ? merge([
    for name, infra in var.infrastructures : {
      "${name}/backup"  = { cluster = infra.cluster_name, role = aws_iam_role.backup.arn, policy = var.backup_access_policy_arn }
      "${name}/restore" = { cluster = infra.cluster_name, role = aws_iam_role.restore.arn, policy = var.restore_access_policy_arn }
    } if infra.role_arn == null
  ]...) : {}
}

resource "aws_eks_access_entry" "function" {
  for_each      = local.eks_access
  cluster_name  = each.value.cluster
  principal_arn = each.value.role
  type          = "STANDARD"
  tags          = local.tags
}

resource "aws_eks_access_policy_association" "function" {
  for_each      = local.eks_access
  cluster_name  = each.value.cluster
  principal_arn = aws_eks_access_entry.function[each.key].principal_arn
  policy_arn    = each.value.policy

  access_scope {
    type = "cluster"
  }
}
