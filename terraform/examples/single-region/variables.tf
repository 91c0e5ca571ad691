variable "region" {
  description = "The region of the clusters, the bucket and the functions."
  type        = string
  default     = "us-east-1"
}

variable "infrastructures" {
  description = "Infrastructures to back up (see the module's variable of the same name)."
  # The module checks every field and rule; the example passes them through.
  type = any
  default = {
    prod = {
      cluster_name = "prod-eks"
      tenants      = ["duploservices-billing"]
      settings     = { IsEnabled = true, IntervalInHours = "1", K8sResourceKinds = ["Secret", "ConfigMap"] }
    }
  }
}

variable "backup_function_zip" {
  description = "The backup function's zip from cargo lambda."
  type        = string
  default     = "../../../target/lambda/backup/bootstrap.zip"
}

variable "restore_function_zip" {
  description = "The restore function's zip from cargo lambda."
  type        = string
  default     = "../../../target/lambda/restore/bootstrap.zip"
}

variable "catalog_function_zip" {
  description = "The catalog function's zip from cargo lambda."
  type        = string
  default     = "../../../target/lambda/catalog/bootstrap.zip"
}

variable "retention_function_zip" {
  description = "The retention function's zip from cargo lambda."
  type        = string
  default     = "../../../target/lambda/retention/bootstrap.zip"
}

variable "drill_function_zip" {
  description = "The drill function's zip from cargo lambda."
  type        = string
  default     = "../../../target/lambda/drill/bootstrap.zip"
}

variable "architecture" {
  description = "What the zips were built for: arm64 or x86_64."
  type        = string
  default     = "arm64"
}

variable "manage_eks_access" {
  description = "Create the EKS access entries for the function roles."
  type        = bool
  default     = true
}

variable "restore_invoker_arns" {
  description = "Principals allowed to invoke restore."
  type        = list(string)
  default     = []
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic for the alarms, or null."
  type        = string
  default     = null
}

variable "object_lock" {
  description = "Object Lock default retention of backups (the module's default: GOVERNANCE for the retention days); null turns it off, for test accounts only."
  type = object({
    mode = string
    days = optional(number)
  })
  default = { mode = "GOVERNANCE" }
}

variable "custom_kinds" {
  description = "Kinds beyond the built-in ones the settings may name (see the module's variable of the same name)."
  type = map(object({
    group      = string
    resource   = string
    namespaced = bool
  }))
  default = {}
}

variable "schedule_window_minutes" {
  description = "The flexible time window of each backup schedule (see the module's variable of the same name)."
  type        = number
  default     = 15
}
