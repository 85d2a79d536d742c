//! A simulated fleet of microservices for `trawl demo`, tests and benchmarks.
//!
//! [`Fleet::request`] produces the spans and records of one user request through a realistic
//! call graph (gateway → auth, user, catalog, cart, order → payment → a third-party payment API,
//! inventory, notification, and as many more services as asked), with logs in English and
//! Korean, user and request ids, `service.version`, and the fault of a [`Scenario`] when it is
//! active. [`otlp`] turns them into OTLP requests and [`sender`] posts them to a server, the way
//! an OpenTelemetry SDK would.

mod fleet;
pub mod otlp;
mod rng;
mod scenario;
pub mod sender;

pub use fleet::{Fleet, FleetConfig};
pub use scenario::{Scenario, Schedule};
