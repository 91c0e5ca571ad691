# The Kubernetes RBAC of one infrastructure's cluster, rendered from its backup
# setting: what the lifeboat:backup and lifeboat:restore groups (which the EKS access
# entries give the functions' roles) may do there, and nothing more. Terraform has no
# access to the cluster's API, so the manifest is an output for `kubectl apply -f`.
#
# Backup may get and list the setting's kinds and the namespaces. Restore may read,
# create and replace the setting's kinds and create namespaces; delete, because
# `overwrite` recreates what cannot change in place (a Secret turned immutable); and,
# where the setting holds RBAC kinds, bind and escalate, as restoring a role or binding
# that grants more than the restorer holds needs them. RBAC cannot exclude
# namespaces, so these hold cluster-wide; the restore function itself writes only into
# the (mapped) tenants of a backup, and cluster-scoped kinds only when a request names them.

locals {
  by_group       = { for group in distinct([for k in var.kinds : k.group]) : group => sort(distinct([for k in var.kinds : k.resource if k.group == group])) }
  rbac           = "rbac.authorization.k8s.io"
  rbac_resources = [for r in lookup(local.by_group, local.rbac, []) : r if contains(["roles", "clusterroles"], r)]

  labels = { "app.kubernetes.io/part-of" = "lifeboat", "lifeboat.io/infrastructure" = var.infrastructure }

  backup_role = {
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "ClusterRole"
    metadata   = { name = "lifeboat-backup-${var.infrastructure}", labels = local.labels }
    rules = concat(
      [{ apiGroups = [""], resources = ["namespaces"], verbs = ["get", "list"] }],
      [for group, resources in local.by_group : { apiGroups = [group], resources = resources, verbs = ["get", "list"] }],
    )
  }

  restore_role = {
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "ClusterRole"
    metadata   = { name = "lifeboat-restore-${var.infrastructure}", labels = local.labels }
    rules = concat(
      [{ apiGroups = [""], resources = ["namespaces"], verbs = ["get", "list", "create", "update", "patch"] }],
      [for group, resources in local.by_group : { apiGroups = [group], resources = resources, verbs = ["get", "create", "update", "patch", "delete"] }],
      length(local.rbac_resources) > 0 ? [{ apiGroups = [local.rbac], resources = local.rbac_resources, verbs = ["bind", "escalate"] }] : [],
    )
  }

  bindings = [for function in ["backup", "restore"] : {
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "ClusterRoleBinding"
    metadata   = { name = "lifeboat-${function}-${var.infrastructure}", labels = local.labels }
    roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "lifeboat-${function}-${var.infrastructure}" }
    subjects   = [{ apiGroup = "rbac.authorization.k8s.io", kind = "Group", name = "lifeboat:${function}" }]
  }]
}
