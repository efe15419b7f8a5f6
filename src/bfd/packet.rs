//! The BFD Control packet (RFC 5880 §4.1): its mandatory section, and the packet-level checks of
//! §6.8.6 that need nothing but the datagram.
//!
//! Only the 24-octet mandatory section is ever encoded: rhi does not authenticate, so it never
//! writes an Authentication Section. A received packet with the A bit decodes (its Length must
//! leave room for the section, as §6.8.6 requires) so that the session, which knows that no
//! authentication is in use, is the one that discards it.

use std::fmt;

/// The local or remote session state, as carried in the Sta field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionState {
    AdminDown,
    Down,
    Init,
    Up,
}

impl SessionState {
    /// The two-bit wire value.
    pub fn code(self) -> u8 {
        match self {
            SessionState::AdminDown => 0,
            SessionState::Down => 1,
            SessionState::Init => 2,
            SessionState::Up => 3,
        }
    }

    /// The state a two-bit wire value stands for; only the low two bits are looked at.
    pub fn from_code(code: u8) -> SessionState {
        match code & 0b11 {
            0 => SessionState::AdminDown,
            1 => SessionState::Down,
            2 => SessionState::Init,
            _ => SessionState::Up,
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The Diag field: the sender's reason for its last change of session state (RFC 5880 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Diagnostic {
    None,
    ControlDetectionTimeExpired,
    EchoFunctionFailed,
    NeighborSignaledSessionDown,
    ForwardingPlaneReset,
    PathDown,
    ConcatenatedPathDown,
    AdministrativelyDown,
    ReverseConcatenatedPathDown,
    /// 9..=31: reserved for future use; kept so that a peer's newer code is shown, not lost.
    Reserved(u8),
}

impl Diagnostic {
    /// The five-bit wire value. A `Reserved` built by hand outside 9..=31 is sent masked to
    /// five bits, as the field has no room for more.
    pub fn code(self) -> u8 {
        match self {
            Diagnostic::None => 0,
            Diagnostic::ControlDetectionTimeExpired => 1,
            Diagnostic::EchoFunctionFailed => 2,
            Diagnostic::NeighborSignaledSessionDown => 3,
            Diagnostic::ForwardingPlaneReset => 4,
            Diagnostic::PathDown => 5,
            Diagnostic::ConcatenatedPathDown => 6,
            Diagnostic::AdministrativelyDown => 7,
            Diagnostic::ReverseConcatenatedPathDown => 8,
            Diagnostic::Reserved(code) => code & 0x1f,
        }
    }

    /// The diagnostic a wire value stands for; only the low five bits (the field) are looked at,
    /// so `from_code(d.code())` holds for every value that can be on the wire.
    pub fn from_code(code: u8) -> Diagnostic {
        match code & 0x1f {
            0 => Diagnostic::None,
            1 => Diagnostic::ControlDetectionTimeExpired,
            2 => Diagnostic::EchoFunctionFailed,
            3 => Diagnostic::NeighborSignaledSessionDown,
            4 => Diagnostic::ForwardingPlaneReset,
            5 => Diagnostic::PathDown,
            6 => Diagnostic::ConcatenatedPathDown,
            7 => Diagnostic::AdministrativelyDown,
            8 => Diagnostic::ReverseConcatenatedPathDown,
            other => Diagnostic::Reserved(other),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Diagnostic::None => "No Diagnostic",
            Diagnostic::ControlDetectionTimeExpired => "Control Detection Time Expired",
            Diagnostic::EchoFunctionFailed => "Echo Function Failed",
            Diagnostic::NeighborSignaledSessionDown => "Neighbor Signaled Session Down",
            Diagnostic::ForwardingPlaneReset => "Forwarding Plane Reset",
            Diagnostic::PathDown => "Path Down",
            Diagnostic::ConcatenatedPathDown => "Concatenated Path Down",
            Diagnostic::AdministrativelyDown => "Administratively Down",
            Diagnostic::ReverseConcatenatedPathDown => "Reverse Concatenated Path Down",
            Diagnostic::Reserved(code) => return write!(f, "Reserved ({code})"),
        };
        f.write_str(name)
    }
}

/// Why a datagram is not a BFD Control packet this implementation may process (RFC 5880 §6.8.6:
/// each of these "MUST be discarded").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("BFD packet too short: {len} octets, the mandatory section needs 24")]
    TooShort { len: usize },
    #[error("BFD version {0} is not supported (only version 1)")]
    BadVersion(u8),
    #[error("BFD Length field {length} is invalid for a {datagram}-octet datagram")]
    BadLength { length: u8, datagram: usize },
    #[error("BFD Detect Mult is zero")]
    ZeroDetectMult,
    #[error("BFD Multipoint bit is set")]
    Multipoint,
    #[error("BFD My Discriminator is zero")]
    ZeroMyDiscriminator,
    #[error("BFD Your Discriminator is zero in state {state}")]
    ZeroYourDiscriminator { state: SessionState },
}

/// The mandatory section of a BFD Control packet (RFC 5880 §4.1):
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       My Discriminator                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                      Your Discriminator                       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Desired Min TX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                   Required Min RX Interval                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Required Min Echo RX Interval                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// An optional Authentication Section follows when A is set; it is never decoded here. The
/// Length field is not kept: it is checked on decode and always 24 on encode. The three
/// intervals are microseconds, exactly as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlPacket {
    /// Vers: 1 for RFC 5880.
    pub version: u8,
    pub diagnostic: Diagnostic,
    pub state: SessionState,
    /// P: the sender asks for verification of connectivity or of a parameter change (§6.5).
    pub poll: bool,
    /// F: the answer to a packet with P set.
    pub final_: bool,
    /// C: the sender's BFD does not share fate with its control plane.
    pub control_plane_independent: bool,
    /// A: an Authentication Section follows the mandatory section.
    pub authentication_present: bool,
    /// D: the sender wishes to run Demand mode (§6.6).
    pub demand: bool,
    /// M: reserved for point-to-multipoint; must be zero.
    pub multipoint: bool,
    pub detect_mult: u8,
    pub my_discriminator: u32,
    pub your_discriminator: u32,
    pub desired_min_tx: u32,
    pub required_min_rx: u32,
    pub required_min_echo_rx: u32,
}

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CPI: u8 = 0x08;
const FLAG_AUTH: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

