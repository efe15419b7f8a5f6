//! Test support: real BGP routers (BIRD 2, GoBGP, FRR bgpd, ExaBGP) and the rhi binary as child
//! processes on loopback, with parsers for what each router really holds.
//!
//! Use it from an integration test with `mod support;`. A typical test:
//!
//! ```ignore
//! mod support;
//! use support::*;
//!
//! #[test]
//! fn vip_reaches_bird() {
//!     if !require(&[Peer::Bird]) { return; }
//!     let net = TestNet::allocate();                  // 127.X.Y.0/24, unique to this test
//!     let bird = Bird::start(BirdOptions::new(&net));  // passive, AS 65001 at net.router()
//!     let rhi = RhiProcess::start(&format!("router_id: {inj}\nlocal_as: 65010\n...", inj = net.injector()));
//!     let route = bird.wait_route("10.46.46.46/32", secs(10));
//!     assert_eq!(route.med, Some(300));
//!     rhi.sigterm();
//!     bird.wait_no_route("10.46.46.46/32", secs(5));
//! }
//! ```
//!
//! Rules the harness keeps so tests can run in parallel, in one binary or several:
//! - every test gets its own /24 inside 127/8 ([`TestNet`]), claimed with a kernel-held socket;
//! - every child process is killed by PID and reaped on drop; its temp dir is removed
//!   (`RHI_TEST_KEEP=1` keeps the dirs for a post-mortem);
//! - a failing test prints the logs of every daemon it started;
//! - nothing sleeps to synchronise: [`wait_until`] polls a real condition with a timeout.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod bfd_lab;
pub mod bird;
pub mod exabgp;
pub mod frr;
pub mod gobgp;
pub mod haproxy;
pub mod net;
pub mod process;
pub mod rhi;
pub mod route;
pub mod router;
pub mod wait;

pub use bird::{Bird, BirdOptions, BirdPeer};
pub use exabgp::{Exabgp, ExabgpOptions};
pub use frr::{Frr, FrrOptions};
pub use gobgp::{Gobgp, GobgpOptions};
pub use haproxy::{Haproxy, HaproxyOptions};
pub use net::TestNet;
pub use process::{require, Daemon, Peer};
pub use rhi::{rhi_bin, rhi_command, OnePeerConfig, RhiProcess};
pub use route::{community, Origin, Route};
pub use router::Router;
pub use wait::{secs, wait_until, wait_until_ok, POLL_INTERVAL};

/// Default BGP port for every daemon in the lab: unprivileged, and distinct addresses keep
/// daemons from colliding on it.
pub const BGP_PORT: u16 = 1179;
/// AS of the router under test in the default options.
pub const ROUTER_AS: u32 = 65001;
/// AS of the injector (rhi, or the GoBGP/ExaBGP stand-in) in the default options.
pub const INJECTOR_AS: u32 = 65010;
/// A next hop for IPv4 announcements on loopback. Never a 127/8 address: FRR resets the session
/// ("Martian nexthop") and GoBGP treats such an UPDATE as a withdraw.
pub const NEXT_HOP_V4: &str = "192.0.2.6";
/// The IPv6 counterpart of [`NEXT_HOP_V4`].
pub const NEXT_HOP_V6: &str = "2001:db8::6";
