//! TCP-MD5 signatures (RFC 2385) with Linux's `TCP_MD5SIG`: a key per remote address on a socket.
//! Once a socket has a key for an address, the kernel signs every segment to that address and
//! drops every segment from it without the right signature (a SYN included: no RST, no error, as
//! if nobody were there). A connecting socket gets the key of its peer before `connect`; a
//! listening socket holds the key of every peer that may connect to it ([`ListenerKeys`]), and an
//! accepted connection inherits it.
//!
//! Errors carry the kernel's reason: ENOPROTOOPT (or ENOENT) where the kernel was built without
//! `CONFIG_TCP_MD5SIG`. A peer with a password whose key cannot be set never gets a session
//! without it: its connect fails, its inbound connections are refused.

use std::collections::BTreeMap;
use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use tracing::{error, info, warn};

use crate::config::{Md5Key, PeerConfig, MD5_MAX_KEY_LEN};

/// `struct tcp_md5sig` from linux/tcp.h (the libc crate has `TCP_MD5SIG` but not the struct):
///
/// ```c
/// struct tcp_md5sig {
///     struct __kernel_sockaddr_storage tcpm_addr; /* address associated */
///     __u8  tcpm_flags;                           /* extension flags */
///     __u8  tcpm_prefixlen;                       /* address prefix */
///     __u16 tcpm_keylen;                          /* key length */
///     int   tcpm_ifindex;                         /* device index for scope */
///     __u8  tcpm_key[TCP_MD5SIG_MAXKEYLEN];       /* key (binary) */
/// };
/// ```
///
/// With `tcpm_flags` 0 the prefix length and interface are ignored: the key is for exactly
/// `tcpm_addr` (any port). A key length of 0 deletes the key for that address.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; MD5_MAX_KEY_LEN],
}

const _: () = assert!(mem::size_of::<TcpMd5Sig>() == 216);

/// Sets the key for `peer` on `socket` (replacing any key it had for that address). On an IPv6
/// socket an IPv4 peer's key is set for its v4-mapped address (::ffff:a.b.c.d), which is how
/// the peer shows up on a dual-stack `[::]` listener.
pub fn set_key(socket: &impl AsFd, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.is_empty() || key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("TCP-MD5 key for {peer}: {} bytes, the kernel takes 1 to {MD5_MAX_KEY_LEN}", key.len()),
        ));
    }
    setsockopt(socket.as_fd(), peer, key).map_err(|error| explain(error, peer))
}

/// Removes the key for `peer` from `socket`; a socket without one is fine.
pub fn remove_key(socket: &impl AsFd, peer: IpAddr) -> io::Result<()> {
    match setsockopt(socket.as_fd(), peer, &[]) {
        Err(error) if error.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        result => result.map_err(|error| explain(error, peer)),
    }
}

fn explain(error: io::Error, peer: IpAddr) -> io::Error {
    let hint = match error.raw_os_error() {
        Some(libc::ENOPROTOOPT) | Some(libc::ENOENT) => " (this kernel has no TCP-MD5 support: CONFIG_TCP_MD5SIG)",
        _ => "",
    };
    io::Error::new(error.kind(), KeyError(format!("cannot set the TCP-MD5 key for {peer}: {error}{hint}")))
}

/// A key the kernel refused, told apart from a connect that failed (see [`ConnectWatch`]).
#[derive(Debug)]
struct KeyError(String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

fn is_key_error(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<KeyError>())
}

