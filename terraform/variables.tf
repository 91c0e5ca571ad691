variable "name_prefix" {
  description = "Prefix of every name this module creates (functions, roles, schedules, alarms, the bucket)."
  type        = string
  default     = "lifeboat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "infrastructures" {
  description = <<-EOT
    The infrastructures to back up, by name. Each is one EKS cluster in this region with its tenants
    as namespaces. `settings` is the infrastructure's backup setting, with the same three fields and
    rules as the functions apply: IsEnabled, IntervalInHours (whole hours, at least 1) and
    K8sResourceKinds (kind names as Kubernetes spells them, or Kind.group to pick a group). `tenants`
    limits the backup to those namespaces (all namespaces when unset), `tenant_selector` to the
    namespaces whose labels match it (env=prod), `exclude_tenants` leaves namespaces out and
    `exclude_kinds` kinds of the setting. For a cluster in another
    account, `backup_role_arn` and `restore_role_arn` name the roles there that the backup and the
    restore function assume, each with its own external id; the backup function may never assume
    the restore role. Removing an infrastructure removes its schedule, alarm and access entries,
    never its backups.
  EOT
  type = map(object({
    cluster_name        = string
    tenants             = optional(list(string))
    backup_role_arn     = optional(string)
    backup_external_id  = optional(string)
    restore_role_arn    = optional(string)
    restore_external_id = optional(string)
    tenant_selector     = optional(string)
    exclude_tenants     = optional(list(string))
    exclude_kinds       = optional(list(string))
    drill = optional(object({
      cluster_name = string
      every_days   = optional(number, 7)
      tenants      = optional(list(string))
    }))
    settings = object({
      IsEnabled        = bool
      IntervalInHours  = string
      K8sResourceKinds = list(string)
    })
  }))

  validation {
    condition     = alltrue([for name, _ in var.infrastructures : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,35}$", name))])
    error_message = "Infrastructure names must be 1 to 36 letters, digits, '.', '_' or '-', starting with a letter or digit: they name S3 folders and schedules."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : can(regex("^[0-9]+$", infra.settings.IntervalInHours)) && try(tonumber(infra.settings.IntervalInHours) >= 1, false)])
    error_message = "IntervalInHours must be a whole number of hours, at least 1, written as an integer (6) or a string of digits (\"6\"); \"1.5\", 0, -1, \"\" and \"abc\" are refused."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : length(infra.settings.K8sResourceKinds) > 0 && alltrue([for kind in infra.settings.K8sResourceKinds : can(regex("^[A-Z][A-Za-z0-9]*(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", kind))])])
    error_message = "K8sResourceKinds must be a non-empty list of kind names as Kubernetes spells them (\"Secret\", \"ConfigMap\", \"Deployment\"), or Kind.group (\"Ingress.networking.k8s.io\")."
  }

  validation {
    condition     = alltrue(flatten([for infra in values(var.infrastructures) : [for kind in infra.settings.K8sResourceKinds : contains(keys(local.kinds), kind)]]))
    error_message = "K8sResourceKinds holds a kind this module has no Kubernetes RBAC rule for: add it to custom_kinds with its API group, resource (plural) and scope."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$", infra.cluster_name))])
    error_message = "cluster_name must be an EKS cluster name: 1 to 100 letters, digits, '-' or '_', starting with a letter or digit."
  }

  validation {
    condition     = alltrue(flatten([for infra in values(var.infrastructures) : [for tenant in coalesce(infra.tenants, []) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", tenant))]]))
    error_message = "tenants must be Kubernetes namespace names: lowercase letters, digits and '-', at most 63 characters."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : length(setsubtract(coalesce(infra.exclude_kinds, []), infra.settings.K8sResourceKinds)) == 0 && length(setsubtract(infra.settings.K8sResourceKinds, coalesce(infra.exclude_kinds, []))) > 0])
    error_message = "exclude_kinds must name kinds of the infrastructure's K8sResourceKinds and leave at least one of them."
  }

  validation {
    condition     = alltrue(flatten([for infra in values(var.infrastructures) : [for tenant in coalesce(infra.exclude_tenants, []) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", tenant))]]))
    error_message = "exclude_tenants must be Kubernetes namespace names: lowercase letters, digits and '-', at most 63 characters."
  }

  validation {
    condition     = alltrue(flatten([for infra in values(var.infrastructures) : [for arn in [infra.backup_role_arn, infra.restore_role_arn] : arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))]]))
    error_message = "backup_role_arn and restore_role_arn must be ARNs of IAM roles (arn:aws:iam::123456789012:role/NAME)."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : (infra.backup_role_arn == null) == (infra.restore_role_arn == null)])
    error_message = "A cluster in another account needs both backup_role_arn and restore_role_arn: separate roles, so the backup function can never assume the one that writes."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : infra.backup_role_arn == null || infra.backup_role_arn != infra.restore_role_arn])
    error_message = "backup_role_arn and restore_role_arn must differ: the backup function must never hold a role that writes to the cluster."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : infra.drill == null || try(infra.drill.every_days == floor(infra.drill.every_days) && infra.drill.every_days >= 1 && infra.drill.every_days <= 90, false)])
    error_message = "drill.every_days must be a whole number of days from 1 to 90."
  }

  validation {
    condition     = alltrue([for infra in values(var.infrastructures) : infra.drill == null || try(can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,99}$", infra.drill.cluster_name)), false)])
    error_message = "drill.cluster_name must be an EKS cluster name of this account: 1 to 100 letters, digits, '-' or '_', starting with a letter or digit."
  }

  validation {
    condition     = alltrue(flatten([for infra in values(var.infrastructures) : [for tenant in try(coalesce(infra.drill.tenants, []), []) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", tenant))]]))
    error_message = "drill.tenants must be Kubernetes namespace names: lowercase letters, digits and '-', at most 63 characters."
  }
}

variable "custom_kinds" {
  description = "Kinds K8sResourceKinds may name beyond the built-in ones this module knows (custom resources, mostly), by the name the setting uses (Kind or Kind.group): their API group, resource (the plural) and scope, from which each cluster's RBAC is rendered."
  type = map(object({
    group      = string
    resource   = string
    namespaced = bool
  }))
  default = {}
}

variable "backup_function_zip" {
  description = "Path of the backup function's zip, as `cargo lambda build --release --arm64 --output-format zip` writes it (target/lambda/backup/bootstrap.zip)."
  type        = string

  validation {
    condition     = endswith(var.backup_function_zip, ".zip")
    error_message = "backup_function_zip must be the path of a .zip built by cargo lambda."
  }
}

variable "restore_function_zip" {
  description = "Path of the restore function's zip (target/lambda/restore/bootstrap.zip)."
  type        = string

  validation {
    condition     = endswith(var.restore_function_zip, ".zip")
    error_message = "restore_function_zip must be the path of a .zip built by cargo lambda."
  }
}

variable "catalog_function_zip" {
  description = "Path of the catalog function's zip (target/lambda/catalog/bootstrap.zip)."
  type        = string

  validation {
    condition     = endswith(var.catalog_function_zip, ".zip")
    error_message = "catalog_function_zip must be the path of a .zip built by cargo lambda."
  }
}

variable "retention_function_zip" {
  description = "Path of the retention function's zip (target/lambda/retention/bootstrap.zip)."
  type        = string

  validation {
    condition     = endswith(var.retention_function_zip, ".zip")
    error_message = "retention_function_zip must be the path of a .zip built by cargo lambda."
  }
}

variable "drill_function_zip" {
  description = "Path of the drill function's zip (target/lambda/drill/bootstrap.zip)."
  type        = string

  validation {
    condition     = endswith(var.drill_function_zip, ".zip")
    error_message = "drill_function_zip must be the path of a .zip built by cargo lambda."
  }
}

variable "catalog_timeout_seconds" {
  description = "Timeout of the catalog function. A diff or describe of a large backup reads every file."
  type        = number
  default     = 300

  validation {
    condition     = var.catalog_timeout_seconds >= 30 && var.catalog_timeout_seconds <= 900
    error_message = "catalog_timeout_seconds must be from 30 to 900 (Lambda's limit)."
  }
}

variable "catalog_memory_mb" {
  description = "Memory of the catalog function, in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.catalog_memory_mb >= 128 && var.catalog_memory_mb <= 10240
    error_message = "catalog_memory_mb must be from 128 to 10240."
  }
}

variable "catalog_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the catalog function."
  type        = number
  default     = 4

  validation {
    condition     = var.catalog_reserved_concurrency >= 1
    error_message = "catalog_reserved_concurrency must be at least 1."
  }
}

variable "catalog_invoker_arns" {
  description = "IAM principal ARNs allowed to invoke the catalog function (the `lifeboat` command-line tool runs as them). Its answers never show a Secret's value, but they tell what a backup holds."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.catalog_invoker_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "catalog_invoker_arns must be ARNs of IAM roles or users."
  }
}

variable "architecture" {
  description = "CPU architecture the zips were built for: arm64 (cargo lambda build --arm64) or x86_64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be \"arm64\" or \"x86_64\"."
  }
}

variable "backup_timeout_seconds" {
  description = "Timeout of the backup function. A run that nears it commits what it stored as PartiallyFailed."
  type        = number
  default     = 300

  validation {
    condition     = var.backup_timeout_seconds >= 30 && var.backup_timeout_seconds <= 900
    error_message = "backup_timeout_seconds must be from 30 to 900 (Lambda's limit)."
  }
}

variable "restore_timeout_seconds" {
  description = "Timeout of the restore function."
  type        = number
  default     = 900

  validation {
    condition     = var.restore_timeout_seconds >= 30 && var.restore_timeout_seconds <= 900
    error_message = "restore_timeout_seconds must be from 30 to 900 (Lambda's limit)."
  }
}

variable "backup_memory_mb" {
  description = "Memory of the backup function, in MB. Lambda gives CPU in proportion to it."
  type        = number
  default     = 512

  validation {
    condition     = var.backup_memory_mb >= 128 && var.backup_memory_mb <= 10240
    error_message = "backup_memory_mb must be from 128 to 10240."
  }
}

variable "restore_memory_mb" {
  description = "Memory of the restore function, in MB."
  type        = number
  default     = 512

  validation {
    condition     = var.restore_memory_mb >= 128 && var.restore_memory_mb <= 10240
    error_message = "restore_memory_mb must be from 128 to 10240."
  }
}

variable "backup_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the backup function."
  type        = number
  default     = 10

  validation {
    condition     = var.backup_reserved_concurrency >= 1
    error_message = "backup_reserved_concurrency must be at least 1."
  }
}

