variable "primary_region" {
  description = "The first region with clusters; the trail lives here."
  type        = string
  default     = "us-east-1"
}

variable "secondary_region" {
  description = "The second region with clusters."
  type        = string
  default     = "eu-west-1"
}

variable "primary_infrastructures" {
  description = "Infrastructures whose clusters are in the primary region."
  # The module checks every field and rule; the example passes them through.
  type = any
  default = {
    prod-us = {
      cluster_name = "prod-us-eks"
      settings     = { IsEnabled = true, IntervalInHours = "1", K8sResourceKinds = ["Secret", "ConfigMap"] }
    }
  }
}

variable "secondary_infrastructures" {
  description = "Infrastructures whose clusters are in the secondary region."
  # The module checks every field and rule; the example passes them through.
  type = any
  default = {
    prod-eu = {
      cluster_name = "prod-eu-eks"
      settings     = { IsEnabled = true, IntervalInHours = "6", K8sResourceKinds = ["Secret", "ConfigMap"] }
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

variable "alarm_sns_topic_arn" {
  description = "SNS topic in the primary region for its alarms, or null."
  type        = string
  default     = null
}

variable "secondary_alarm_sns_topic_arn" {
  description = "SNS topic in the secondary region for its alarms, or null (alarms notify topics of their own region)."
  type        = string
  default     = null
}