fn setsockopt(fd: BorrowedFd<'_>, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    // SAFETY: all-zero bytes are a valid value of this plain C struct.
    let mut sig: TcpMd5Sig = unsafe { mem::zeroed() };
    write_address(&mut sig.addr, peer, socket_is_v6(fd)?)?;
    sig.keylen = key.len() as u16;
    sig.key[..key.len()].copy_from_slice(key);
    // SAFETY: `sig` is a live, initialised tcp_md5sig and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG,
            (&sig as *const TcpMd5Sig).cast(),
            mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        )
    };
    // The key is on the stack: do not leave it there.
    sig.key.fill(0);
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The address family of the socket itself (bound or not), which decides the sockaddr form.
fn socket_is_v6(fd: BorrowedFd<'_>) -> io::Result<bool> {
    // SAFETY: getsockname writes at most `len` bytes into the storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let rc =
        unsafe { libc::getsockname(fd.as_raw_fd(), (&mut storage as *mut libc::sockaddr_storage).cast(), &mut len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(libc::c_int::from(storage.ss_family) == libc::AF_INET6)
}

fn write_address(storage: &mut libc::sockaddr_storage, peer: IpAddr, socket_v6: bool) -> io::Result<()> {
    let storage: *mut libc::sockaddr_storage = storage;
    match (peer, socket_v6) {
        (IpAddr::V4(v4), false) => {
            // SAFETY: sockaddr_storage is large enough and aligned for every sockaddr type.
            let sin = unsafe { &mut *storage.cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr = libc::in_addr { s_addr: u32::from_ne_bytes(v4.octets()) };
        }
        (peer, true) => {
            let v6 = match peer {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            // SAFETY: as above.
            let sin6 = unsafe { &mut *storage.cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr = libc::in6_addr { s6_addr: v6.octets() };
        }
        (IpAddr::V6(_), false) => {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "an IPv6 address on an IPv4 socket"));
        }
    }
    Ok(())
}

/// The TCP-MD5 keys on the listening sockets, owned by the speaker (which knows the peers and
/// applies reloads).
///
/// Each listener is reached through a duplicate of its descriptor: a `dup` refers to the same
/// socket, so a key set through it is on the socket the accept loop (`listener::serve`) owns,
/// and neither side has to share the tokio listener or send it messages. Keys are set before
/// `listen` at start ([`ListenerKeys::adopt`]), so no connection is ever accepted before its
/// key is in place.
///
/// Every configured peer with a password gets its key on every listener that can see it (an
/// IPv6 listener sees everyone, dual-stack; an IPv4 one only IPv4 peers): an active peer may
/// also be connected to by its router (a collision), not only a passive one. What was set is
/// remembered, so that a key that could not be set refuses that peer's inbound connections
/// ([`ListenerKeys::ready`]) instead of letting them in unsigned.
#[derive(Default)]
pub struct ListenerKeys {
    listeners: Vec<Listening>,
}

struct Listening {
    fd: OwnedFd,
    v6: bool,
    /// The keys the kernel holds for this socket, by peer address.
    keys: BTreeMap<IpAddr, Md5Key>,
}

impl ListenerKeys {
    /// Takes a listening socket, bound but not yet listening, and sets the keys of `peers` on it.
    pub fn adopt(&mut self, socket: &impl AsFd, peers: &[PeerConfig]) -> io::Result<()> {
        let fd = socket.as_fd().try_clone_to_owned()?;
        let v6 = socket_is_v6(fd.as_fd())?;
        self.listeners.push(Listening { fd, v6, keys: BTreeMap::new() });
        let index = self.listeners.len() - 1;
        self.listeners[index].apply(&wanted(peers));
        Ok(())
    }

    /// Makes the keys on every listener those of `peers` (at start and on reload): adds new
    /// keys, replaces changed ones, removes those of peers that are gone or have no password.
    /// Failures are logged with the peer and the kernel's reason.
    pub fn apply(&mut self, peers: &[PeerConfig]) {
        let wanted = wanted(peers);
        for listening in &mut self.listeners {
            listening.apply(&wanted);
        }
    }

    /// Whether a connection from `address`, for a peer whose key is `key`, came in through
    /// listeners holding that key (so the kernel checked its signature).
    pub fn ready(&self, address: IpAddr, key: Option<&Md5Key>) -> bool {
        let Some(key) = key else { return true };
        self.listeners.iter().filter(|l| l.sees(address)).all(|l| l.keys.get(&address) == Some(key))
    }
}

/// The password of every peer that has one, by address.
fn wanted(peers: &[PeerConfig]) -> BTreeMap<IpAddr, (&str, &Md5Key)> {
    peers.iter().filter_map(|p| Some((p.address, (p.name.as_str(), p.md5.as_ref()?)))).collect()
}

impl Listening {
    fn sees(&self, address: IpAddr) -> bool {
        self.v6 || address.is_ipv4()
    }

    fn apply(&mut self, wanted: &BTreeMap<IpAddr, (&str, &Md5Key)>) {
        let stale: Vec<IpAddr> = self.keys.keys().filter(|a| !wanted.contains_key(a)).copied().collect();
        for address in stale {
            match remove_key(&self.fd, address) {
                Ok(()) => {
                    self.keys.remove(&address);
                    info!(%address, "TCP-MD5 key removed from the listening socket");
                }
                Err(error) => error!(%address, %error, "TCP-MD5 key not removed from the listening socket"),
            }
        }
        for (&address, &(peer, key)) in wanted {
            if !self.sees(address) || self.keys.get(&address) == Some(key) {
                continue;
            }
            match set_key(&self.fd, address, key.secret()) {
                Ok(()) => {
                    self.keys.insert(address, key.clone());
                }
                Err(error) => error!(
                    peer,
                    %error,
                    "TCP-MD5 key not set on the listening socket: this peer's connections to us are refused"
                ),
            }
        }
    }
}

/// What a peer task with a password makes of its failing connects. A wrong key is silent (the
/// router's kernel drops the SYN), exactly like a dead router: a connect that gets no answer
/// while a password is set logs a hint, once until the session is established again. A key the
/// kernel refuses is an error every attempt (the peer never connects without it) and stays in
/// the peer's status.
#[derive(Debug, Default)]
pub struct ConnectWatch {
    hinted: bool,
    failure: Option<String>,
}

impl ConnectWatch {
    /// A connect failed: returns whether it was said here (else the caller logs it as usual).
    pub fn failed(&mut self, peer: &str, remote: SocketAddr, keyed: bool, error: &io::Error) -> bool {
        if is_key_error(error) {
            error!(peer, %error, "not connecting without TCP-MD5");
            self.failure = Some(error.to_string());
            return true;
        }
        self.failure = None;
        if error.kind() == io::ErrorKind::TimedOut {
            self.no_answer(peer, remote, keyed);
        }
        false
    }

    /// A connect was still waiting for an answer when the next attempt began.
    pub fn no_answer(&mut self, peer: &str, remote: SocketAddr, keyed: bool) {
        if keyed && !self.hinted {
            self.hinted = true;
            warn!(peer, "no answer from {remote} with TCP-MD5 on: check that both sides have the same password");
        }
    }

    pub fn established(&mut self) {
        self.hinted = false;
        self.failure = None;
    }

    /// Why the key could not be set, for the status (it beats "TCP connection failed").
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_set_and_removed_on_ipv4_and_dual_stack_sockets() {
        let v4 = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let v6 = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
        let peer4: IpAddr = "192.0.2.1".parse().unwrap();
        let peer6: IpAddr = "2001:db8::1".parse().unwrap();
        set_key(&v4, peer4, b"secret").unwrap();
        set_key(&v4, peer4, b"changed").unwrap();
        remove_key(&v4, peer4).unwrap();
        // Removing what is not there is not an error.
        remove_key(&v4, peer4).unwrap();
        set_key(&v6, peer4, b"secret").unwrap();
        set_key(&v6, peer6, b"secret").unwrap();
        remove_key(&v6, peer4).unwrap();
        assert_eq!(set_key(&v4, peer6, b"secret").unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn an_error_carries_the_kernels_reason_and_never_the_key() {
        // A UDP socket has no TCP options: the kernel refuses as it does without TCP-MD5 support.
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let error = set_key(&udp, "192.0.2.1".parse().unwrap(), b"hunter2").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("cannot set the TCP-MD5 key for 192.0.2.1"), "{text}");
        assert!(text.contains("os error"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let mut watch = ConnectWatch::default();
        assert!(watch.failed("sw01", "192.0.2.1:179".parse().unwrap(), true, &error));
        assert_eq!(watch.failure(), Some(text.as_str()));
    }

    #[test]
    fn listener_keys_follow_the_peers() {
        let v4 = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let v6 = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None).unwrap();
        let peer = |name: &str, address: &str, key: Option<&[u8]>| PeerConfig {
            passive: true,
            md5: key.map(Md5Key::inline),
            ..PeerConfig::example(name, address.parse().unwrap())
        };
        let a = peer("a", "192.0.2.1", Some(b"one"));
        let b = peer("b", "2001:db8::1", Some(b"two"));
        let c = peer("c", "192.0.2.3", None);
        let mut keys = ListenerKeys::default();
        keys.adopt(&v4, &[a.clone(), b.clone(), c.clone()]).unwrap();
        keys.adopt(&v6, &[a.clone(), b.clone(), c.clone()]).unwrap();
        assert_eq!(keys.listeners[0].keys.len(), 1, "an IPv4 listener never sees an IPv6 peer");
        assert_eq!(keys.listeners[1].keys.len(), 2);
        assert!(keys.ready(a.address, a.md5.as_ref()));
        assert!(keys.ready(b.address, b.md5.as_ref()));
        assert!(keys.ready(c.address, None));
        let a2 = peer("a", "192.0.2.1", Some(b"new"));
        assert!(!keys.ready(a2.address, a2.md5.as_ref()), "not set yet");
        keys.apply(&[a2.clone(), c.clone()]);
        assert!(keys.ready(a2.address, a2.md5.as_ref()));
        assert!(keys.listeners.iter().all(|l| !l.keys.contains_key(&b.address)), "b's key is gone");
    }
}