variable "restore_reserved_concurrency" {
  description = "Concurrent executions reserved for (and capping) the restore function. Small on purpose: restores are rare and write to clusters."
  type        = number
  default     = 2

  validation {
    condition     = var.restore_reserved_concurrency >= 1
    error_message = "restore_reserved_concurrency must be at least 1."
  }
}

variable "log_level" {
  description = "Log filter of the functions (RUST_LOG), e.g. info or lifeboat=debug,info."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "How long the functions' CloudWatch log groups keep their logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the values CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "bucket_name" {
  description = "Name of the regional backup bucket. Defaults to <name_prefix>-backups-<account>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3 to 63 lowercase letters, digits, '.' or '-')."
  }
}

variable "backup_retention_days" {
  description = "Days a run is kept before the daily retention run deletes it; each infrastructure's newest keep_completed_backups complete backups are kept whatever their age. null keeps backups until someone deletes them (no retention schedule)."
  type        = number
  default     = 90

  validation {
    condition     = var.backup_retention_days == null || try(var.backup_retention_days >= 1, false)
    error_message = "backup_retention_days must be at least 1, or null to keep backups forever."
  }
}

variable "keep_completed_backups" {
  description = "How many of each infrastructure's newest Completed backups retention keeps whatever their age, so that one whose backups have been failing still has its last good ones."
  type        = number
  default     = 3

  validation {
    condition     = var.keep_completed_backups >= 1 && var.keep_completed_backups <= 1000 && floor(var.keep_completed_backups) == var.keep_completed_backups
    error_message = "keep_completed_backups must be a whole number from 1 to 1000."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days an overwritten or deleted version of a backup object is kept (the bucket is versioned)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "object_lock" {
  description = "S3 Object Lock default retention of every backup version (WORM), on by default: GOVERNANCE lets principals with s3:BypassGovernanceRetention lift it, COMPLIANCE lets nobody. days defaults to backup_retention_days. Set null only for test accounts whose buckets must be emptied at will. Only a new bucket takes it."
  type = object({
    mode = string
    days = optional(number)
  })
  default = { mode = "GOVERNANCE" }

  validation {
    condition     = var.object_lock == null || try(contains(["GOVERNANCE", "COMPLIANCE"], var.object_lock.mode), false)
    error_message = "object_lock.mode must be GOVERNANCE or COMPLIANCE (or object_lock null for none)."
  }

  validation {
    condition     = var.object_lock == null || try(coalesce(var.object_lock.days, var.backup_retention_days) >= 1, false)
    error_message = "object_lock.days must be at least 1; give it when backup_retention_days is null."
  }
}

variable "backup_reader_arns" {
  description = "Principals beside the restore function's role that may read and decrypt backups (a replication role, an auditor's role). The bucket and key policies refuse everyone else, whatever their IAM policies grant."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.backup_reader_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "backup_reader_arns must be ARNs of IAM roles or users."
  }
}

variable "kms_key_administrator_arns" {
  description = "Principals that administer the backup key beside the account root (rotation, policy, deletion). None of them may encrypt or decrypt with it."
  type        = list(string)
  default     = []
}

variable "kms_deletion_window_days" {
  description = "Waiting period before a scheduled deletion of the backup key takes effect. Deleting the key makes every backup unreadable."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be from 7 to 30."
  }
}

