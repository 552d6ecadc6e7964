//! The traceability contract (register 1). Being written.

use crate::registry::Method;

/// The traceability contract's methods.
pub const METHODS: &[Method] = &[];
