//! Shared test support: the toy node.

pub(crate) mod toy;
