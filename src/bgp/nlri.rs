//! NLRI prefix encoding (RFC 4271 §4.3, RFC 4760 §5): a length in bits, then only the octets that
//! length needs.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::BufMut;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// An address family / subsequent address family pair (RFC 4760). Unknown pairs are kept as
/// numbers so that a peer's capabilities can be logged and ignored rather than refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    pub afi: u16,
    pub safi: u8,
}

pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const SAFI_UNICAST: u8 = 1;

impl Family {
    pub const IPV4_UNICAST: Family = Family { afi: AFI_IPV4, safi: SAFI_UNICAST };
    pub const IPV6_UNICAST: Family = Family { afi: AFI_IPV6, safi: SAFI_UNICAST };

    pub const fn new(afi: u16, safi: u8) -> Family {
        Family { afi, safi }
    }

    /// The unicast family a prefix is announced in.
    pub fn of(prefix: &IpNet) -> Family {
        match prefix {
            IpNet::V4(_) => Family::IPV4_UNICAST,
            IpNet::V6(_) => Family::IPV6_UNICAST,
        }
    }

    /// True for the families whose NLRI rhi can decode (IPv4 and IPv6 unicast).
    pub fn is_supported(&self) -> bool {
        *self == Family::IPV4_UNICAST || *self == Family::IPV6_UNICAST
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Family::IPV4_UNICAST => f.write_str("ipv4-unicast"),
            Family::IPV6_UNICAST => f.write_str("ipv6-unicast"),
            Family { afi, safi } => write!(f, "afi {afi} safi {safi}"),
        }
    }
}

/// Why a prefix list could not be decoded. Both make the whole field unusable: the prefixes after
/// the bad one cannot be located (RFC 7606 §5.3 prescribes a session reset).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NlriError {
    #[error("prefix length {len} exceeds the {max}-bit address")]
    PrefixTooLong { len: u8, max: u8 },
    #[error("prefix truncated: the field ends inside a prefix")]
    Truncated,
    #[error("{0} has no prefix encoding rhi understands")]
    UnsupportedFamily(Family),
}

/// Octets one prefix of this length takes on the wire: the length octet plus ceil(len/8).
#[inline]
pub fn encoded_len(prefix_len: u8) -> usize {
    1 + (prefix_len as usize).div_ceil(8)
}

/// Octets `prefix` takes on the wire.
#[inline]
pub fn prefix_encoded_len(prefix: &IpNet) -> usize {
    encoded_len(prefix.prefix_len())
}

/// Appends one prefix. Host bits beyond the prefix length are sent as zero.
#[inline]
pub fn encode(prefix: &IpNet, buf: &mut impl BufMut) {
    match prefix {
        IpNet::V4(p) => encode_v4(p, buf),
        IpNet::V6(p) => encode_v6(p, buf),
    }
}

#[inline]
pub fn encode_v4(prefix: &Ipv4Net, buf: &mut impl BufMut) {
    let len = prefix.prefix_len();
    buf.put_u8(len);
    buf.put_slice(&prefix.network().octets()[..encoded_len(len) - 1]);
}

#[inline]
pub fn encode_v6(prefix: &Ipv6Net, buf: &mut impl BufMut) {
    let len = prefix.prefix_len();
    buf.put_u8(len);
    buf.put_slice(&prefix.network().octets()[..encoded_len(len) - 1]);
}

/// Walks a prefix list, handing each (length, significant octets) to `f`. Never reads past `buf`.
fn walk<'a>(mut buf: &'a [u8], max_len: u8, mut f: impl FnMut(u8, &'a [u8])) -> Result<(), NlriError> {
    while let Some((&len, rest)) = buf.split_first() {
        if len > max_len {
            return Err(NlriError::PrefixTooLong { len, max: max_len });
        }
        let n = encoded_len(len) - 1;
        if rest.len() < n {
            return Err(NlriError::Truncated);
        }
        let (octets, rest) = rest.split_at(n);
        f(len, octets);
        buf = rest;
    }
    Ok(())
}

// `walk` bounds len to the address size and `octets` to len/8 rounded up, so neither the copy nor
// the prefix constructor can fail; the fallbacks exist only to keep the decoder free of panics.
fn v4_from(len: u8, octets: &[u8]) -> Ipv4Net {
    let mut a = [0u8; 4];
    if let Some(dst) = a.get_mut(..octets.len()) {
        dst.copy_from_slice(octets);
    }
    Ipv4Net::new(Ipv4Addr::from(a), len).map(|n| n.trunc()).unwrap_or_default()
}

fn v6_from(len: u8, octets: &[u8]) -> Ipv6Net {
    let mut a = [0u8; 16];
    if let Some(dst) = a.get_mut(..octets.len()) {
        dst.copy_from_slice(octets);
    }
    Ipv6Net::new(Ipv6Addr::from(a), len).map(|n| n.trunc()).unwrap_or_default()
}