variable "restore_invoker_arns" {
  description = "IAM principal ARNs allowed to invoke the restore function: the whole list, nobody by default. Lambda's resource policy adds them; attach the restore_invoke_guard_policy output as an SCP or permissions boundary so that no one else in the account can invoke it through their own IAM policies."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.restore_invoker_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "restore_invoker_arns must be ARNs of IAM roles or users."
  }
}

variable "backup_invoker_arns" {
  description = "IAM principal ARNs allowed to invoke the backup function on demand. The schedules need no entry here."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.backup_invoker_arns : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/.+$", arn))])
    error_message = "backup_invoker_arns must be ARNs of IAM roles or users."
  }
}

variable "replicate_to" {
  description = "Another region's lifeboat backup bucket to copy every new backup version to (its bucket_arn and kms_key_arn outputs), re-encrypted with its key; that deployment must list this one's replication_role_arn in replica_writer_arns. Infrastructure names must differ between the two. Null for no copy."
  type = object({
    bucket_arn  = string
    kms_key_arn = string
  })
  default = null

  validation {
    condition     = var.replicate_to == null || try(can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.replicate_to.bucket_arn)) && can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.replicate_to.kms_key_arn)), false)
    error_message = "replicate_to needs bucket_arn, an S3 bucket ARN (arn:aws:s3:::NAME), and kms_key_arn, a KMS key ARN in the bucket's region."
  }
}

