//! The control socket: `rhi status`, `announce`, `drain`, ... talk to the running daemon here.

pub mod client;
pub mod proto;
pub mod server;
