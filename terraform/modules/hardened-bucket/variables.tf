variable "bucket_name" {
  description = "Name of the bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the KMS key objects are encrypted with by default."
  type        = string
}

variable "object_lock" {
  description = "Object Lock default retention (GOVERNANCE or COMPLIANCE, for days), or null for none. Only a new bucket takes it."
  type = object({
    mode = string
    days = number
  })
  default = null

  validation {
    condition     = var.object_lock == null || (contains(["GOVERNANCE", "COMPLIANCE"], try(var.object_lock.mode, "")) && try(var.object_lock.days >= 1, false))
    error_message = "object_lock must be null or have mode GOVERNANCE or COMPLIANCE and days of at least 1."
  }
}

variable "expiration_days" {
  description = "Days after which an object expires; null keeps objects."
  type        = number
  default     = null
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted version is kept."
  type        = number
  default     = 30
}

variable "policy_documents" {
  description = "JSON policy documents whose statements join the bucket policy beside the TLS rule."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
