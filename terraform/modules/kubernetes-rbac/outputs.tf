output "manifest" {
  description = "The ClusterRoles and ClusterRoleBindings, as one YAML stream for kubectl apply -f."
  value       = join("---\n", [for object in concat([local.backup_role, local.restore_role], local.bindings) : yamlencode(object)])
}