variable "replica_writer_arns" {
  description = "Replication roles of other regions' deployments that copy their backups into this region's bucket (each <name_prefix>-replication-<region>, their replication_role_arn output; they need not exist yet): they may encrypt with this bucket's key, through S3 only."
  type        = list(string)
  default     = []
}

variable "event_bus_name" {
  description = "The EventBridge bus each backup and restore publishes its outcome on (source \"lifeboat\", detail-type \"lifeboat <function> <status>\"; docs/events.md), for rules that route failures to a pager. null publishes nothing."
  type        = string
  default     = "default"

  validation {
    condition     = var.event_bus_name == null || can(regex("^[A-Za-z0-9._-]{1,256}$", var.event_bus_name)) && var.event_bus_name != "none"
    error_message = "event_bus_name must be the name of an EventBridge bus of the account (letters, digits, '.', '_', '-'), or null."
  }
}

variable "schedule_window_minutes" {
  description = "The flexible time window of each backup schedule, in minutes: the scheduler starts a backup at a moment of its choosing within this long after the scheduled time, so a fleet's backups do not all reach S3, STS and EKS in the same second. The run's folder and its idempotency stay keyed to the scheduled time itself. 0 starts each backup on the dot."
  type        = number
  default     = 15

  validation {
    condition     = var.schedule_window_minutes >= 0 && var.schedule_window_minutes <= 1440 && floor(var.schedule_window_minutes) == var.schedule_window_minutes
    error_message = "schedule_window_minutes must be a whole number of minutes from 0 (off) to 1440."
  }
}

