//! GTSM (RFC 5082) and the outgoing TTL: the IP socket options behind a peer's `ttl_security`
//! and `ttl`.
//!
//! On a session's own socket this is two options per IP version: the TTL (hop limit) our packets
//! leave with (`IP_TTL`, `IPV6_UNICAST_HOPS`) and the lowest TTL the kernel accepts
//! (`IP_MINTTL`, `IPV6_MINHOPCOUNT`), below which it drops a segment before TCP sees it. An
//! `AF_INET6` socket may carry IPv4 (a dual-stack `[::]` listener accepting an IPv4 router,
//! which then shows up as `::ffff:a.b.c.d`): its IPv4 packets obey the `SOL_IP` options, not
//! the IPv6 ones, so such a socket gets both sets.
//!
//! Outbound, the options are set before `connect`: the SYN already leaves with TTL 255 and a
//! SYN-ACK below the minimum is dropped like every later segment.
//!
//! Inbound is the hard part. Setting `IP_MINTTL` on the accepted socket (what BIRD and FRR do)
//! comes too late: the handshake completed at whatever TTL, and the router's OPEN may already be
//! queued on the socket, accepted at any TTL, before `accept()` returns. And `IP_MINTTL` on the
//! listening socket applies to every peer that connects to it, GTSM or not. So the listening
//! sockets carry a classic BPF socket filter instead ([`protect_listener`]): for each GTSM
//! peer's source address it drops every segment whose TTL is below that peer's minimum, and
//! passes everything else (other peers, other TTL policies) untouched. A TCP socket's filter
//! sees the segment from its TCP header on, but the IP header stays reachable at `SKF_NET_OFF`;
//! the filter runs on the listener for the SYN and the handshake's last ACK, and the accepted
//! socket inherits it (the kernel copies it at clone time) for every later segment, the first
//! OPEN included. A below-minimum SYN gets no SYN-ACK, a below-minimum OPEN on an established
//! connection is never delivered: the session cannot pass OpenSent. The accepted socket then
//! also gets the peer's own options ([`apply`]), so that `getsockopt` shows them and the
//! protection does not depend on a filter that reload may replace.
//!
//! The SYN-ACK leaves with the *listener's* TTL, before rhi knows which peer is calling, and a
//! router that enforces GTSM drops a SYN-ACK with TTL 64. So the listener also sends with the
//! highest outgoing TTL any of its peers asks for (255 with a GTSM peer); each accepted socket is
//! set to its own peer's TTL at once.

use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use tracing::{debug, error, info};

use crate::config::{PeerConfig, TtlPolicy};

/// Sets `policy` on a session's socket: before `connect` (outbound) or as soon as it is
/// accepted (inbound). The default policy changes nothing.
pub fn apply(socket: &impl AsFd, policy: TtlPolicy) -> io::Result<()> {
    let fd = socket.as_fd();
    let v6 = is_ipv6(fd)?;
    if let Some(ttl) = policy.outgoing() {
        set_outgoing(fd, v6, ttl)?;
    }
    if let Some(minimum) = policy.minimum() {
        set_int(fd, libc::IPPROTO_IP, libc::IP_MINTTL, minimum.into(), "IP_MINTTL")?;
        if v6 {
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, minimum.into(), "IPV6_MINHOPCOUNT")?;
        }
    }
    Ok(())
}

