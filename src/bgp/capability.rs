//! OPEN optional parameter type 2: capabilities (RFC 5492).

use std::fmt;

use bytes::{BufMut, Bytes};

use super::message::EncodeError;
use super::nlri::Family;
use super::notification::{code, open, Notification, UNSPECIFIC};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Capability {
    /// Code 1, RFC 4760.
    Multiprotocol(Family),
    /// Code 2, RFC 2918.
    RouteRefresh,
    /// Code 6, RFC 8654.
    ExtendedMessage,
    /// Code 64, RFC 4724.
    GracefulRestart(GracefulRestartCap),
    /// Code 65, RFC 6793.
    FourOctetAs(u32),
    /// Anything else: kept so it can be logged, otherwise ignored (RFC 5492 §3).
    Unknown { code: u8, value: Bytes },
}

/// Capability codes (IANA "Capability Codes" registry) rhi knows by name.
pub mod cap_code {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    pub const EXTENDED_MESSAGE: u8 = 6;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
    pub const ADD_PATH: u8 = 69;
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    pub const LONG_LIVED_GRACEFUL_RESTART: u8 = 71;
    pub const FQDN: u8 = 73;
}

/// The Graceful Restart capability (RFC 4724 §3):
///
/// ```text
/// +--------------------------------------------------+
/// | Restart Flags (4 bits)                           |
/// +--------------------------------------------------+
/// | Restart Time in seconds (12 bits)                |
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits)                |
/// +--------------------------------------------------+
/// | ...                                              |  (the last three repeated per family)
/// ```
///
/// Flags are kept as received, bits rhi does not interpret included, so that what is decoded
/// encodes to the same octets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GracefulRestartCap {
    /// Restart Flags, the four high bits of the first octet: [`GracefulRestartCap::RESTART_STATE`]
    /// (R) and RFC 8538's [`GracefulRestartCap::NOTIFICATION`] (N).
    pub flags: u8,
    /// Seconds, at most [`GracefulRestartCap::MAX_RESTART_TIME`]: how long the peer keeps the
    /// sender's routes after the session is lost.
    pub restart_time: u16,
    /// The families whose routes the sender preserves across a restart (none: "helper only").
    pub families: Vec<GracefulRestartFamily>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GracefulRestartFamily {
    pub family: Family,
    /// Flags for Address Family: [`GracefulRestartFamily::FORWARDING_STATE`] (F).
    pub flags: u8,
}

impl GracefulRestartCap {
    /// R: the sender has restarted; its peer must not wait for its End-of-RIB before sending.
    pub const RESTART_STATE: u8 = 0x8;
    /// N (RFC 8538): the sender does graceful restart after a NOTIFICATION too.
    pub const NOTIFICATION: u8 = 0x4;
    /// The Restart Time field is 12 bits wide.
    pub const MAX_RESTART_TIME: u16 = 0x0fff;

    pub fn restart_state(&self) -> bool {
        self.flags & Self::RESTART_STATE != 0
    }

    /// Whether the sender preserved its forwarding state for `family` (F bit).
    pub fn forwarding(&self, family: Family) -> bool {
        self.families.iter().any(|f| f.family == family && f.forwarding())
    }

    fn decode(value: &[u8]) -> Result<GracefulRestartCap, Notification> {
        let (header, mut tuples) = match value {
            [hi, lo, rest @ ..] if rest.len() % 4 == 0 => (u16::from_be_bytes([*hi, *lo]), rest),
            _ => return Err(malformed()),
        };
        let mut families = Vec::with_capacity(tuples.len() / 4);
        while let [a0, a1, safi, flags, rest @ ..] = tuples {
            families.push(GracefulRestartFamily {
                family: Family::new(u16::from_be_bytes([*a0, *a1]), *safi),
                flags: *flags,
            });
            tuples = rest;
        }
        Ok(GracefulRestartCap { flags: (header >> 12) as u8, restart_time: header & Self::MAX_RESTART_TIME, families })
    }

    fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        if self.flags > 0xf {
            return Err(EncodeError::Invalid("graceful restart flags wider than 4 bits"));
        }
        if self.restart_time > Self::MAX_RESTART_TIME {
            return Err(EncodeError::Invalid("graceful restart time above 4095 seconds"));
        }
        buf.put_u16(u16::from(self.flags) << 12 | self.restart_time);
        for f in &self.families {
            buf.put_u16(f.family.afi);
            buf.put_u8(f.family.safi);
            buf.put_u8(f.flags);
        }
        Ok(())
    }
}

