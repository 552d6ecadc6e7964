//! Integration tests of the contracts: admission, membership and (per module) the
//! rules of each register, named after the rule they check.

mod governance;
mod membership;