/// Filters a listening socket for these peers (see the module comment): segments from a GTSM
/// peer's address below its minimum TTL are dropped, and SYN-ACKs leave with the highest TTL
/// any peer wants. Called at start and on every reload; a listener with no GTSM peer left loses
/// its filter. Returns the number of GTSM peers filtered, for the log.
pub fn protect_listener(listener: &impl AsFd, peers: &[PeerConfig]) -> io::Result<usize> {
    let fd = listener.as_fd();
    let v6 = is_ipv6(fd)?;
    let gtsm: Vec<(IpAddr, u8)> = peers
        .iter()
        .filter_map(|p| p.ttl.minimum().map(|min| (crate::listener::canonical(p.address), min)))
        // An IPv4 listener never sees an IPv6 peer.
        .filter(|(address, _)| v6 || address.is_ipv4())
        .collect();
    if gtsm.is_empty() {
        detach_filter(fd)?;
    } else {
        attach_filter(fd, &filter_program(&gtsm))?;
    }
    // Back to the kernel's default (-1) when no peer asks for a TTL.
    let outgoing = peers.iter().filter_map(|p| p.ttl.outgoing()).max().map_or(-1, libc::c_int::from);
    set_outgoing_raw(fd, v6, outgoing)?;
    Ok(gtsm.len())
}

/// The listening sockets' GTSM filters and TTL, owned by the speaker (which applies reloads).
/// Like `tcp_md5::ListenerKeys`, it reaches each listener through a duplicate of its
/// descriptor: the same socket the accept loop owns.
#[derive(Default)]
pub struct ListenerTtl {
    listeners: Vec<OwnedFd>,
}

impl ListenerTtl {
    /// Takes a bound listening socket (before `listen`, so that no connection is accepted
    /// unfiltered) and protects it for `peers`. An error here stops the start.
    pub fn adopt(&mut self, socket: &impl AsFd, peers: &[PeerConfig]) -> io::Result<()> {
        let fd = socket.as_fd().try_clone_to_owned()?;
        let filtered = protect_listener(&fd, peers)?;
        log_protected(&fd, filtered);
        self.listeners.push(fd);
        Ok(())
    }

    /// On reload: the filters follow the new peers. Failures are logged; the old filter stays.
    pub fn apply(&self, peers: &[PeerConfig]) {
        for fd in &self.listeners {
            match protect_listener(fd, peers) {
                Ok(filtered) => log_protected(fd, filtered),
                Err(error) => {
                    let listen = local_address(fd);
                    error!(?listen, %error, "GTSM filter of the listening socket not updated")
                }
            }
        }
    }
}

fn log_protected(fd: &OwnedFd, filtered: usize) {
    let listen = local_address(fd);
    if filtered > 0 {
        info!(
            ?listen,
            gtsm_peers = filtered,
            "GTSM: the listening socket drops these peers' segments below their minimum TTL"
        );
    } else {
        debug!(?listen, "no GTSM peer on the listening socket");
    }
}

fn local_address(fd: &OwnedFd) -> Option<SocketAddr> {
    socket2::SockRef::from(fd).local_addr().ok()?.as_socket()
}

fn set_outgoing(fd: BorrowedFd<'_>, v6: bool, ttl: u8) -> io::Result<()> {
    set_outgoing_raw(fd, v6, ttl.into())
}

fn set_outgoing_raw(fd: BorrowedFd<'_>, v6: bool, ttl: libc::c_int) -> io::Result<()> {
    // IPv4 on an IPv6 socket (v4-mapped) leaves with the IP_TTL: set it on both kinds.
    set_int(fd, libc::IPPROTO_IP, libc::IP_TTL, ttl, "IP_TTL")?;
    if v6 {
        set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, ttl, "IPV6_UNICAST_HOPS")?;
    }
    Ok(())
}

fn is_ipv6(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: an all-zero sockaddr_storage is valid; getsockname writes at most `len` bytes.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let rc = unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut storage).cast(), &mut len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(libc::c_int::from(storage.ss_family) == libc::AF_INET6)
}

fn set_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
    what: &str,
) -> io::Result<()> {
    // SAFETY: the option value is a c_int that lives across the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let error = io::Error::last_os_error();
        Err(io::Error::new(error.kind(), format!("setsockopt {what} {value}: {error}")))
    }
}

