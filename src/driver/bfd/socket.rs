//! The UDP sockets of BFD: one receiving socket per local address and port (RFC 5881 single-hop
//! on 3784, RFC 5883 multihop on 4784), one sending socket per session (its own source port from
//! 49152–65535, TTL 255). Receiving reads each datagram's TTL, because single-hop BFD is only
//! secure when it accepts nothing but TTL 255 (RFC 5881 §5, the GTSM argument).

use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// RFC 5881 §4: the destination port of single-hop control packets.
pub const SINGLE_HOP_PORT: u16 = 3784;
/// RFC 5883 §5: the destination port of multihop control packets.
pub const MULTIHOP_PORT: u16 = 4784;
/// RFC 5881 §4: the source port range; RFC 5883 §5 uses the same.
const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// RFC 5881 §5: sent with TTL/hop limit 255, so a single-hop receiver can require it.
pub const TTL: u8 = 255;

/// One datagram with what the kernel said about it.
pub struct Datagram {
    pub len: usize,
    pub source: SocketAddr,
    /// `None` when the kernel gave no TTL (it always does once asked; a missing one fails a
    /// single-hop check).
    pub ttl: Option<u8>,
}

fn new_udp(address: IpAddr) -> io::Result<Socket> {
    let domain = if address.is_ipv4() { Domain::IPV4 } else { Domain::IPV6 };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The socket that receives control packets for `local`. `SO_REUSEADDR` lets it share the port
/// with a router on the same host that listens on the wildcard address (BIRD and FRR do): the
/// kernel delivers to the most specific binding, so each gets its own packets.
pub fn bind_receiver(local: SocketAddr) -> io::Result<UdpSocket> {
    let socket = new_udp(local.ip())?;
    socket.set_reuse_address(true)?;
    enable_ttl_reporting(&socket, local.ip())?;
    socket.bind(&SockAddr::from(local))?;
    UdpSocket::from_std(socket.into())
}

/// The socket one session sends from: a fixed source port for the session's life (RFC 5881 §4
/// "the same UDP source port number MUST be used for all BFD Control packets associated with a
/// particular session"), picked from the range starting at a per-session offset.
pub fn bind_sender(local: IpAddr, seed: u32) -> io::Result<UdpSocket> {
    let span = u32::from(SOURCE_PORTS.end() - SOURCE_PORTS.start()) + 1;
    let mut last_error = io::Error::new(io::ErrorKind::AddrInUse, "no free source port in 49152-65535");
    for attempt in 0..64u32 {
        let offset = seed.wrapping_add(attempt.wrapping_mul(7919)) % span;
        // `offset < span`, so the port is within the range and fits in a u16.
        let port = SOURCE_PORTS.start() + offset as u16;
        let socket = new_udp(local)?;
        set_ttl(&socket, local)?;
        match socket.bind(&SockAddr::from(SocketAddr::new(local, port))) {
            Ok(()) => return UdpSocket::from_std(socket.into()),
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => last_error = error,
            Err(error) => return Err(error),
        }
    }
    Err(last_error)
}

fn set_ttl(socket: &Socket, local: IpAddr) -> io::Result<()> {
    match local {
        IpAddr::V4(_) => socket.set_ttl(u32::from(TTL)),
        IpAddr::V6(_) => socket.set_unicast_hops_v6(u32::from(TTL)),
    }
}

fn enable_ttl_reporting(socket: &Socket, local: IpAddr) -> io::Result<()> {
    let (level, name) = match local {
        IpAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_RECVTTL),
        IpAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT),
    };
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, and an option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Receives one datagram into `buf` with its source and TTL.
pub async fn receive(socket: &UdpSocket, buf: &mut [u8]) -> io::Result<Datagram> {
    loop {
        socket.readable().await?;
        match socket.try_io(Interest::READABLE, || recvmsg_with_ttl(socket.as_raw_fd(), buf)) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            result => return result,
        }
    }
}

