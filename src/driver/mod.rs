//! The tokio drivers of the protocol cores: each owns sockets and timers and feeds a pure state
//! machine (`crate::bgp::fsm`, `crate::bfd`). They sit above the cores and beside `rib` and
//! `policy`, which they use; nothing in a core imports from here.

pub mod bfd;
pub mod bgp;
pub mod tcp_md5;
pub mod ttl;
