//! Properties of the BFD core: the codec never panics and round-trips, and the session, fed any
//! sequence of packets, timeouts and operator actions, only ever takes RFC 5880 §6.2 edges.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use rhi::bfd::{Action, Config, ControlPacket, Diagnostic, Session, SessionState};

const LOCAL: u32 = 0x0102_0304;
const REMOTE: u32 = 0x0a0b_0c0d;

fn state() -> impl Strategy<Value = SessionState> {
    prop_oneof![
        Just(SessionState::AdminDown),
        Just(SessionState::Down),
        Just(SessionState::Init),
        Just(SessionState::Up),
    ]
}

fn diagnostic() -> impl Strategy<Value = Diagnostic> {
    (0u8..=31).prop_map(Diagnostic::from_code)
}

/// Any packet `decode` accepts (A clear: an authenticated one cannot round-trip, see `encode`).
fn valid_packet() -> impl Strategy<Value = ControlPacket> {
    (diagnostic(), state(), any::<[bool; 4]>(), 1u8.., 1u32.., any::<u32>(), any::<[u32; 3]>()).prop_map(
        |(diagnostic, state, [poll, final_, cpi, demand], detect_mult, my, your, [tx, rx, echo])| {
            let your_ok = your != 0 || matches!(state, SessionState::Down | SessionState::AdminDown);
            ControlPacket {
                version: 1,
                diagnostic,
                state,
                poll,
                final_,
                control_plane_independent: cpi,
                authentication_present: false,
                demand,
                multipoint: false,
                detect_mult,
                my_discriminator: my,
                your_discriminator: if your_ok { your } else { 1 },
                desired_min_tx: tx,
                required_min_rx: rx,
                required_min_echo_rx: echo,
            }
        },
    )
}

/// What the peer may send the session: mostly well-formed and addressed to it, sometimes not.
fn peer_packet() -> impl Strategy<Value = ControlPacket> {
    let your = prop_oneof![4 => Just(LOCAL), 2 => Just(0u32), 1 => any::<u32>()];
    let my = prop_oneof![6 => Just(REMOTE), 1 => any::<u32>()];
    let interval = prop_oneof![Just(0u32), 1u32..2_000_000, Just(u32::MAX)];
    (
        state(),
        diagnostic(),
        any::<[bool; 6]>(),
        prop_oneof![8 => 1u8..=5, 1 => Just(0u8), 1 => Just(255u8)],
        my,
        your,
        (interval.clone(), interval.clone(), interval),
        prop_oneof![9 => Just(1u8), 1 => 0u8..8],
    )
        .prop_map(
            |(
                state,
                diagnostic,
                [poll, final_, cpi, auth, demand, multipoint],
                detect_mult,
                my,
                your,
                (tx, rx, echo),
                version,
            )| {
                ControlPacket {
                    version,
                    diagnostic,
                    state,
                    poll,
                    final_,
                    control_plane_independent: cpi,
                    // Rare: most sequences should reach the state machine.
                    authentication_present: auth && poll && final_,
                    demand,
                    multipoint: multipoint && poll && final_ && demand,
                    detect_mult,
                    my_discriminator: my,
                    your_discriminator: your,
                    desired_min_tx: tx,
                    required_min_rx: rx,
                    required_min_echo_rx: echo,
                }
            },
        )
}

fn config() -> impl Strategy<Value = Config> {
    (0u64..3_000_000, 0u64..3_000_000, any::<u8>()).prop_map(|(tx, rx, detect_mult)| Config {
        desired_min_tx: Duration::from_micros(tx),
        required_min_rx: Duration::from_micros(rx),
        detect_mult,
    })
}

#[derive(Clone, Debug)]
enum Event {
    /// Advance the clock by this many microseconds, then receive.
    Receive(u64, ControlPacket),
    /// Advance the clock, then call `handle_timeout`.
    Timeout(u64),
    /// Advance the clock to the session's own deadline (if any), then call `handle_timeout`.
    Deadline,
    Reconfigure(Config),
    AdminDown,
    Enable,
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => (0u64..2_000_000, peer_packet()).prop_map(|(delay, packet)| Event::Receive(delay, packet)),
        2 => (0u64..5_000_000).prop_map(Event::Timeout),
        4 => Just(Event::Deadline),
        1 => config().prop_map(Event::Reconfigure),
        1 => Just(Event::AdminDown),
        1 => Just(Event::Enable),
    ]
}

