//! Integration tests of the contracts: admission, membership and (per module) the
//! rules of each register, named after the rule they check.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod block_validator;
mod credit;
mod credit_grades;
mod data;
mod digital_link;
mod epcis_capture;
mod epcis_examples;
mod executor;
mod governance;
mod membership;
mod trace;
