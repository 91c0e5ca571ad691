//! The end-to-end test harness: the local stack (`infra/up.sh`), the Lambda emulator
//! running the real function binaries (`infra/lambda.sh`), and builders for events and
//! tenants. The stack's addresses come from the environment `infra/test.sh` sets; a
//! test run without them fails and says what to run, it never skips.
//!
//! - [`stack`]: the clients and addresses, unique names, waiting on a condition;
//! - [`tenants`]: namespaces made, seeded and read back;
//! - [`invocation`]: events, invoking the functions, reading their reports;
//! - [`storage`]: the bucket, read and, as an attacker with write access would, changed;
//! - [`eks`] and [`trails`]: the EKS side of the stack, and CloudTrail selectors;
//! - [`faults`]: proxies that inject faults between a function and what it calls.

pub mod eks;
pub mod faults;
pub mod invocation;
pub mod stack;
pub mod storage;
pub mod tenants;
pub mod trails;

pub use invocation::*;
pub use stack::*;
pub use storage::list_items;
pub use tenants::*;
