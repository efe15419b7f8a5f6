//! Whether a router is one hop away: RFC 5881 (single-hop) applies to a neighbour on a subnet
//! of one of our interfaces, RFC 5883 (multihop) to anything else.

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;

/// The subnets of this host's interfaces, loopback excluded: a router on 127/8 or ::1 shares
/// this host, and BIRD and FRR run BGP (and so BFD) to such a neighbour as multihop.
pub fn connected_subnets() -> io::Result<Vec<IpNet>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we free below, once.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut subnets = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*entry };
        entry = ifa.ifa_next;
        if ifa.ifa_flags & libc::IFF_LOOPBACK as libc::c_uint != 0 {
            continue;
        }
        // SAFETY: each pointer is null or points at a sockaddr of the family it names.
        let (address, mask) = unsafe { (ip_of(ifa.ifa_addr), ip_of(ifa.ifa_netmask)) };
        if let (Some(address), Some(mask)) = (address, mask) {
            if let Ok(net) = IpNet::with_netmask(address, mask) {
                subnets.push(net.trunc());
            }
        }
    }
    // SAFETY: the list came from getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(list) };
    Ok(subnets)
}

unsafe fn ip_of(sockaddr: *const libc::sockaddr) -> Option<IpAddr> {
    if sockaddr.is_null() {
        return None;
    }
    match libc::c_int::from((*sockaddr).sa_family) {
        libc::AF_INET => {
            let v4 = &*sockaddr.cast::<libc::sockaddr_in>();
            Some(IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes()))
        }
        libc::AF_INET6 => {
            let v6 = &*sockaddr.cast::<libc::sockaddr_in6>();
            Some(IpAddr::from(v6.sin6_addr.s6_addr))
        }
        _ => None,
    }
}

/// Single-hop when `remote` is on a connected subnet; multihop when not, or when the interfaces
/// cannot be read (multihop accepts what single-hop would, minus the TTL 255 requirement).
pub fn is_single_hop(remote: IpAddr) -> bool {
    connected_subnets().map(|subnets| subnets.iter().any(|net| net.contains(&remote))).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_neighbours_are_multihop() {
        assert!(!is_single_hop("127.0.0.2".parse().unwrap()));
        assert!(!is_single_hop("::1".parse().unwrap()));
    }

    #[test]
    fn a_neighbour_on_an_interface_subnet_is_single_hop() {
        let subnets = connected_subnets().unwrap();
        // Any host with a network has one; a machine with only loopback proves nothing here.
        if let Some(net) = subnets.iter().find(|n| n.prefix_len() < n.max_prefix_len()) {
            let neighbour = net.hosts().next().unwrap();
            assert!(is_single_hop(neighbour), "{neighbour} in {net}");
        }
    }
}
