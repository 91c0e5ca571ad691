variable "name" {
  description = "Name of the trail."
  type        = string
  default     = "lifeboat-audit"

  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{2,127}$", var.name))
    error_message = "The trail name must be 3 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit."
  }
}

variable "bucket_arns" {
  description = "ARNs of the backup buckets whose object reads and writes the trail records."
  type        = list(string)

  validation {
    condition     = length(var.bucket_arns) > 0 && alltrue([for arn in var.bucket_arns : can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", arn))])
    error_message = "bucket_arns must be a non-empty list of S3 bucket ARNs."
  }
}

variable "function_arns" {
  description = "ARNs of the backup and restore functions whose invocations the trail records."
  type        = list(string)

  validation {
    condition     = length(var.function_arns) > 0 && alltrue([for arn in var.function_arns : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:.+$", arn))])
    error_message = "function_arns must be a non-empty list of Lambda function ARNs."
  }
}

variable "log_bucket_name" {
  description = "Name of the bucket the trail writes to. Defaults to <name>-<account>."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days the trail's log files are kept."
  type        = number
  default     = 365

  validation {
    condition     = var.log_retention_days >= 1
    error_message = "log_retention_days must be at least 1."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted version of a log file is kept."
  type        = number
  default     = 30
}

variable "object_lock" {
  description = "Object Lock default retention of the log files (GOVERNANCE or COMPLIANCE, for days), or null for none."
  type = object({
    mode = string
    days = number
  })
  default = null
}

variable "kms_deletion_window_days" {
  description = "Waiting period of a scheduled deletion of the trail's key."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be from 7 to 30."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