fn attach_filter(fd: BorrowedFd<'_>, program: &[libc::sock_filter]) -> io::Result<()> {
    let len = u16::try_from(program.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many GTSM peers for one socket filter"))?;
    let fprog = libc::sock_fprog { len, filter: program.as_ptr().cast_mut() };
    // SAFETY: the kernel copies the program during the call; `program` outlives it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&raw const fprog).cast(),
            mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let error = io::Error::last_os_error();
        Err(io::Error::new(error.kind(), format!("attach the GTSM socket filter: {error}")))
    }
}

fn detach_filter(fd: BorrowedFd<'_>) -> io::Result<()> {
    match set_int(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, 0, "SO_DETACH_FILTER") {
        // No filter attached: nothing to remove.
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) || error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

// Classic BPF, as in <linux/filter.h>.
const BPF_LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const BPF_LD_B_ABS: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
const BPF_RSH_K: u16 = (libc::BPF_ALU | libc::BPF_RSH | libc::BPF_K) as u16;
const BPF_JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const BPF_JGE_K: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const BPF_JA: u16 = (libc::BPF_JMP | libc::BPF_JA) as u16;
const BPF_RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
/// A return value: keep the whole segment.
const ACCEPT: u32 = u32::MAX;
/// A return value: drop the segment.
const DROP: u32 = 0;

/// Offset `at` in the IP header: a TCP socket filter starts at the TCP header, and negative
/// offsets from SKF_NET_OFF reach the network header.
fn net(at: u32) -> u32 {
    (libc::SKF_NET_OFF as u32).wrapping_add(at)
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The program: by IP version, then one self-contained block per GTSM peer (source address
/// equal → TTL at least the minimum, or drop); anything else is accepted.
///
/// ```text
///   ldb [net+0]; rsh #4; jeq #6 → ja v6
///   v4: { ld [net+12]; jeq addr ? : next; ldb [net+8]; jge min ? accept : drop }* ret accept
///   v6: { ld [net+8..24] ×4 (jeq each ? : next); ldb [net+7]; jge min ? accept : drop }* ret accept
/// ```
fn filter_program(peers: &[(IpAddr, u8)]) -> Vec<libc::sock_filter> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for (address, minimum) in peers {
        match address {
            IpAddr::V4(a) => {
                // ld src; jeq a → next insn, else skip the 4 that follow (to the next block).
                v4.push(stmt(BPF_LD_W_ABS, net(12)));
                v4.push(jump(BPF_JEQ_K, u32::from_be_bytes(a.octets()), 0, 4));
                v4.push(stmt(BPF_LD_B_ABS, net(8)));
                v4.push(jump(BPF_JGE_K, (*minimum).into(), 0, 1));
                v4.push(stmt(BPF_RET_K, ACCEPT));
                v4.push(stmt(BPF_RET_K, DROP));
            }
            IpAddr::V6(a) => {
                let address = u128::from(*a);
                for word in 0..4u8 {
                    let at = 8 + 4 * u32::from(word);
                    // The address's 32-bit words, most significant first (network order).
                    let value = (address >> (96 - 32 * u32::from(word))) as u32;
                    v6.push(stmt(BPF_LD_W_ABS, net(at)));
                    // To the next block: the remaining word pairs, then ldb, jge and two rets.
                    v6.push(jump(BPF_JEQ_K, value, 0, 2 * (3 - word) + 4));
                }
                v6.push(stmt(BPF_LD_B_ABS, net(7)));
                v6.push(jump(BPF_JGE_K, (*minimum).into(), 0, 1));
                v6.push(stmt(BPF_RET_K, ACCEPT));
                v6.push(stmt(BPF_RET_K, DROP));
            }
        }
    }
    v4.push(stmt(BPF_RET_K, ACCEPT));
    v6.push(stmt(BPF_RET_K, ACCEPT));
    let mut program =
        vec![stmt(BPF_LD_B_ABS, net(0)), stmt(BPF_RSH_K, 4), jump(BPF_JEQ_K, 6, 0, 1), stmt(BPF_JA, v4.len() as u32)];
    program.extend(v4);
    program.extend(v6);
    program
}

/// A peer's policy in a log field: "gtsm hops 1 (ttl 255 out, >= 255 in)", "ttl 255 out".
pub fn describe(policy: TtlPolicy) -> Option<String> {
    match policy {
        TtlPolicy::Default => None,
        TtlPolicy::Outgoing(ttl) => Some(format!("ttl {ttl} out")),
        TtlPolicy::Gtsm { hops } => {
            Some(format!("gtsm hops {hops} (ttl 255 out, >= {} in)", policy.minimum().unwrap_or(255)))
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against the real kernel on loopback: what the options and the filter make it do.

    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
    use std::time::Duration;

    use socket2::{Domain, Socket, Type};

    use super::*;

    const GTSM: TtlPolicy = TtlPolicy::Gtsm { hops: 1 };
    /// Long enough for a SYN-ACK on loopback, short enough that a dropped SYN (first
    /// retransmission after 1 s) fails the connect.
    const CONNECT: Duration = Duration::from_millis(700);

    fn get_int(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> libc::c_int {
        let mut value: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        let rc = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, (&raw mut value).cast(), &mut len) };
        assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
        value
    }

    /// A client from `source` whose packets leave with `ttl`.
    fn connect(source: IpAddr, ttl: u8, to: SocketAddr) -> io::Result<TcpStream> {
        let socket = Socket::new(Domain::for_address(to), Type::STREAM, None)?;
        socket.bind(&SocketAddr::new(source, 0).into())?;
        if to.is_ipv6() {
            socket.set_unicast_hops_v6(ttl.into())?;
        } else {
            socket.set_ttl(ttl.into())?;
        }
        socket.connect_timeout(&to.into(), CONNECT)?;
        Ok(socket.into())
    }

    fn listen(at: SocketAddr) -> TcpListener {
        TcpListener::bind(at).unwrap()
    }

    fn peer(address: IpAddr, ttl: TtlPolicy) -> PeerConfig {
        PeerConfig { passive: true, ttl, ..PeerConfig::example(&address.to_string(), address) }
    }

    #[test]
    fn options_are_set_for_both_ip_versions_on_an_ipv6_socket() {
        let v4 = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        v4.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).unwrap();
        apply(&v4, GTSM).unwrap();
        assert_eq!(get_int(v4.as_fd(), libc::IPPROTO_IP, libc::IP_TTL), 255);
        assert_eq!(get_int(v4.as_fd(), libc::IPPROTO_IP, libc::IP_MINTTL), 255);

        let v6 = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
        v6.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into()).unwrap();
        apply(&v6, TtlPolicy::Gtsm { hops: 2 }).unwrap();
        for (level, name) in [(libc::IPPROTO_IP, libc::IP_TTL), (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS)] {
            assert_eq!(get_int(v6.as_fd(), level, name), 255);
        }
        for (level, name) in [(libc::IPPROTO_IP, libc::IP_MINTTL), (libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT)] {
            assert_eq!(get_int(v6.as_fd(), level, name), 254);
        }

        let plain = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        plain.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into()).unwrap();
        apply(&plain, TtlPolicy::Outgoing(17)).unwrap();
        assert_eq!(get_int(plain.as_fd(), libc::IPPROTO_IP, libc::IP_TTL), 17);
        assert_eq!(get_int(plain.as_fd(), libc::IPPROTO_IP, libc::IP_MINTTL), 0);
    }

    /// IP_MINTTL on a socket drops what arrives below it, and our outgoing TTL gets through:
    /// IPv4, and IPv4 on a dual-stack IPv6 socket (which obeys the SOL_IP options).
    #[test]
    fn the_kernel_enforces_the_minimum_and_sends_the_ttl() {
        for at in [SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))] {
            let listener = listen(at);
            apply(&listener, GTSM).unwrap();
            let to = SocketAddr::from((Ipv4Addr::LOCALHOST, listener.local_addr().unwrap().port()));
            let source = IpAddr::V4(Ipv4Addr::LOCALHOST);
            assert!(connect(source, 64, to).is_err(), "TTL 64 connected to {at} with IP_MINTTL 255");
            assert!(connect(source, 254, to).is_err(), "TTL 254 connected to {at} with IP_MINTTL 255");
            connect(source, 255, to).unwrap_or_else(|e| panic!("TTL 255 to {at}: {e}"));
        }
        let listener = listen(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)));
        apply(&listener, GTSM).unwrap();
        let to = listener.local_addr().unwrap();
        let source = IpAddr::V6(Ipv6Addr::LOCALHOST);
        assert!(connect(source, 64, to).is_err(), "hop limit 64 connected with IPV6_MINHOPCOUNT 255");
        connect(source, 255, to).unwrap();
    }

    /// A GTSM peer and a plain one on one listener: each gets its own rule, and the accepted
    /// socket keeps the filter, so data sent below the minimum after the handshake is dropped.
    #[test]
    fn the_listener_filter_applies_per_peer() {
        let (gtsm_v4, plain_v4) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
        let peers = [
            peer(gtsm_v4.into(), GTSM),
            peer(plain_v4.into(), TtlPolicy::Default),
            peer(Ipv6Addr::LOCALHOST.into(), TtlPolicy::Gtsm { hops: 2 }),
        ];
        for at in [SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))] {
            let listener = listen(at);
            let filtered = protect_listener(&listener, &peers).unwrap();
            assert_eq!(filtered, if at.is_ipv6() { 2 } else { 1 });
            // SYN-ACKs leave with the highest TTL a peer wants.
            assert_eq!(get_int(listener.as_fd(), libc::IPPROTO_IP, libc::IP_TTL), 255);
            let port = listener.local_addr().unwrap().port();
            let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            assert!(connect(gtsm_v4.into(), 64, to).is_err(), "{at}: the GTSM peer connected with TTL 64");
            assert!(connect(gtsm_v4.into(), 254, to).is_err(), "{at}: the GTSM peer connected with TTL 254");
            connect(plain_v4.into(), 64, to).unwrap_or_else(|e| panic!("{at}: the plain peer with TTL 64: {e}"));
            connect(gtsm_v4.into(), 255, to).unwrap_or_else(|e| panic!("{at}: the GTSM peer with TTL 255: {e}"));
            if at.is_ipv6() {
                let to = SocketAddr::from((Ipv6Addr::LOCALHOST, port));
                let source = IpAddr::V6(Ipv6Addr::LOCALHOST);
                assert!(connect(source, 253, to).is_err(), "hops 2 accepted hop limit 253");
                connect(source, 254, to).unwrap();
            }

            // Handshake at 255, then data at 64: never delivered, though the connection is up.
            let mut client = connect(gtsm_v4.into(), 255, to).unwrap();
            let (mut accepted, _) = loop {
                let (stream, from) = listener.accept().unwrap();
                // Earlier test connections are queued too: take the last one.
                if from.port() == client.local_addr().unwrap().port() {
                    break (stream, from);
                }
            };
            Socket::from(client.try_clone().unwrap()).set_ttl(64).unwrap();
            client.write_all(b"open").unwrap();
            accepted.set_read_timeout(Some(Duration::from_millis(1500))).unwrap();
            let mut buf = [0u8; 4];
            let read = accepted.read(&mut buf);
            assert!(read.is_err(), "{at}: data sent with TTL 64 was delivered: {read:?}");
            // The same bytes, retransmitted at 255, get through: the filter judged the TTL.
            Socket::from(client.try_clone().unwrap()).set_ttl(255).unwrap();
            accepted.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            accepted.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"open");

            // Without GTSM peers the filter goes and the listener sends with the default TTL.
            assert_eq!(protect_listener(&listener, &peers[1..2]).unwrap(), 0);
            connect(gtsm_v4.into(), 64, to).unwrap();
        }
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe(TtlPolicy::Default), None);
        assert_eq!(describe(GTSM).unwrap(), "gtsm hops 1 (ttl 255 out, >= 255 in)");
    }
}
