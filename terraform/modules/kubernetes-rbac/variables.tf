variable "infrastructure" {
  description = "The infrastructure whose cluster this RBAC is for; it names the ClusterRoles and bindings."
  type        = string
}

variable "kinds" {
  description = "The API resources of the infrastructure's backup setting: group (\"\" for the core group), resource (the plural) and whether it is namespaced."
  type = list(object({
    group      = string
    resource   = string
    namespaced = bool
  }))
}
