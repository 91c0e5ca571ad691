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

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted version is kept."
  type        = number
  default     = 30
}

variable "object_lock" {
  description = "Object Lock default retention (GOVERNANCE or COMPLIANCE, for days), or null for none."
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

variable "backup_role_arn" {
  description = "Role of the backup function: may write backups, create-only, and use the key to do so."
  type        = string
}

variable "restore_role_arn" {
  description = "Role of the restore function: may read and decrypt backups."
  type        = string
}

variable "retention_role_arn" {
  description = "Role of the retention function: may read manifests and delete versions Object Lock no longer holds, and nothing else."
  type        = string
}

variable "catalog_role_arn" {
  description = "Role of the catalog function: may read and decrypt backups (list it in reader_arns too) and fingerprint with its own HMAC key."
  type        = string
}

variable "drill_role_arn" {
  description = "Role of the drill function: may read and decrypt backups, and create drill records (drill-*.json) beside them, nothing else."
  type        = string
}

variable "replication_role_arn" {
  description = "Role S3 copies this bucket's versions to another region with: may decrypt through S3. Null for no copy."
  type        = string
  default     = null
}

variable "replica_writer_arns" {
  description = "Replication roles of other regions that copy their backups into this bucket: may encrypt with this key through S3."
  type        = list(string)
  default     = []
}

variable "reader_arns" {
  description = "Further principals (roles, users) that may read and decrypt backups, such as a replication role or an auditor."
  type        = list(string)
  default     = []
}

variable "key_administrator_arns" {
  description = "Principals that administer the key beside the account root. None may encrypt or decrypt with it."
  type        = list(string)
  default     = []
}