impl GracefulRestartFamily {
    /// F: the sender's forwarding state for this family survived the restart.
    pub const FORWARDING_STATE: u8 = 0x80;

    pub fn forwarding(&self) -> bool {
        self.flags & Self::FORWARDING_STATE != 0
    }
}

impl fmt::Display for GracefulRestartCap {
    /// `graceful-restart 120s restarted ipv4-unicast(forwarding) ipv6-unicast`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "graceful-restart {}s", self.restart_time)?;
        if self.restart_state() {
            f.write_str(" restarted")?;
        }
        if self.flags & Self::NOTIFICATION != 0 {
            f.write_str(" notification")?;
        }
        for family in &self.families {
            write!(f, " {}", family.family)?;
            if family.forwarding() {
                f.write_str("(forwarding)")?;
            }
        }
        Ok(())
    }
}

/// Optional parameter type of capabilities (RFC 5492 §4).
pub const PARAM_CAPABILITIES: u8 = 2;
/// RFC 9072: "Non-Ext OP Type" 255 after a "Non-Ext OP Len" of 255 announces the extended format.
pub const PARAM_EXTENDED_LENGTH: u8 = 255;

impl Capability {
    pub fn code(&self) -> u8 {
        match self {
            Capability::Multiprotocol(_) => cap_code::MULTIPROTOCOL,
            Capability::RouteRefresh => cap_code::ROUTE_REFRESH,
            Capability::ExtendedMessage => cap_code::EXTENDED_MESSAGE,
            Capability::GracefulRestart(_) => cap_code::GRACEFUL_RESTART,
            Capability::FourOctetAs(_) => cap_code::FOUR_OCTET_AS,
            Capability::Unknown { code, .. } => *code,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            Capability::Multiprotocol(_) | Capability::FourOctetAs(_) => 4,
            Capability::RouteRefresh | Capability::ExtendedMessage => 0,
            Capability::GracefulRestart(gr) => 2 + 4 * gr.families.len(),
            Capability::Unknown { value, .. } => value.len(),
        }
    }

    /// Octets of the capability TLV (code, length, value).
    pub fn encoded_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Appends the capability TLV. The value length is one octet, so a longer value is refused.
    pub fn encode(&self, buf: &mut impl BufMut) -> Result<(), EncodeError> {
        let len = u8::try_from(self.value_len())
            .map_err(|_| EncodeError::Invalid("capability value longer than 255 octets"))?;
        buf.put_u8(self.code());
        buf.put_u8(len);
        match self {
            Capability::Multiprotocol(family) => {
                buf.put_u16(family.afi);
                buf.put_u8(0); // reserved
                buf.put_u8(family.safi);
            }
            Capability::FourOctetAs(asn) => buf.put_u32(*asn),
            Capability::GracefulRestart(gr) => gr.encode(buf)?,
            Capability::RouteRefresh | Capability::ExtendedMessage => {}
            Capability::Unknown { value, .. } => buf.put_slice(value),
        }
        Ok(())
    }

