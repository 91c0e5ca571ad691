output "bucket_names" {
  description = "The backup bucket of each region."
  value = {
    (var.primary_region)   = module.lifeboat_primary.bucket_name
    (var.secondary_region) = module.lifeboat_secondary.bucket_name
  }
}

output "restore_function_names" {
  description = "The restore function of each region."
  value = {
    (var.primary_region)   = module.lifeboat_primary.restore_function_name
    (var.secondary_region) = module.lifeboat_secondary.restore_function_name
  }
}

output "trail_arn" {
  description = "The one trail that records both regions."
  value       = module.trail.trail_arn
}

output "restore_from_copy" {
  description = "When the primary region is down: invoke this function with this event, naming the infrastructure and cluster of the secondary region to restore into and the primary's infrastructure whose backup to restore. It reads the copy in the secondary's bucket."
  value = {
    function = module.lifeboat_secondary.restore_function_name
    event = {
      infrastructure = "<an infrastructure of the secondary region>"
      cluster        = "<its cluster>"
      bucket         = module.lifeboat_secondary.bucket_name
      source         = { infrastructure = "<the primary's infrastructure>", backup = "latest" }
      dry_run        = true
    }
  }
}
