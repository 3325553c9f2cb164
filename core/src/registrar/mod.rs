//! The registrar (RFC 3261 §10): REGISTER handling over the location service.

pub mod bindings;
pub mod directory;

pub use bindings::{Binding, BindingId, Bindings, NewBinding, Upsert};
pub use directory::{Directory, Extension};
