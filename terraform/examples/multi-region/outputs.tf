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