/// The edges of the RFC 5880 §6.2 diagram, plus AdminDown in and out (§6.8.16).
fn is_edge(from: SessionState, to: SessionState) -> bool {
    use SessionState::*;
    matches!(
        (from, to),
        (Down, Init)
            | (Down, Up)
            | (Init, Up)
            | (Init, Down)
            | (Up, Down)
            | (Down | Init | Up, AdminDown)
            | (AdminDown, Down)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_never_panics_and_reencodes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(packet) = ControlPacket::decode(&bytes) {
            let mut expected = [0u8; 24];
            expected.copy_from_slice(&bytes[..24]);
            expected[3] = 24;
            prop_assert_eq!(packet.encode(), expected);
        }
    }

    #[test]
    fn decode_never_panics_on_near_valid_input(packet in valid_packet(), flip in 0usize..24, mask in any::<u8>(), cut in 0usize..30) {
        let mut bytes = packet.encode().to_vec();
        bytes[flip] ^= mask;
        bytes.truncate(cut);
        let _ = ControlPacket::decode(&bytes);
    }

    #[test]
    fn valid_packets_round_trip(packet in valid_packet()) {
        prop_assert_eq!(ControlPacket::decode(&packet.encode()), Ok(packet));
    }

    #[test]
    fn sessions_only_take_rfc_edges(
        initial in config(),
        seed in any::<u64>(),
        events in proptest::collection::vec(event(), 1..80),
    ) {
        let mut now = Instant::now();
        let mut session = Session::new(initial, LOCAL, now, seed);
        for event in events {
            let before = session.state();
            let timeout = matches!(event, Event::Timeout(_) | Event::Deadline);
            let actions = match event {
                Event::Receive(delay, packet) => {
                    now += Duration::from_micros(delay);
                    session.receive(now, &packet)
                }
                Event::Timeout(delay) => {
                    now += Duration::from_micros(delay);
                    session.handle_timeout(now)
                }
                Event::Deadline => {
                    if let Some(at) = session.poll_timeout() {
                        now = now.max(at);
                    }
                    session.handle_timeout(now)
                }
                Event::Reconfigure(config) => session.reconfigure(now, config),
                Event::AdminDown => session.admin_down(now),
                Event::Enable => session.enable(now),
            };
            let after = session.state();
            let mut changes = 0;
            let mut seen_change = false;
            for action in &actions {
                match action {
                    Action::Send(packet) => {
                        prop_assert!(!(packet.poll && packet.final_), "P and F together: {:?}", packet);
                        prop_assert!(!seen_change, "a Send after the StateChanged: {:?}", actions);
                        prop_assert_eq!(packet.state, after);
                        prop_assert_eq!(packet.my_discriminator, LOCAL);
                        prop_assert!(!packet.demand && !packet.authentication_present && !packet.multipoint);
                        prop_assert_eq!(ControlPacket::decode(&packet.encode()), Ok(*packet));
                    }
                    Action::StateChanged(transition) => {
                        changes += 1;
                        seen_change = true;
                        prop_assert_eq!(transition.from, before);
                        prop_assert_eq!(transition.to, after);
                        prop_assert!(is_edge(transition.from, transition.to), "{:?}", transition);
                    }
                }
            }
            prop_assert_eq!(changes, usize::from(before != after), "{:?} -> {:?}: {:?}", before, after, actions);
            let snapshot = session.snapshot();
            if !snapshot.remote_min_rx.is_zero() {
                prop_assert!(session.poll_timeout().is_some(), "stalled: {:?}", snapshot);
            }
            if timeout {
                // Whatever was due has been handled: nothing is left in the past, so a driver
                // that sleeps until `poll_timeout` never spins.
                prop_assert!(session.poll_timeout().is_none_or(|at| at > now), "due again at {:?}", now);
            }
        }
    }
}
