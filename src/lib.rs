//! rhi — Route Health Injection.
//!
//! A BGP speaker that announces this node's service addresses (VIPs) to its upstream routers and
//! withdraws them when the service behind them fails. The crate is a library so that integration
//! tests, benchmarks and fuzz targets reach the internals; the `rhi` binary is a thin CLI over it.

pub mod accept_backoff;
pub mod bfd;
pub mod bgp;
pub mod config;
pub mod control;
pub mod daemon;
pub mod driver;
pub mod exabgp;
pub mod health;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod prefix_map;
pub mod rib;
pub mod speaker;
pub mod status;
