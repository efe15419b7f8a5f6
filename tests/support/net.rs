//! Per-test loopback address blocks.
//!
//! Linux routes all of 127.0.0.0/8 to `lo`, so every test can have its own 127.X.Y.0/24 and every
//! daemon can listen on the same port (1179) at its own address. 127.0.0.0/24 is left alone: the
//! shared manual peer lab lives there.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

use super::BGP_PORT;

/// Blocks 127.1.0.0/24 ..= 127.254.255.0/24.
const BLOCKS: u32 = 254 * 256;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A 127.X.Y.0/24 block owned by one test: `.1` is the router, `.2` the injector, other hosts
/// are free for extra nodes (ECMP, active/passive pairs).
///
/// Ownership is enforced by the kernel, not by convention: the block is claimed by binding a UDP
/// socket to 127.X.Y.1:1179 (BGP uses TCP, so the router can still listen there) and released
/// when this value is dropped or the process dies, however it dies. Test binaries running at the
/// same time therefore never share a block, and a block still busy with a daemon orphaned by an
/// earlier crashed run is skipped. Keep the `TestNet` alive at least as long as the daemons
/// using its addresses (declare it first in the test).
#[derive(Debug)]
pub struct TestNet {
    x: u8,
    y: u8,
    _claim: UdpSocket,
}

impl TestNet {
    /// Claims a free block. The search starts at an offset derived from the PID so that
    /// concurrent test binaries rarely even probe the same blocks.
    pub fn allocate() -> TestNet {
        let base = std::process::id().wrapping_mul(2_654_435_761) % BLOCKS;
        for _ in 0..BLOCKS {
            let index = (base + NEXT.fetch_add(1, Ordering::Relaxed)) % BLOCKS;
            let x = 1 + (index / 256) as u8;
            let y = (index % 256) as u8;
            if let Some(claim) = Self::claim(x, y) {
                return TestNet { x, y, _claim: claim };
            }
        }
        panic!("no free 127.X.Y.0/24 block for this test (all {BLOCKS} are claimed?)");
    }

    fn claim(x: u8, y: u8) -> Option<UdpSocket> {
        let router = SocketAddr::new(Ipv4Addr::new(127, x, y, 1).into(), BGP_PORT);
        let claim = UdpSocket::bind(router).ok()?;
        // A leftover daemon from a killed test run may still hold the BGP port on the router
        // or injector address: probing with a listener that is closed at once detects it.
        for host in [1, 2] {
            let addr = SocketAddr::new(Ipv4Addr::new(127, x, y, host).into(), BGP_PORT);
            TcpListener::bind(addr).ok()?;
        }
        Some(claim)
    }

    /// 127.X.Y.`host`.
    pub fn addr(&self, host: u8) -> IpAddr {
        Ipv4Addr::new(127, self.x, self.y, host).into()
    }

    /// Where the router under test listens/connects from: 127.X.Y.1.
    pub fn router(&self) -> IpAddr {
        self.addr(1)
    }

    /// The node that announces the VIPs (rhi, or its stand-in): 127.X.Y.2.
    pub fn injector(&self) -> IpAddr {
        self.addr(2)
    }

    /// `addr(host)` as an IPv4 address, e.g. for a BGP router id.
    pub fn addr_v4(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, self.x, self.y, host)
    }

    /// "127.X.Y.0/24", for messages.
    pub fn cidr(&self) -> String {
        format!("127.{}.{}.0/24", self.x, self.y)
    }
}