    /// Decodes one capability value. Only values rhi interprets are checked: a malformed one is
    /// "recognized but malformed", which RFC 4271 §6.2 answers with OPEN Message Error/Unspecific.
    fn decode(code: u8, value: &[u8]) -> Result<Capability, Notification> {
        Ok(match code {
            cap_code::MULTIPROTOCOL => match value {
                [a0, a1, _reserved, safi] => {
                    Capability::Multiprotocol(Family::new(u16::from_be_bytes([*a0, *a1]), *safi))
                }
                _ => return Err(malformed()),
            },
            cap_code::FOUR_OCTET_AS => match value {
                [a, b, c, d] => Capability::FourOctetAs(u32::from_be_bytes([*a, *b, *c, *d])),
                _ => return Err(malformed()),
            },
            // A Restart Time field, then whole (AFI, SAFI, flags) tuples.
            cap_code::GRACEFUL_RESTART => Capability::GracefulRestart(GracefulRestartCap::decode(value)?),
            // These carry no value; one sent anyway does not change what they announce.
            cap_code::ROUTE_REFRESH => Capability::RouteRefresh,
            cap_code::EXTENDED_MESSAGE => Capability::ExtendedMessage,
            code => Capability::Unknown { code, value: Bytes::copy_from_slice(value) },
        })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Capability::Multiprotocol(family) => write!(f, "multiprotocol {family}"),
            Capability::RouteRefresh => f.write_str("route-refresh"),
            Capability::ExtendedMessage => f.write_str("extended-message"),
            Capability::FourOctetAs(asn) => write!(f, "4-octet-as {asn}"),
            Capability::GracefulRestart(gr) => gr.fmt(f),
            Capability::Unknown { code, value } => {
                let name = match *code {
                    cap_code::EXTENDED_NEXT_HOP => "extended-next-hop",
                    cap_code::ADD_PATH => "add-path",
                    cap_code::ENHANCED_ROUTE_REFRESH => "enhanced-route-refresh",
                    cap_code::LONG_LIVED_GRACEFUL_RESTART => "long-lived-graceful-restart",
                    cap_code::FQDN => "fqdn",
                    _ => "capability",
                };
                write!(f, "{name} (code {code}, {} octets)", value.len())
            }
        }
    }
}

fn malformed() -> Notification {
    Notification::new(code::OPEN_MESSAGE, UNSPECIFIC, Bytes::new())
}

fn capabilities_len(caps: &[Capability]) -> usize {
    caps.iter().map(Capability::encoded_len).sum()
}

/// Whether `caps` fit one classic optional parameter: its length, and the Optional Parameters
/// Length around it, are single octets. Splitting them over several classic parameters never
/// helps, since each parameter header costs two more of the same 255 octets.
fn fits_classic(caps: &[Capability]) -> bool {
    2 + capabilities_len(caps) <= 255
}

/// Octets the Optional Parameters Length field(s) and the parameters take for `caps`.
pub fn optional_parameters_len(caps: &[Capability]) -> usize {
    if caps.is_empty() {
        1
    } else if fits_classic(caps) {
        1 + 2 + capabilities_len(caps)
    } else {
        // Non-Ext OP Len, Non-Ext OP Type, Extended Opt. Parm. Length, then one parameter whose
        // length field is two octets (RFC 9072 §2).
        1 + 1 + 2 + 3 + capabilities_len(caps)
    }
}

/// Appends the Optional Parameters Length and the capabilities, all in one parameter as BIRD and
/// GoBGP send them (RFC 5492 §4 allows that or one parameter each). Only when they exceed what a
/// classic parameter holds is the RFC 9072 extended format used.
pub fn encode_optional_parameters(caps: &[Capability], buf: &mut impl BufMut) -> Result<(), EncodeError> {
    let len = capabilities_len(caps);
    if caps.is_empty() {
        buf.put_u8(0);
        return Ok(());
    }
    if fits_classic(caps) {
        buf.put_u8(2 + len as u8);
        buf.put_u8(PARAM_CAPABILITIES);
        buf.put_u8(len as u8);
    } else {
        let param_len = u16::try_from(len)
            .ok()
            .filter(|l| *l <= u16::MAX - 3)
            .ok_or(EncodeError::Invalid("capabilities exceed 65532 octets"))?;
        buf.put_u8(PARAM_EXTENDED_LENGTH);
        buf.put_u8(PARAM_EXTENDED_LENGTH);
        buf.put_u16(param_len + 3);
        buf.put_u8(PARAM_CAPABILITIES);
        buf.put_u16(param_len);
    }
    for cap in caps {
        cap.encode(buf)?;
    }
    Ok(())
}

/// Decodes the optional parameters of an OPEN, starting at its Optional Parameters Length octet,
/// to the end of the message. Parameters other than capabilities are refused with OPEN Message
/// Error/Unsupported Optional Parameter (RFC 4271 §6.2); length fields that disagree with the
/// message are OPEN Message Error/Unspecific.
pub fn decode_optional_parameters(data: &[u8]) -> Result<Vec<Capability>, Notification> {
    let (&len, rest) = data.split_first().ok_or_else(malformed)?;
    let mut caps = Vec::new();
    if len == PARAM_EXTENDED_LENGTH && rest.first() == Some(&PARAM_EXTENDED_LENGTH) {
        let params = match rest {
            [_, hi, lo, params @ ..] if params.len() == u16::from_be_bytes([*hi, *lo]) as usize => params,
            _ => return Err(malformed()),
        };
        walk_params(params, 2, &mut caps)?;
    } else {
        if rest.len() != len as usize {
            return Err(malformed());
        }
        walk_params(rest, 1, &mut caps)?;
    }
    Ok(caps)
}

