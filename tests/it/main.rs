//! lifeboat's end-to-end tests, one binary with a module per area, each run against the
//! local stack (`infra/test.sh` starts it) with the real function binaries under the
//! Lambda emulator.

mod applications;
mod audit;
mod backup_and_restore;
mod bad_input;
mod benchmark;
mod catalog;
mod custom_resources;
mod drill;
mod eks_authentication;
mod faults;
mod replica;
mod report_log_line;
mod restore_faults;
mod retention;
mod run_events;
mod secrets_stay_secret;
mod settings_validation;
mod trust;