/// `recvmsg(2)` with room for one TTL or hop-limit control message. The std and tokio sockets
/// have no call that returns ancillary data.
fn recvmsg_with_ttl(fd: libc::c_int, buf: &mut [u8]) -> io::Result<Datagram> {
    // Room for a few control messages of an int each; the kernel truncates (MSG_CTRUNC) beyond.
    let mut control = [MaybeUninit::<u64>::uninit(); 16];
    // SAFETY: zeroed sockaddr_storage and msghdr are valid values of these C types.
    let mut source: libc::sockaddr_storage = unsafe { zeroed() };
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    let mut message: libc::msghdr = unsafe { zeroed() };
    message.msg_name = (&mut source as *mut libc::sockaddr_storage).cast();
    message.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = size_of_val(&control) as _;
    // SAFETY: every pointer in `message` points at live buffers of the lengths given.
    let len = unsafe { libc::recvmsg(fd, &mut message, libc::MSG_DONTWAIT) };
    if len < 0 {
        return Err(io::Error::last_os_error());
    }
    let source = source_address(&source)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "datagram from an unknown address family"))?;
    // SAFETY: the kernel filled `msg_control` up to `msg_controllen`; the CMSG macros walk only
    // within it.
    let ttl = unsafe { ttl_from_control(&message) };
    Ok(Datagram { len: len as usize, source, ttl })
}

unsafe fn ttl_from_control(message: &libc::msghdr) -> Option<u8> {
    let mut cmsg = libc::CMSG_FIRSTHDR(message);
    while !cmsg.is_null() {
        let header = &*cmsg;
        let is_ttl = (header.cmsg_level == libc::IPPROTO_IP && header.cmsg_type == libc::IP_TTL)
            || (header.cmsg_level == libc::IPPROTO_IPV6 && header.cmsg_type == libc::IPV6_HOPLIMIT);
        if is_ttl {
            let value = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
            return u8::try_from(value).ok();
        }
        cmsg = libc::CMSG_NXTHDR(message, cmsg);
    }
    None
}

fn source_address(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let v4 = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(ip, u16::from_be(v4.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let v6 = unsafe { &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(ip, u16::from_be(v6.sin6_port), v6.sin6_flowinfo, v6.sin6_scope_id)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_datagram_arrives_with_its_ttl_and_source() {
        let receiver = bind_receiver("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = receiver.local_addr().unwrap();
        let sender = bind_sender(IpAddr::V4(Ipv4Addr::LOCALHOST), 12345).unwrap();
        let from = sender.local_addr().unwrap();
        assert!(SOURCE_PORTS.contains(&from.port()), "{from}");
        sender.send_to(b"bfd", to).await.unwrap();
        let mut buf = [0u8; 64];
        let datagram = receive(&receiver, &mut buf).await.unwrap();
        assert_eq!(&buf[..datagram.len], b"bfd");
        assert_eq!(datagram.source, from);
        assert_eq!(datagram.ttl, Some(TTL));
    }

    #[tokio::test]
    async fn a_datagram_with_a_lower_ttl_shows_it() {
        let receiver = bind_receiver("127.0.0.1:0".parse().unwrap()).unwrap();
        let to = receiver.local_addr().unwrap();
        let plain = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        plain.set_ttl(64).unwrap();
        plain.send_to(b"x", to).unwrap();
        let mut buf = [0u8; 64];
        let datagram = receive(&receiver, &mut buf).await.unwrap();
        assert_eq!(datagram.ttl, Some(64));
    }

    #[tokio::test]
    async fn ipv6_hop_limit_is_reported() {
        let receiver = bind_receiver("[::1]:0".parse().unwrap()).unwrap();
        let to = receiver.local_addr().unwrap();
        let sender = bind_sender(IpAddr::V6(Ipv6Addr::LOCALHOST), 999).unwrap();
        sender.send_to(b"v6", to).await.unwrap();
        let mut buf = [0u8; 64];
        let datagram = receive(&receiver, &mut buf).await.unwrap();
        assert_eq!(datagram.ttl, Some(TTL));
    }
}