/// Walks parameters whose length field is `len_octets` long (1 classic, 2 under RFC 9072).
fn walk_params(mut params: &[u8], len_octets: usize, caps: &mut Vec<Capability>) -> Result<(), Notification> {
    while let Some((&ptype, rest)) = params.split_first() {
        let (len, rest) = match (len_octets, rest) {
            (1, [l, rest @ ..]) => (*l as usize, rest),
            (2, [h, l, rest @ ..]) => (u16::from_be_bytes([*h, *l]) as usize, rest),
            _ => return Err(malformed()),
        };
        if rest.len() < len {
            return Err(malformed());
        }
        let (value, rest) = rest.split_at(len);
        if ptype != PARAM_CAPABILITIES {
            return Err(Notification::new(code::OPEN_MESSAGE, open::UNSUPPORTED_OPTIONAL_PARAMETER, Bytes::new()));
        }
        decode_capabilities(value, caps)?;
        params = rest;
    }
    Ok(())
}

/// One optional parameter may hold several capabilities (BIRD, GoBGP) or one (ExaBGP, Cisco).
fn decode_capabilities(mut value: &[u8], caps: &mut Vec<Capability>) -> Result<(), Notification> {
    while !value.is_empty() {
        let (code, len, rest) = match value {
            [code, len, rest @ ..] if rest.len() >= *len as usize => (*code, *len as usize, rest),
            _ => return Err(malformed()),
        };
        caps.push(Capability::decode(code, &rest[..len])?);
        value = &rest[len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(caps: &[Capability]) -> Vec<u8> {
        let mut b = Vec::new();
        encode_optional_parameters(caps, &mut b).unwrap();
        assert_eq!(b.len(), optional_parameters_len(caps));
        b
    }

    fn standard() -> Vec<Capability> {
        vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::Multiprotocol(Family::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::ExtendedMessage,
            Capability::FourOctetAs(4_200_000_006),
        ]
    }

    #[test]
    fn packs_capabilities_into_one_parameter() {
        #[rustfmt::skip]
        let expected = [
            24,             // Optional Parameters Length
            2, 22,          // parameter: capabilities, 22 octets
            1, 4, 0, 1, 0, 1,   // multiprotocol ipv4 unicast
            1, 4, 0, 2, 0, 1,   // multiprotocol ipv6 unicast
            2, 0,               // route refresh
            6, 0,               // extended message
            65, 4, 0xfa, 0x56, 0xea, 0x06, // 4-octet AS 4200000006
        ];
        assert_eq!(enc(&standard()), expected);
        assert_eq!(decode_optional_parameters(&expected).unwrap(), standard());
    }

    #[test]
    fn decodes_one_capability_per_parameter() {
        #[rustfmt::skip]
        let data = [
            18,
            2, 6, 1, 4, 0, 1, 0, 1,
            2, 6, 65, 4, 0, 0, 0xfd, 0xee,
            2, 0,           // an empty capabilities parameter is legal
        ];
        assert_eq!(
            decode_optional_parameters(&data).unwrap(),
            vec![Capability::Multiprotocol(Family::IPV4_UNICAST), Capability::FourOctetAs(65006)]
        );
    }

    #[test]
    fn no_capabilities() {
        assert_eq!(enc(&[]), [0]);
        assert_eq!(decode_optional_parameters(&[0]).unwrap(), vec![]);
    }

    #[test]
    fn unknown_capabilities_are_kept() {
        let data = [6, 2, 4, 73, 2, 0x01, 0x61]; // FQDN with a 2-octet value
        let caps = decode_optional_parameters(&data).unwrap();
        assert_eq!(caps, vec![Capability::Unknown { code: 73, value: Bytes::from_static(&[1, 0x61]) }]);
        assert_eq!(caps[0].to_string(), "fqdn (code 73, 2 octets)");
        assert_eq!(enc(&caps), data);
    }

    fn gr(flags: u8, restart_time: u16, families: &[(Family, u8)]) -> Capability {
        Capability::GracefulRestart(GracefulRestartCap {
            flags,
            restart_time,
            families: families.iter().map(|&(family, flags)| GracefulRestartFamily { family, flags }).collect(),
        })
    }

    /// The value of one capability, decoded alone.
    fn decode_value(code: u8, value: &[u8]) -> Result<Capability, Notification> {
        let mut data =
            vec![(4 + value.len()) as u8, PARAM_CAPABILITIES, (2 + value.len()) as u8, code, value.len() as u8];
        data.extend_from_slice(value);
        decode_optional_parameters(&data).map(|caps| {
            assert_eq!(caps.len(), 1);
            caps[0].clone()
        })
    }

    #[test]
    fn graceful_restart_follows_the_rfc_4724_layout() {
        #[rustfmt::skip]
        let value = [
            0x80, 0x1e,         // Restart Flags 1000 (R), Restart Time 30 s
            0x00, 0x01, 1, 0x80, // IPv4 unicast, F
            0x00, 0x02, 1, 0x00, // IPv6 unicast, forwarding state not preserved
        ];
        let expected = gr(
            GracefulRestartCap::RESTART_STATE,
            30,
            &[(Family::IPV4_UNICAST, GracefulRestartFamily::FORWARDING_STATE), (Family::IPV6_UNICAST, 0)],
        );
        assert_eq!(decode_value(64, &value).unwrap(), expected);
        let Capability::GracefulRestart(cap) = &expected else { unreachable!() };
        assert!(cap.restart_state());
        assert!(cap.forwarding(Family::IPV4_UNICAST));
        assert!(!cap.forwarding(Family::IPV6_UNICAST));
        assert!(!cap.forwarding(Family::new(1, 2)));
        assert_eq!(expected.to_string(), "graceful-restart 30s restarted ipv4-unicast(forwarding) ipv6-unicast");
        let mut b = Vec::new();
        expected.encode(&mut b).unwrap();
        assert_eq!(b[..2], [64, 10]);
        assert_eq!(b[2..], value);
        assert_eq!(expected.encoded_len(), b.len());
    }

    #[test]
    fn graceful_restart_time_is_12_bits_and_flags_are_kept() {
        // The largest Restart Time with every Restart Flag set (R, N and the two reserved bits):
        // the flags never leak into the time, and unknown bits survive a round trip.
        let cap = decode_value(64, &[0xff, 0xff]).unwrap();
        assert_eq!(cap, gr(0xf, 4095, &[]));
        let mut b = Vec::new();
        cap.encode(&mut b).unwrap();
        assert_eq!(b, [64, 2, 0xff, 0xff]);
        // Reserved per-family flag bits are kept too.
        assert_eq!(decode_value(64, &[0, 0, 0, 1, 1, 0x81]).unwrap(), gr(0, 0, &[(Family::IPV4_UNICAST, 0x81)]));
    }

    #[test]
    fn graceful_restart_encoding_refuses_what_the_fields_cannot_hold() {
        for bad in [gr(0, 4096, &[]), gr(0x10, 30, &[])] {
            assert!(bad.encode(&mut Vec::new()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bird_graceful_restart_capabilities() {
        // BIRD 2.0.12 `graceful restart on; graceful restart time 120;` as captured
        // (tests/fixtures/wire/captured/bird-gr-00-bird-open.hex), from its Optional Parameters
        // Length on: started normally, then with `bird -R` (recovering after a restart).
        let params = |restarting: bool| -> Vec<u8> {
            let (r, f) = if restarting { (0x80, 0x80) } else { (0, 0) };
            #[rustfmt::skip]
            let p = vec![
                0x26, 2, 0x24,
                1, 4, 0, 1, 0, 1,
                1, 4, 0, 2, 0, 1,
                2, 0,
                64, 10, r, 0x78, 0, 1, 1, f, 0, 2, 1, f,
                65, 4, 0, 0, 0xfd, 0xe9,
                70, 0,
                71, 0,
            ];
            p
        };
        for restarting in [false, true] {
            let caps = decode_optional_parameters(&params(restarting)).unwrap();
            let Some(Capability::GracefulRestart(cap)) = caps.iter().find(|c| c.code() == 64) else {
                panic!("no graceful restart in {caps:?}")
            };
            assert_eq!(cap.restart_time, 120);
            assert_eq!(cap.restart_state(), restarting);
            assert_eq!(cap.forwarding(Family::IPV4_UNICAST), restarting);
            assert_eq!(cap.forwarding(Family::IPV6_UNICAST), restarting);
            assert_eq!(cap.families.len(), 2);
            assert_eq!(enc(&caps), params(restarting), "BIRD encodes as rhi does");
        }
    }

    #[test]
    fn malformed_graceful_restart_is_open_unspecific() {
        // Shorter than the Restart Time, or a family tuple cut short.
        for len in [0, 1, 3, 4, 5, 7, 9, 11] {
            let err = decode_value(64, &vec![0; len]).unwrap_err();
            assert_eq!((err.code, err.subcode), (2, 0), "{len} octets");
        }
        // Every short value with every octet pattern: an error or a value, never a panic.
        for len in 0..=10 {
            for octet in [0x00, 0x0f, 0x80, 0xff] {
                let value = vec![octet; len];
                if let Ok(cap) = decode_value(64, &value) {
                    let mut b = Vec::new();
                    cap.encode(&mut b).unwrap();
                    assert_eq!(b[2..], value[..]);
                }
            }
        }
    }

    #[test]
    fn other_parameter_types_are_unsupported() {
        let err = decode_optional_parameters(&[3, 1, 1, 0]).unwrap_err();
        assert_eq!((err.code, err.subcode), (2, 4));
    }

    #[test]
    fn malformed_parameters_are_open_unspecific() {
        for data in [
            &[][..],
            &[5, 2, 3, 1, 4][..],                // parameter shorter than declared
            &[4, 2, 2, 1, 4][..],                // capability longer than its parameter
            &[8, 2, 6, 1, 4, 0, 1, 0, 1, 0][..], // trailing octet after the parameters
            &[6, 2, 4, 1, 2, 0, 1][..],          // multiprotocol with a 2-octet value
            &[6, 2, 4, 65, 2, 0, 1][..],         // 4-octet AS with a 2-octet value
            &[255, 255, 0, 9, 2, 0, 2][..],      // RFC 9072 length disagreeing with the data
        ] {
            let err = decode_optional_parameters(data).unwrap_err();
            assert_eq!((err.code, err.subcode), (2, 0), "{data:?}");
        }
    }

    #[test]
    fn rfc9072_extended_parameters() {
        // Enough unknown capabilities to exceed 255 octets in all.
        let mut caps = standard();
        for code in 200..204 {
            caps.push(Capability::Unknown { code, value: Bytes::from(vec![code; 100]) });
        }
        let b = enc(&caps);
        assert_eq!(&b[..2], &[255, 255]);
        let ext_len = u16::from_be_bytes([b[2], b[3]]) as usize;
        assert_eq!(ext_len, b.len() - 4);
        assert_eq!(b[4], 2);
        assert_eq!(decode_optional_parameters(&b).unwrap(), caps);
    }

    #[test]
    fn largest_classic_parameter() {
        // 253 octets of capabilities fill one classic parameter exactly; one more needs RFC 9072.
        let cap = |n| Capability::Unknown { code: 100, value: Bytes::from(vec![7; n]) };
        let b = enc(&[cap(251)]);
        assert_eq!(&b[..4], &[255, 2, 253, 100]);
        assert_eq!(b.len(), 256);
        assert_eq!(decode_optional_parameters(&b).unwrap(), vec![cap(251)]);
        let b = enc(&[cap(252)]);
        // Non-Ext OP Len, Non-Ext OP Type, Extended Opt. Parm. Length 257, capabilities of 254 octets.
        assert_eq!(&b[..7], &[255, 255, 1, 1, 2, 0, 254]);
        assert_eq!(decode_optional_parameters(&b).unwrap(), vec![cap(252)]);
    }

    #[test]
    fn overlong_capability_value_is_refused() {
        let cap = Capability::Unknown { code: 99, value: Bytes::from(vec![0; 256]) };
        assert!(encode_optional_parameters(&[cap], &mut Vec::new()).is_err());
    }
}