variable "schedule_retry_attempts" {
  description = "How often EventBridge Scheduler retries delivering a backup event that Lambda did not accept."
  type        = number
  default     = 3

  validation {
    condition     = var.schedule_retry_attempts >= 0 && var.schedule_retry_attempts <= 185
    error_message = "schedule_retry_attempts must be from 0 to 185."
  }
}

variable "schedule_max_event_age_seconds" {
  description = "How long the scheduler keeps retrying a backup event before it goes to the dead-letter queue."
  type        = number
  default     = 3600

  validation {
    condition     = var.schedule_max_event_age_seconds >= 60 && var.schedule_max_event_age_seconds <= 86400
    error_message = "schedule_max_event_age_seconds must be from 60 to 86400."
  }
}

variable "function_retry_attempts" {
  description = "How often Lambda retries a backup that failed (0 to 2). Retries of a scheduled run land in the same place."
  type        = number
  default     = 2

  validation {
    condition     = var.function_retry_attempts >= 0 && var.function_retry_attempts <= 2
    error_message = "function_retry_attempts must be 0, 1 or 2."
  }
}

variable "manage_eks_access" {
  description = "Create an EKS access entry for each function role on each infrastructure's cluster in this account, mapping it to the Kubernetes group lifeboat:backup or lifeboat:restore, with no EKS access policy: what the groups may do is the kubernetes_rbac output, applied to the cluster. Turn off where access is managed elsewhere."
  type        = bool
  default     = true
}

variable "create_trail" {
  description = "Create the CloudTrail trail that records this region's backup bucket and functions. Turn off when one trail covers several regions (see examples/multi-region) and pass trail_arn."
  type        = bool
  default     = true
}

variable "trail_name" {
  description = "Name of the trail this module creates when create_trail is true."
  type        = string
  default     = "lifeboat-audit"
}

variable "trail_arn" {
  description = "ARN of an existing trail the functions check, when create_trail is false."
  type        = string
  default     = null

  validation {
    condition     = var.trail_arn == null || can(regex("^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:[0-9]{12}:trail/.+$", var.trail_arn))
    error_message = "trail_arn must be a CloudTrail trail ARN."
  }

  validation {
    condition     = var.create_trail || var.trail_arn != null
    error_message = "Set trail_arn when create_trail is false: the functions report against it and restore refuses to run unaudited."
  }
}

variable "trail_object_lock" {
  description = "Object Lock default retention of the trail's log files (GOVERNANCE or COMPLIANCE, for days), or null for none. Only a new bucket takes it."
  type = object({
    mode = string
    days = number
  })
  default = null
}

variable "audit_required" {
  description = "Restore refuses to run unless the trail is logging and covers the bucket and the function."
  type        = bool
  default     = true
}

variable "alarm_sns_topic_arn" {
  description = "SNS topic the alarms notify (function errors, an infrastructure without a successful backup). No notification when null; the alarms still show in CloudWatch."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
