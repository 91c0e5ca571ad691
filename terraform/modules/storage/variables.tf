variable "bucket_name" {
  description = "Name of the backup bucket."
  type        = string
}

variable "key_alias" {
  description = "Alias of the customer-managed KMS key, without the alias/ prefix."
  type        = string
}

variable "log_group_prefix" {
  description = "Log groups whose names start with this may use the key (the functions' log groups)."
  type        = string
}

variable "backup_retention_days" {
  description = "Days before a backup expires; null keeps backups."
  type        = number
  default     = 90
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted version is kept."
  type        = number
  default     = 30
}

variable "object_lock" {
  description = "Object Lock default retention, or null."
  type = object({
    mode = string
    days = number
  })
  default = null
}

variable "kms_deletion_window_days" {
  description = "Waiting period of a scheduled key deletion."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
