//! Routing to destinations by dialed-number prefix (TekSIP's "Routing" chapter,
//! issue 4): the model ([`model`]), its validation ([`validate`]) and the
//! lookup table built from it ([`table`]).
//!
//! The same validation runs in the CLI before a change is committed and in the
//! engine before a new configuration replaces the old one, so the messages an
//! operator sees are the same wherever a change comes from.

pub mod model;
pub mod table;
pub mod validate;

pub use model::{Destination, DestinationKind, Prefix, Route, RoutingConfig, Selection};
pub use table::{Candidate, DestId, DestState, RoutingTable};
pub use validate::{
    RoutingError, validate_destination, validate_destination_name, validate_prefix, validate_route,
};