/// Decodes an IPv4 prefix list (UPDATE withdrawn routes / NLRI fields). Host bits are cleared.
pub fn decode_v4(buf: &[u8]) -> Result<Vec<Ipv4Net>, NlriError> {
    let mut out = Vec::new();
    walk(buf, 32, |len, octets| out.push(v4_from(len, octets)))?;
    Ok(out)
}

/// Decodes an IPv6 prefix list. Host bits are cleared.
pub fn decode_v6(buf: &[u8]) -> Result<Vec<Ipv6Net>, NlriError> {
    let mut out = Vec::new();
    walk(buf, 128, |len, octets| out.push(v6_from(len, octets)))?;
    Ok(out)
}

/// Decodes the prefix list of an MP_REACH_NLRI / MP_UNREACH_NLRI of `family`.
pub fn decode(family: Family, buf: &[u8]) -> Result<Vec<IpNet>, NlriError> {
    let mut out = Vec::new();
    match family {
        Family::IPV4_UNICAST => walk(buf, 32, |l, o| out.push(IpNet::V4(v4_from(l, o))))?,
        Family::IPV6_UNICAST => walk(buf, 128, |l, o| out.push(IpNet::V6(v6_from(l, o))))?,
        other => return Err(NlriError::UnsupportedFamily(other)),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn encoded_len_rounds_up_to_octets() {
        assert_eq!(encoded_len(0), 1);
        assert_eq!(encoded_len(1), 2);
        assert_eq!(encoded_len(8), 2);
        assert_eq!(encoded_len(9), 3);
        assert_eq!(encoded_len(24), 4);
        assert_eq!(encoded_len(32), 5);
        assert_eq!(encoded_len(128), 17);
    }

    #[test]
    fn encodes_only_significant_octets() {
        let mut b = BytesMut::new();
        encode(&net("10.46.46.46/32"), &mut b);
        encode(&net("198.51.100.128/25"), &mut b);
        encode(&net("0.0.0.0/0"), &mut b);
        encode(&net("2001:db8:46::/48"), &mut b);
        assert_eq!(
            &b[..],
            &[
                32, 10, 46, 46, 46, // 10.46.46.46/32
                25, 198, 51, 100, 128, // 198.51.100.128/25
                0,   // default route
                48, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x46, // 2001:db8:46::/48
            ][..]
        );
    }

    #[test]
    fn host_bits_are_masked_both_ways() {
        let mut b = BytesMut::new();
        encode(&net("10.1.1.255/25"), &mut b);
        assert_eq!(&b[..], &[25, 10, 1, 1, 128]);
        // A peer that leaves garbage in the trailing bits of the last octet.
        assert_eq!(decode_v4(&[25, 10, 1, 1, 0xff]).unwrap(), vec!["10.1.1.128/25".parse().unwrap()]);
        assert_eq!(decode_v6(&[9, 0x20, 0xff]).unwrap(), vec!["2080::/9".parse().unwrap()]);
    }

    #[test]
    fn decodes_lists() {
        let v4 = decode_v4(&[32, 10, 46, 46, 46, 0, 8, 10]).unwrap();
        assert_eq!(
            v4,
            vec!["10.46.46.46/32".parse().unwrap(), "0.0.0.0/0".parse().unwrap(), "10.0.0.0/8".parse().unwrap()]
        );
        assert_eq!(decode_v4(&[]).unwrap(), vec![]);
        let any = decode(Family::IPV6_UNICAST, &[128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert_eq!(any, vec![net("::1/128")]);
    }

    #[test]
    fn rejects_bad_lengths_and_truncation() {
        assert_eq!(decode_v4(&[33, 1, 2, 3, 4, 5]), Err(NlriError::PrefixTooLong { len: 33, max: 32 }));
        assert_eq!(decode_v6(&[129]), Err(NlriError::PrefixTooLong { len: 129, max: 128 }));
        assert_eq!(decode_v4(&[24, 10, 1]), Err(NlriError::Truncated));
        assert_eq!(decode_v4(&[32, 10, 46, 46, 46, 8]), Err(NlriError::Truncated));
        assert_eq!(decode(Family::new(1, 128), &[]), Err(NlriError::UnsupportedFamily(Family::new(1, 128))));
    }

    #[test]
    fn family_names() {
        assert_eq!(Family::IPV4_UNICAST.to_string(), "ipv4-unicast");
        assert_eq!(Family::IPV6_UNICAST.to_string(), "ipv6-unicast");
        assert_eq!(Family::new(25, 70).to_string(), "afi 25 safi 70");
        assert_eq!(Family::of(&net("::/0")), Family::IPV6_UNICAST);
    }
}
