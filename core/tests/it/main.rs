//! Integration tests of `jialing-core` against third-party vectors and properties.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ed25519;
mod rfc9162;
mod verify_vectors;