/// The smallest Length with an Authentication Section: its Type and Len octets (§4.1).
const MIN_LEN_WITH_AUTH: usize = 26;

impl ControlPacket {
    /// Octets in the mandatory section, and so in every packet rhi sends.
    pub const LEN: usize = 24;

    /// The protocol version this implementation speaks.
    pub const VERSION: u8 = 1;

    /// Decodes one UDP payload and applies the packet-level discard rules of RFC 5880 §6.8.6, in
    /// the RFC's order (after the mandatory section is known to be there at all). Octets beyond
    /// the Length field are ignored. Never panics.
    pub fn decode(datagram: &[u8]) -> Result<ControlPacket, DecodeError> {
        let Some(fixed) = datagram.first_chunk::<{ ControlPacket::LEN }>() else {
            return Err(DecodeError::TooShort { len: datagram.len() });
        };
        let word = |at: usize| u32::from_be_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]);
        let version = fixed[0] >> 5;
        if version != ControlPacket::VERSION {
            return Err(DecodeError::BadVersion(version));
        }
        let flags = fixed[1];
        let authentication_present = flags & FLAG_AUTH != 0;
        let length = fixed[3];
        let min_length = if authentication_present { MIN_LEN_WITH_AUTH } else { ControlPacket::LEN };
        if usize::from(length) < min_length || usize::from(length) > datagram.len() {
            return Err(DecodeError::BadLength { length, datagram: datagram.len() });
        }
        let packet = ControlPacket {
            version,
            diagnostic: Diagnostic::from_code(fixed[0]),
            state: SessionState::from_code(flags >> 6),
            poll: flags & FLAG_POLL != 0,
            final_: flags & FLAG_FINAL != 0,
            control_plane_independent: flags & FLAG_CPI != 0,
            authentication_present,
            demand: flags & FLAG_DEMAND != 0,
            multipoint: flags & FLAG_MULTIPOINT != 0,
            detect_mult: fixed[2],
            my_discriminator: word(4),
            your_discriminator: word(8),
            desired_min_tx: word(12),
            required_min_rx: word(16),
            required_min_echo_rx: word(20),
        };
        packet.validate()?;
        Ok(packet)
    }

    /// The §6.8.6 checks on the fields alone (everything `decode` checks but the version and the
    /// lengths). The session runs them again, since a `ControlPacket` can be built by hand.
    pub fn validate(&self) -> Result<(), DecodeError> {
        if self.version != ControlPacket::VERSION {
            return Err(DecodeError::BadVersion(self.version));
        }
        if self.detect_mult == 0 {
            return Err(DecodeError::ZeroDetectMult);
        }
        if self.multipoint {
            return Err(DecodeError::Multipoint);
        }
        if self.my_discriminator == 0 {
            return Err(DecodeError::ZeroMyDiscriminator);
        }
        if self.your_discriminator == 0 && !matches!(self.state, SessionState::Down | SessionState::AdminDown) {
            return Err(DecodeError::ZeroYourDiscriminator { state: self.state });
        }
        Ok(())
    }

    /// The 24-octet mandatory section with Length 24. The version is written as given (masked to
    /// its three bits). No Authentication Section is ever written, so a packet with
    /// `authentication_present` set encodes to bytes that `decode` refuses (Length 24 < 26): rhi
    /// never sends one.
    pub fn encode(&self) -> [u8; 24] {
        let mut out = [0u8; ControlPacket::LEN];
        out[0] = ((self.version & 0x07) << 5) | self.diagnostic.code();
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        out[1] = (self.state.code() << 6)
            | flag(self.poll, FLAG_POLL)
            | flag(self.final_, FLAG_FINAL)
            | flag(self.control_plane_independent, FLAG_CPI)
            | flag(self.authentication_present, FLAG_AUTH)
            | flag(self.demand, FLAG_DEMAND)
            | flag(self.multipoint, FLAG_MULTIPOINT);
        out[2] = self.detect_mult;
        out[3] = ControlPacket::LEN as u8;
        let words = [
            self.my_discriminator,
            self.your_discriminator,
            self.desired_min_tx,
            self.required_min_rx,
            self.required_min_echo_rx,
        ];
        for (chunk, word) in out[4..].chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a fixture: hex octets, `#` comments to the end of a line.
    fn hex(text: &str) -> Vec<u8> {
        let digits: String = text
            .lines()
            .map(|line| line.split('#').next().unwrap_or(""))
            .flat_map(|line| line.chars().filter(|c| c.is_ascii_hexdigit()))
            .collect();
        digits
            .as_bytes()
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// An Up packet answering a poll, from the §4.1 layout field by field.
    const UP_FINAL: &str = "
        20          # Vers 1 (001), Diag 0 (00000)
        d0          # Sta Up (11), P 0, F 1, C 0, A 0, D 0, M 0
        03          # Detect Mult 3
        18          # Length 24
        00 00 00 2a # My Discriminator 42
        12 34 56 78 # Your Discriminator 0x12345678
        00 04 93 e0 # Desired Min TX Interval 300000 us
        00 03 0d 40 # Required Min RX Interval 200000 us
        00 00 00 00 # Required Min Echo RX Interval 0 (no echo)
    ";

    fn up_final() -> ControlPacket {
        ControlPacket {
            version: 1,
            diagnostic: Diagnostic::None,
            state: SessionState::Up,
            poll: false,
            final_: true,
            control_plane_independent: false,
            authentication_present: false,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_discriminator: 42,
            your_discriminator: 0x1234_5678,
            desired_min_tx: 300_000,
            required_min_rx: 200_000,
            required_min_echo_rx: 0,
        }
    }

    /// A first packet from a peer that just went down: your discriminator still unknown.
    const DOWN_FIRST: &str = "
        21          # Vers 1, Diag 1 (Control Detection Time Expired)
        60          # Sta Down (01), P 1 (0x20), F 0, C 0, A 0, D 0, M 0
        05          # Detect Mult 5
        18          # Length 24
        ff ff ff ff # My Discriminator 0xffffffff
        00 00 00 00 # Your Discriminator 0 (allowed in Down)
        00 0f 42 40 # Desired Min TX Interval 1000000 us (slow start)
        00 00 c3 50 # Required Min RX Interval 50000 us
        00 00 27 10 # Required Min Echo RX Interval 10000 us
    ";

    fn down_first() -> ControlPacket {
        ControlPacket {
            diagnostic: Diagnostic::ControlDetectionTimeExpired,
            state: SessionState::Down,
            poll: true,
            final_: false,
            detect_mult: 5,
            my_discriminator: 0xffff_ffff,
            your_discriminator: 0,
            desired_min_tx: 1_000_000,
            required_min_rx: 50_000,
            required_min_echo_rx: 10_000,
            ..up_final()
        }
    }

    #[test]
    fn rfc5880_4_1_encode_is_byte_exact() {
        assert_eq!(up_final().encode().to_vec(), hex(UP_FINAL));
        assert_eq!(down_first().encode().to_vec(), hex(DOWN_FIRST));
    }

    #[test]
    fn rfc5880_4_1_decode_is_byte_exact() {
        assert_eq!(ControlPacket::decode(&hex(UP_FINAL)), Ok(up_final()));
        assert_eq!(ControlPacket::decode(&hex(DOWN_FIRST)), Ok(down_first()));
    }

    #[test]
    fn rfc5880_4_1_every_flag_bit_in_its_place() {
        let bits = [
            (0x20, ControlPacket { poll: true, final_: false, ..up_final() }),
            (0x10, up_final()),
            (0x08, ControlPacket { control_plane_independent: true, final_: false, ..up_final() }),
            (0x02, ControlPacket { demand: true, final_: false, ..up_final() }),
        ];
        for (bit, packet) in bits {
            assert_eq!(packet.encode()[1], 0xc0 | bit, "{packet:?}");
            assert_eq!(ControlPacket::decode(&packet.encode()), Ok(packet));
        }
        let multipoint = ControlPacket { multipoint: true, final_: false, ..up_final() };
        assert_eq!(multipoint.encode()[1], 0xc1);
    }

    #[test]
    fn rfc5880_4_1_states_and_diagnostics_round_trip() {
        for code in 0..=3 {
            assert_eq!(SessionState::from_code(code).code(), code);
        }
        for code in 0..=31 {
            assert_eq!(Diagnostic::from_code(code).code(), code);
        }
        assert_eq!(Diagnostic::from_code(9), Diagnostic::Reserved(9));
        assert_eq!(Diagnostic::from_code(0x27), Diagnostic::AdministrativelyDown, "only five bits are the field");
        assert_eq!(Diagnostic::NeighborSignaledSessionDown.to_string(), "Neighbor Signaled Session Down");
        assert_eq!(Diagnostic::Reserved(31).to_string(), "Reserved (31)");
        assert_eq!(SessionState::AdminDown.to_string(), "AdminDown");
        for (state, name) in [(SessionState::Down, "Down"), (SessionState::Init, "Init"), (SessionState::Up, "Up")] {
            assert_eq!(state.to_string(), name);
        }
    }

    #[test]
    fn rfc5880_6_8_6_trailing_bytes_beyond_length_are_ignored() {
        let mut bytes = hex(UP_FINAL);
        bytes.extend_from_slice(&[0xde, 0xad]);
        assert_eq!(ControlPacket::decode(&bytes), Ok(up_final()));
    }

    #[test]
    fn rfc5880_6_8_6_too_short() {
        let bytes = hex(UP_FINAL);
        assert_eq!(ControlPacket::decode(&bytes[..23]), Err(DecodeError::TooShort { len: 23 }));
        assert_eq!(ControlPacket::decode(&[]), Err(DecodeError::TooShort { len: 0 }));
    }

    #[test]
    fn rfc5880_6_8_6_bad_version() {
        let mut bytes = hex(UP_FINAL);
        bytes[0] = 0x00; // Vers 0: the pre-RFC draft
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::BadVersion(0)));
        bytes[0] = 0xe0; // Vers 7
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::BadVersion(7)));
    }

    #[test]
    fn rfc5880_6_8_6_length_below_minimum() {
        let mut bytes = hex(UP_FINAL);
        bytes[3] = 23;
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::BadLength { length: 23, datagram: 24 }));
    }

    #[test]
    fn rfc5880_6_8_6_length_beyond_datagram() {
        let mut bytes = hex(UP_FINAL);
        bytes[3] = 25;
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::BadLength { length: 25, datagram: 24 }));
    }

    #[test]
    fn rfc5880_6_8_6_a_bit_needs_room_for_the_auth_section() {
        let mut bytes = hex(UP_FINAL);
        bytes[1] |= FLAG_AUTH;
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::BadLength { length: 24, datagram: 24 }));
        bytes[3] = 26;
        bytes.extend_from_slice(&[0x01, 0x02]); // Auth Type 1 (Simple Password), Auth Len 2
        assert_eq!(
            ControlPacket::decode(&bytes),
            Ok(ControlPacket { authentication_present: true, ..up_final() }),
            "the session, not the codec, discards authenticated packets"
        );
    }

    #[test]
    fn rfc5880_6_8_6_zero_detect_mult() {
        let mut bytes = hex(UP_FINAL);
        bytes[2] = 0;
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::ZeroDetectMult));
    }

    #[test]
    fn rfc5880_6_8_6_multipoint() {
        let mut bytes = hex(UP_FINAL);
        bytes[1] |= FLAG_MULTIPOINT;
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::Multipoint));
    }

    #[test]
    fn rfc5880_6_8_6_zero_my_discriminator() {
        let mut bytes = hex(UP_FINAL);
        bytes[4..8].fill(0);
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::ZeroMyDiscriminator));
    }

    #[test]
    fn rfc5880_6_8_6_zero_your_discriminator_only_in_down_or_admin_down() {
        let mut bytes = hex(UP_FINAL);
        bytes[8..12].fill(0);
        assert_eq!(ControlPacket::decode(&bytes), Err(DecodeError::ZeroYourDiscriminator { state: SessionState::Up }));
        bytes[1] = 0x80; // Init
        assert_eq!(
            ControlPacket::decode(&bytes),
            Err(DecodeError::ZeroYourDiscriminator { state: SessionState::Init })
        );
        for (sta, state) in [(0x00, SessionState::AdminDown), (0x40, SessionState::Down)] {
            bytes[1] = sta;
            assert_eq!(ControlPacket::decode(&bytes).map(|p| p.state), Ok(state));
        }
    }

    #[test]
    fn decode_errors_display() {
        assert_eq!(
            DecodeError::BadLength { length: 30, datagram: 24 }.to_string(),
            "BFD Length field 30 is invalid for a 24-octet datagram"
        );
        assert_eq!(
            DecodeError::ZeroYourDiscriminator { state: SessionState::Up }.to_string(),
            "BFD Your Discriminator is zero in state Up"
        );
    }

    #[test]
    fn round_trip() {
        for packet in [up_final(), down_first(), ControlPacket { diagnostic: Diagnostic::Reserved(17), ..up_final() }] {
            assert_eq!(ControlPacket::decode(&packet.encode()), Ok(packet));
        }
    }
}
