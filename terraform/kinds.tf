# The API resource behind each kind a setting may name, from which each cluster's
# Kubernetes RBAC is rendered: RBAC names resources by group and plural, settings name
# kinds. Custom resources come from var.custom_kinds. A kind is found by the name the
# setting uses: "Ingress", or "Ingress.networking.k8s.io" to pick a group.

locals {
  builtin_kinds = merge(
    { for kind, r in {
      ConfigMap             = "configmaps"
      Endpoints             = "endpoints"
      LimitRange            = "limitranges"
      PersistentVolumeClaim = "persistentvolumeclaims"
      Pod                   = "pods"
      ReplicationController = "replicationcontrollers"
      ResourceQuota         = "resourcequotas"
      Secret                = "secrets"
      Service               = "services"
      ServiceAccount        = "serviceaccounts"
      } : kind => { group = "", resource = r, namespaced = true }
    },
    {
      Namespace        = { group = "", resource = "namespaces", namespaced = false }
      PersistentVolume = { group = "", resource = "persistentvolumes", namespaced = false }
    },
    { for kind, r in {
      ControllerRevision = "controllerrevisions"
      DaemonSet          = "daemonsets"
      Deployment         = "deployments"
      ReplicaSet         = "replicasets"
      StatefulSet        = "statefulsets"
    } : kind => { group = "apps", resource = r, namespaced = true } },
    {
      CronJob                  = { group = "batch", resource = "cronjobs", namespaced = true }
      Job                      = { group = "batch", resource = "jobs", namespaced = true }
      HorizontalPodAutoscaler  = { group = "autoscaling", resource = "horizontalpodautoscalers", namespaced = true }
      PodDisruptionBudget      = { group = "policy", resource = "poddisruptionbudgets", namespaced = true }
      Ingress                  = { group = "networking.k8s.io", resource = "ingresses", namespaced = true }
      NetworkPolicy            = { group = "networking.k8s.io", resource = "networkpolicies", namespaced = true }
      IngressClass             = { group = "networking.k8s.io", resource = "ingressclasses", namespaced = false }
      EndpointSlice            = { group = "discovery.k8s.io", resource = "endpointslices", namespaced = true }
      Role                     = { group = "rbac.authorization.k8s.io", resource = "roles", namespaced = true }
      RoleBinding              = { group = "rbac.authorization.k8s.io", resource = "rolebindings", namespaced = true }
      ClusterRole              = { group = "rbac.authorization.k8s.io", resource = "clusterroles", namespaced = false }
      ClusterRoleBinding       = { group = "rbac.authorization.k8s.io", resource = "clusterrolebindings", namespaced = false }
      StorageClass             = { group = "storage.k8s.io", resource = "storageclasses", namespaced = false }
      PriorityClass            = { group = "scheduling.k8s.io", resource = "priorityclasses", namespaced = false }
      CustomResourceDefinition = { group = "apiextensions.k8s.io", resource = "customresourcedefinitions", namespaced = false }
    },
  )
  # Kind.group spellings of the built-in kinds, so a setting may name either.
  qualified_kinds = { for kind, r in local.builtin_kinds : "${kind}.${r.group}" => r if r.group != "" }
  kinds           = merge(local.builtin_kinds, local.qualified_kinds, var.custom_kinds)

  infrastructure_kinds = {
    for name, infra in var.infrastructures : name => [
      for kind in infra.settings.K8sResourceKinds : local.kinds[kind] if !contains(coalesce(infra.exclude_kinds, []), kind)
    ]
  }
}

module "kubernetes_rbac" {
  source   = "./modules/kubernetes-rbac"
  for_each = local.infrastructure_kinds

  infrastructure = each.key
  kinds          = each.value
}
