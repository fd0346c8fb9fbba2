//! Security analysis of model artifacts (work in progress; see ARCHITECTURE.md).

mod finding;
pub mod python;
mod report;
pub mod rules;
pub mod template;

pub use finding::{Finding, Location, Severity};
pub use report::{FileReport, RULES, Rule, ScanReport, Summary, rule, to_sarif};
