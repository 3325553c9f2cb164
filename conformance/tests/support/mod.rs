//! Shared test support: the toy node.

pub mod toy;
