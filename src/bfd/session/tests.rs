//! The session, walked through RFC 5880 §6.8.6 step by step and the §6.2 diagram edge by edge.

use super::*;

const LOCAL: u32 = 0x1111_1111;
const REMOTE: u32 = 0x2222_2222;
const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

fn config() -> Config {
    Config { desired_min_tx: 300 * MS, required_min_rx: 200 * MS, detect_mult: 3 }
}

/// What the peer sends in `state`, with 300 ms / 200 ms / 3 like us.
fn peer(state: SessionState) -> ControlPacket {
    ControlPacket {
        version: 1,
        diagnostic: Diagnostic::None,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        authentication_present: false,
        demand: false,
        multipoint: false,
        detect_mult: 3,
        my_discriminator: REMOTE,
        your_discriminator: LOCAL,
        desired_min_tx: 300_000,
        required_min_rx: 200_000,
        required_min_echo_rx: 0,
    }
}

fn sends(actions: &[Action]) -> Vec<ControlPacket> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::Send(packet) => Some(*packet),
            Action::StateChanged(_) => None,
        })
        .collect()
}

fn transitions(actions: &[Action]) -> Vec<Transition> {
    actions
        .iter()
        .filter_map(|action| match action {
            Action::StateChanged(transition) => Some(*transition),
            Action::Send(_) => None,
        })
        .collect()
}

fn edge(from: SessionState, to: SessionState, diagnostic: Diagnostic) -> Transition {
    Transition { from, to, diagnostic, remote_admin_down: false }
}

/// A new session that has sent its first packet at `t0`.
fn down() -> (Session, Instant) {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0, 7);
    assert_eq!(sends(&session.handle_timeout(t0)).len(), 1);
    (session, t0)
}

fn init() -> (Session, Instant) {
    let (mut session, t0) = down();
    session.receive(t0, &peer(SessionState::Down));
    assert_eq!(session.state(), SessionState::Init);
    (session, t0)
}

/// Up, with the poll announcing the end of slow start still open.
fn up_polling() -> (Session, Instant) {
    let (mut session, t0) = down();
    session.receive(t0, &peer(SessionState::Init));
    assert_eq!(session.state(), SessionState::Up);
    assert!(session.snapshot().poll_in_progress);
    (session, t0)
}

/// Up, the peer's Final received: 300 ms both ways.
fn up() -> (Session, Instant) {
    let (mut session, t0) = up_polling();
    session.receive(t0, &ControlPacket { final_: true, ..peer(SessionState::Up) });
    assert!(!session.snapshot().poll_in_progress);
    (session, t0)
}

/// Runs every timer up to and including `until`; returns each firing's time and actions.
fn run(session: &mut Session, until: Instant) -> Vec<(Instant, Vec<Action>)> {
    let mut fired = Vec::new();
    while let Some(at) = session.poll_timeout().filter(|at| *at <= until) {
        fired.push((at, session.handle_timeout(at)));
    }
    fired
}

/// The periodic packets sent up to `until`, with their times.
fn periodic(session: &mut Session, until: Instant) -> Vec<(Instant, ControlPacket)> {
    run(session, until)
        .into_iter()
        .flat_map(|(at, actions)| sends(&actions).into_iter().map(move |p| (at, p)))
        .collect()
}

// §6.8.1 and §6.1: the initial variables, and an active session sends at once.

#[test]
fn rfc5880_6_8_1_initial_variables() {
    let t0 = Instant::now();
    let session = Session::new(config(), LOCAL, t0, 1);
    let snapshot = session.snapshot();
    assert_eq!(snapshot.state, SessionState::Down);
    assert_eq!(snapshot.remote_state, SessionState::Down);
    assert_eq!(snapshot.remote_discriminator, 0);
    assert_eq!(snapshot.local_diagnostic, Diagnostic::None);
    assert_eq!(snapshot.remote_min_rx, Duration::from_micros(1));
    assert_eq!(snapshot.tx_interval, SECOND, "slow start");
    assert_eq!(snapshot.detection_time, Duration::ZERO);
    assert!(!snapshot.poll_in_progress);
}

#[test]
fn rfc5880_6_1_active_role_sends_first_packet_at_creation() {
    let t0 = Instant::now();
    let mut session = Session::new(config(), LOCAL, t0, 1);
    assert_eq!(session.poll_timeout(), Some(t0));
    let sent = sends(&session.handle_timeout(t0));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].your_discriminator, 0, "the peer's discriminator is not known yet");
}

// §6.8.7: what we send.

#[test]
fn rfc5880_6_8_7_packet_contents() {
    let (mut session, t0) = init();
    let (_, packet) = periodic(&mut session, t0 + SECOND)[0];
    assert_eq!(
        packet,
        ControlPacket {
            version: 1,
            diagnostic: Diagnostic::None,
            state: SessionState::Init,
            poll: false,
            final_: false,
            control_plane_independent: false,
            authentication_present: false,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_discriminator: LOCAL,
            your_discriminator: REMOTE,
            desired_min_tx: 1_000_000, // slow start: not the configured 300 ms while not Up
            required_min_rx: 200_000,
            required_min_echo_rx: 0,
        }
    );
}

#[test]
fn rfc5880_6_8_7_jitter_within_75_to_100_percent() {
    let (mut session, t0) = down();
    let times: Vec<Instant> = periodic(&mut session, t0 + 300 * SECOND).into_iter().map(|(at, _)| at).collect();
    let gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(gaps.len() > 250);
    assert!(gaps.iter().all(|gap| (750 * MS..=SECOND).contains(gap)), "{gaps:?}");
    assert!(gaps.iter().any(|gap| *gap < 800 * MS) && gaps.iter().any(|gap| *gap > 950 * MS), "not jittered");
}

#[test]
fn rfc5880_6_8_7_jitter_within_75_to_90_percent_with_detect_mult_1() {
    let t0 = Instant::now();
    let mut session = Session::new(Config { detect_mult: 1, ..config() }, LOCAL, t0, 3);
    let times: Vec<Instant> = periodic(&mut session, t0 + 300 * SECOND).into_iter().map(|(at, _)| at).collect();
    let gaps: Vec<Duration> = times.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(gaps.iter().all(|gap| (750 * MS..=900 * MS).contains(gap)), "{gaps:?}");
}

#[test]
fn rfc5880_6_8_7_jitter_is_deterministic_from_the_seed() {
    let t0 = Instant::now();
    let schedule = |seed| {
        let mut session = Session::new(config(), LOCAL, t0, seed);
        periodic(&mut session, t0 + 20 * SECOND).into_iter().map(|(at, _)| at).collect::<Vec<_>>()
    };
    assert_eq!(schedule(5), schedule(5));
    assert_ne!(schedule(5), schedule(6));
}

#[test]
fn rfc5880_6_8_7_late_timeout_sends_once() {
    let (mut session, t0) = down();
    let late = t0 + 10 * SECOND;
    assert_eq!(sends(&session.handle_timeout(late)).len(), 1, "no burst to catch up");
    assert!(session.poll_timeout().is_some_and(|at| at > late));
    assert!(session.handle_timeout(late).is_empty(), "nothing is due twice");
}

#[test]
fn rfc5880_6_8_7_no_periodic_tx_when_remote_min_rx_is_zero() {
    let (mut session, t0) = down();
    session.receive(t0, &ControlPacket { required_min_rx: 0, ..peer(SessionState::Down) });
    assert_eq!(session.snapshot().tx_interval, Duration::ZERO);
    let detection = t0 + session.snapshot().detection_time;
    assert_eq!(session.poll_timeout(), Some(detection), "only the detection timer is left");
    assert!(periodic(&mut session, detection - MS).is_empty());
    // A poll is still answered (§6.8.7 "without respect to ... any other transmission limitations").
    let reply = session.receive(t0, &ControlPacket { required_min_rx: 0, poll: true, ..peer(SessionState::Init) });
    assert_eq!(sends(&reply).len(), 1);
}

#[test]
fn rfc5880_6_8_7_final_reply_does_not_move_the_periodic_schedule() {
    let (mut session, t0) = up();
    let next = session.poll_timeout();
    let actions = session.receive(t0 + MS, &ControlPacket { poll: true, ..peer(SessionState::Up) });
    assert_eq!(sends(&actions).len(), 1);
    assert_eq!(session.poll_timeout(), next);
}

// §6.8.2 and §6.8.3: the transmit interval.

#[test]
fn rfc5880_6_8_2_tx_interval_is_the_larger_of_desired_tx_and_remote_min_rx() {
    let (mut session, t0) = up();
    assert_eq!(session.snapshot().tx_interval, 300 * MS);
    session.receive(t0, &ControlPacket { required_min_rx: 700_000, ..peer(SessionState::Up) });
    assert_eq!(session.snapshot().tx_interval, 700 * MS);
}

#[test]
fn rfc5880_6_8_3_remote_min_rx_reduction_honoured_at_once() {
    let (mut session, t0) = up();
    session.receive(t0, &ControlPacket { required_min_rx: 5_000_000, ..peer(SessionState::Up) });
    assert_eq!(session.poll_timeout(), Some(t0 + 900 * MS), "the next packet is seconds away, detection first");
    let t1 = t0 + 500 * MS;
    session.receive(t1, &ControlPacket { required_min_rx: 100_000, ..peer(SessionState::Up) });
    assert_eq!(session.poll_timeout(), Some(t1), "300 ms have passed since the last packet: send now");
    assert_eq!(sends(&session.handle_timeout(t1)).len(), 1);
}

#[test]
fn rfc5880_6_8_3_slow_start_while_not_up() {
    let (mut session, t0) = init();
    assert_eq!(session.snapshot().tx_interval, SECOND);
    let packets = periodic(&mut session, t0 + 5 * SECOND);
    assert!(packets.iter().all(|(_, packet)| packet.desired_min_tx == 1_000_000));
    // A configured interval above one second is not lowered to it.
    let mut slow = Session::new(Config { desired_min_tx: 3 * SECOND, ..config() }, LOCAL, t0, 1);
    assert_eq!(sends(&slow.handle_timeout(t0))[0].desired_min_tx, 3_000_000);
}

#[test]
fn rfc5880_6_8_3_up_transition_polls_for_the_configured_tx() {
    let (mut session, t0) = up_polling();
    assert_eq!(session.snapshot().tx_interval, 300 * MS, "a faster DesiredMinTx applies at once");
    let packets = periodic(&mut session, t0 + SECOND);
    assert!(!packets.is_empty());
    for (_, packet) in &packets {
        assert!(packet.poll && !packet.final_);
        assert_eq!(packet.desired_min_tx, 300_000);
    }
    session.receive(t0 + SECOND, &ControlPacket { final_: true, ..peer(SessionState::Up) });
    let packets = periodic(&mut session, t0 + 2 * SECOND);
    assert!(packets.iter().all(|(_, packet)| !packet.poll), "the Final ended the poll");
}

#[test]
fn rfc5880_6_8_3_no_poll_at_up_when_tx_is_not_below_one_second() {
    let t0 = Instant::now();
    let mut session = Session::new(Config { desired_min_tx: 2 * SECOND, ..config() }, LOCAL, t0, 1);
    session.receive(t0, &peer(SessionState::Init));
    assert_eq!(session.state(), SessionState::Up);
    assert!(!session.snapshot().poll_in_progress);
}

#[test]
fn rfc5880_6_8_3_increased_desired_tx_waits_for_the_final() {
    let (mut session, t0) = up();
    session.reconfigure(t0, Config { desired_min_tx: 2 * SECOND, ..config() });
    let snapshot = session.snapshot();
    assert!(snapshot.poll_in_progress);
    assert_eq!(snapshot.tx_interval, 300 * MS, "the actual interval must not change before the Final");
    let packets = periodic(&mut session, t0 + SECOND);
    assert!(packets.len() >= 3);
    assert!(packets.iter().all(|(_, packet)| packet.poll && packet.desired_min_tx == 2_000_000));
    session.receive(t0 + SECOND, &ControlPacket { final_: true, ..peer(SessionState::Up) });
    assert_eq!(session.snapshot().tx_interval, 2 * SECOND);
    assert!(!session.snapshot().poll_in_progress);
}

#[test]
fn rfc5880_6_8_3_decreased_desired_tx_applies_at_once() {
    let (mut session, t0) = up();
    session.reconfigure(t0, Config { desired_min_tx: 250 * MS, ..config() });
    assert_eq!(session.snapshot().tx_interval, 250 * MS);
    assert!(session.snapshot().poll_in_progress);
}

#[test]
fn rfc5880_6_8_3_reduced_required_rx_waits_for_the_final() {
    let (mut session, t0) = up();
    let fast_peer = ControlPacket { desired_min_tx: 10_000, ..peer(SessionState::Up) };
    session.receive(t0, &fast_peer);
    assert_eq!(session.snapshot().detection_time, 600 * MS); // 3 × max(200 ms, 10 ms)
    session.reconfigure(t0, Config { required_min_rx: 50 * MS, ..config() });
    session.receive(t0, &fast_peer);
    assert_eq!(session.snapshot().detection_time, 600 * MS, "the old RequiredMinRx until the Final");
    let packets = periodic(&mut session, t0 + 400 * MS);
    assert!(packets.iter().all(|(_, packet)| packet.poll && packet.required_min_rx == 50_000));
    session.receive(t0 + 400 * MS, &ControlPacket { final_: true, ..fast_peer });
    assert_eq!(session.snapshot().detection_time, 150 * MS);
}

#[test]
fn rfc5880_6_8_3_increased_required_rx_applies_at_once() {
    let (mut session, t0) = up();
    session.reconfigure(t0, Config { required_min_rx: 500 * MS, ..config() });
    session.receive(t0, &peer(SessionState::Up));
    assert_eq!(session.snapshot().detection_time, 1500 * MS);
}

#[test]
fn rfc5880_6_8_3_second_change_waits_for_the_poll_and_a_packet_without_final() {
    // The peer's polls show what our packets advertise at each step.
    let advertised = |session: &mut Session, at| {
        let reply = sends(&session.receive(at, &ControlPacket { poll: true, ..peer(SessionState::Up) }));
        reply[0].desired_min_tx
    };
    let (mut session, t0) = up();
    session.reconfigure(t0, Config { desired_min_tx: 2 * SECOND, ..config() });
    session.reconfigure(t0, Config { desired_min_tx: 3 * SECOND, ..config() });
    let packets = periodic(&mut session, t0 + 500 * MS);
    assert!(!packets.is_empty());
    assert!(packets.iter().all(|(_, packet)| packet.poll && packet.desired_min_tx == 2_000_000), "{packets:?}");

    let t1 = t0 + 500 * MS;
    session.receive(t1, &ControlPacket { final_: true, ..peer(SessionState::Up) });
    assert_eq!(session.snapshot().tx_interval, 2 * SECOND, "the Final confirmed the first change");
    assert!(!session.snapshot().poll_in_progress);
    let packets = periodic(&mut session, t1 + 50 * MS);
    assert!(packets.iter().all(|(_, packet)| !packet.poll && packet.desired_min_tx == 2_000_000), "{packets:?}");

    let t2 = t1 + 100 * MS;
    // A packet with F clear ends the wait and starts the second poll.
    session.receive(t2, &peer(SessionState::Up));
    assert!(session.snapshot().poll_in_progress, "the second poll starts");
    assert_eq!(advertised(&mut session, t2), 3_000_000);
    assert_eq!(session.snapshot().tx_interval, 2 * SECOND, "3 s waits for the second Final");
    session.receive(t2, &ControlPacket { final_: true, ..peer(SessionState::Up) });
    assert_eq!(session.snapshot().tx_interval, 3 * SECOND);
}

#[test]
fn rfc5880_6_8_3_reconfigure_when_not_up_applies_at_once_without_poll() {
    let (mut session, t0) = init();
    session.reconfigure(t0, Config { desired_min_tx: 4 * SECOND, required_min_rx: 100 * MS, detect_mult: 5 });
    let snapshot = session.snapshot();
    assert!(!snapshot.poll_in_progress);
    assert_eq!(snapshot.tx_interval, 4 * SECOND);
    let (_, packet) = periodic(&mut session, t0 + 5 * SECOND)[0];
    assert_eq!((packet.desired_min_tx, packet.required_min_rx, packet.detect_mult), (4_000_000, 100_000, 5));
    assert!(!packet.poll);
}

#[test]
fn rfc5880_6_8_3_back_to_slow_start_after_detection_expiry() {
    let (mut session, t0) = up();
    assert_eq!(session.snapshot().tx_interval, 300 * MS);
    let fired = run(&mut session, t0 + 2 * SECOND);
    assert!(fired.iter().any(|(_, actions)| !transitions(actions).is_empty()));
    assert_eq!(session.state(), SessionState::Down);
    assert_eq!(session.snapshot().tx_interval, SECOND);
    assert!(!session.snapshot().poll_in_progress);
}

#[test]
fn rfc5880_6_8_3_reconfigure_normalises_to_the_wire() {
    let (mut session, t0) = down();
    session.reconfigure(
        t0,
        Config { desired_min_tx: Duration::ZERO, required_min_rx: Duration::from_nanos(1500), detect_mult: 0 },
    );
    let configured = session.snapshot().configured;
    assert_eq!(configured, Config { desired_min_tx: MICROSECOND, required_min_rx: MICROSECOND, detect_mult: 1 });
}

// §6.8.4: detection.

#[test]
fn rfc5880_6_8_4_detection_time_is_remote_mult_times_the_agreed_remote_tx() {
    let (mut session, t0) = up();
    assert_eq!(session.snapshot().detection_time, 900 * MS, "3 × max(200 ms, 300 ms)");
    session.receive(t0, &ControlPacket { detect_mult: 5, desired_min_tx: 100_000, ..peer(SessionState::Up) });
    assert_eq!(session.snapshot().detection_time, SECOND, "5 × max(200 ms, 100 ms)");
    assert_eq!(session.poll_timeout().map(|at| at <= t0 + SECOND), Some(true));
}

#[test]
fn rfc5880_6_8_4_packets_keep_the_session_up() {
    let (mut session, t0) = up();
    let mut now = t0;
    for _ in 0..20 {
        now += 500 * MS;
        let fired = run(&mut session, now);
        assert!(fired.iter().all(|(_, actions)| transitions(actions).is_empty()));
        session.receive(now, &peer(SessionState::Up));
    }
    assert_eq!(session.state(), SessionState::Up);
}

// §6.8.1: bfd.RemoteDiscr.

#[test]
fn rfc5880_6_8_1_remote_discriminator_reset_on_detection_expiry() {
    let (mut session, t0) = up();
    run(&mut session, t0 + SECOND);
    let snapshot = session.snapshot();
    assert_eq!(snapshot.remote_discriminator, 0);
    assert_eq!(snapshot.remote_state, SessionState::Down);
    let (_, packet) = periodic(&mut session, t0 + 3 * SECOND)[0];
    assert_eq!(packet.your_discriminator, 0);
}

#[test]
fn rfc5880_6_8_1_remote_discriminator_reset_after_silence_in_down() {
    let (mut session, t0) = down();
    session.receive(t0, &peer(SessionState::AdminDown));
    assert_eq!(session.state(), SessionState::Down);
    assert_eq!(session.snapshot().remote_discriminator, REMOTE);
    let fired = run(&mut session, t0 + 2 * SECOND);
    assert!(fired.iter().all(|(_, actions)| transitions(actions).is_empty()), "Down stays Down");
    assert_eq!(session.snapshot().remote_discriminator, 0);
}

#[test]
fn rfc5880_6_8_1_remote_discriminator_kept_on_neighbor_signaled_down() {
    let (mut session, t0) = up();
    session.receive(t0, &peer(SessionState::Down));
    assert_eq!(session.snapshot().remote_discriminator, REMOTE);
}

// §6.8.6, step by step.

#[test]
fn rfc5880_6_8_6_discard_invalid_packet_built_by_hand() {
    let (mut session, t0) = init();
    let before = session.snapshot();
    for bad in [
        ControlPacket { version: 0, ..peer(SessionState::Up) },
        ControlPacket { detect_mult: 0, ..peer(SessionState::Up) },
        ControlPacket { multipoint: true, ..peer(SessionState::Up) },
        ControlPacket { my_discriminator: 0, ..peer(SessionState::Up) },
        ControlPacket { your_discriminator: 0, ..peer(SessionState::Up) },
    ] {
        assert!(session.receive(t0, &ControlPacket { poll: true, ..bad }).is_empty(), "{bad:?}");
        assert_eq!(session.snapshot(), before);
    }
}

#[test]
fn rfc5880_6_8_6_discard_when_your_discriminator_is_not_ours() {
    let (mut session, t0) = init();
    let before = session.snapshot();
    let stray = ControlPacket { your_discriminator: LOCAL + 1, poll: true, ..peer(SessionState::Up) };
    assert!(session.receive(t0, &stray).is_empty());
    assert_eq!(session.snapshot(), before);
}

#[test]
fn rfc5880_6_8_6_zero_your_discriminator_accepted_in_down() {
    let (mut session, t0) = down();
    session.receive(t0, &ControlPacket { your_discriminator: 0, ..peer(SessionState::Down) });
    assert_eq!(session.state(), SessionState::Init);
}

#[test]
fn rfc5880_6_8_6_discard_when_a_bit_set() {
    let (mut session, t0) = init();
    let before = session.snapshot();
    let signed = ControlPacket { authentication_present: true, poll: true, ..peer(SessionState::Up) };
    assert!(session.receive(t0, &signed).is_empty());
    assert_eq!(session.snapshot(), before);
}

#[test]
fn rfc5880_6_8_6_learns_the_remote_variables() {
    let (mut session, t0) = down();
    let packet = ControlPacket {
        diagnostic: Diagnostic::PathDown,
        detect_mult: 4,
        desired_min_tx: 1_500_000,
        required_min_rx: 400_000,
        ..peer(SessionState::Down)
    };
    session.receive(t0, &packet);
    let snapshot = session.snapshot();
    assert_eq!(snapshot.remote_discriminator, REMOTE);
    assert_eq!(snapshot.remote_state, SessionState::Down);
    assert_eq!(snapshot.remote_diagnostic, Diagnostic::PathDown);
    assert_eq!(snapshot.remote_min_rx, 400 * MS);
    assert_eq!(snapshot.remote_min_tx, 1500 * MS);
    assert_eq!(snapshot.remote_detect_mult, 4);
    assert_eq!(snapshot.detection_time, 6 * SECOND);
}

#[test]
fn rfc5880_6_8_6_final_terminates_our_poll() {
    let (mut session, t0) = up_polling();
    session.receive(t0, &peer(SessionState::Up));
    assert!(session.snapshot().poll_in_progress, "only F ends a poll");
    session.receive(t0, &ControlPacket { final_: true, ..peer(SessionState::Up) });
    assert!(!session.snapshot().poll_in_progress);
}

#[test]
fn rfc5880_6_8_6_admin_down_discards_after_learning_the_remote() {
    let (mut session, t0) = down();
    session.admin_down(t0);
    let actions = session.receive(t0, &ControlPacket { poll: true, ..peer(SessionState::Init) });
    assert!(actions.is_empty(), "discarded, the Poll included");
    let snapshot = session.snapshot();
    assert_eq!(snapshot.state, SessionState::AdminDown);
    assert_eq!(snapshot.remote_discriminator, REMOTE, "learned before the discard");
    assert_eq!(snapshot.remote_state, SessionState::Init);
    assert_eq!(snapshot.detection_time, Duration::ZERO, "a discarded packet arms no detection");
    let (_, packet) = periodic(&mut session, t0 + SECOND)[0];
    assert_eq!(packet.your_discriminator, REMOTE);
    assert_eq!(packet.state, SessionState::AdminDown);
}

#[test]
fn rfc5880_6_8_6_remote_admin_down_takes_an_up_session_down() {
    let (mut session, t0) = up();
    let actions = session.receive(t0, &peer(SessionState::AdminDown));
    let transition = Transition {
        from: SessionState::Up,
        to: SessionState::Down,
        diagnostic: Diagnostic::NeighborSignaledSessionDown,
        remote_admin_down: true,
    };
    assert_eq!(actions, vec![Action::StateChanged(transition)]);
    assert!(!transition.is_failure(), "the peer's operator, not the path");
}

#[test]
fn rfc5880_6_8_6_remote_admin_down_takes_an_init_session_down() {
    let (mut session, t0) = init();
    let actions = session.receive(t0, &peer(SessionState::AdminDown));
    assert_eq!(
        transitions(&actions),
        vec![Transition {
            from: SessionState::Init,
            to: SessionState::Down,
            diagnostic: Diagnostic::NeighborSignaledSessionDown,
            remote_admin_down: true,
        }]
    );
}

#[test]
fn rfc5880_6_8_6_remote_admin_down_leaves_down_alone() {
    let (mut session, t0) = down();
    assert!(session.receive(t0, &peer(SessionState::AdminDown)).is_empty());
    assert_eq!(session.snapshot().local_diagnostic, Diagnostic::None);
}

#[test]
fn rfc5880_6_8_6_poll_answered_at_once_with_final() {
    let (mut session, t0) = up();
    let actions = session.receive(t0, &ControlPacket { poll: true, ..peer(SessionState::Up) });
    let sent = sends(&actions);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].final_ && !sent[0].poll);
    assert_eq!(sent[0].state, SessionState::Up);
}

#[test]
fn rfc5880_6_8_6_remote_demand_mode_ceases_periodic_transmission() {
    let (mut session, t0) = up();
    let demand = ControlPacket { demand: true, ..peer(SessionState::Up) };
    session.receive(t0, &demand);
    assert_eq!(session.snapshot().tx_interval, Duration::ZERO);
    assert_eq!(session.poll_timeout(), Some(t0 + 900 * MS), "only detection: the peer keeps sending");
    // The peer's polls are answered.
    assert_eq!(sends(&session.receive(t0, &ControlPacket { poll: true, ..demand })).len(), 1);
    // Our own poll is carried by periodic packets again until its Final.
    session.reconfigure(t0, Config { desired_min_tx: 400 * MS, ..config() });
    let packets = periodic(&mut session, t0 + 800 * MS);
    assert!(!packets.is_empty() && packets.iter().all(|(_, packet)| packet.poll));
    session.receive(t0 + 800 * MS, &ControlPacket { final_: true, ..demand });
    assert_eq!(session.snapshot().tx_interval, Duration::ZERO);
}

#[test]
fn rfc5880_6_8_6_remote_demand_mode_ignored_outside_up() {
    let (mut session, t0) = down();
    session.receive(t0, &ControlPacket { demand: true, ..peer(SessionState::Down) });
    assert_eq!(session.snapshot().tx_interval, SECOND);
}

// §6.2, edge by edge.

#[test]
fn rfc5880_6_2_down_to_init_on_down() {
    let (mut session, t0) = down();
    let actions = session.receive(t0, &peer(SessionState::Down));
    assert_eq!(actions, vec![Action::StateChanged(edge(SessionState::Down, SessionState::Init, Diagnostic::None))]);
}

#[test]
fn rfc5880_6_2_down_to_up_on_init() {
    let (mut session, t0) = down();
    let actions = session.receive(t0, &peer(SessionState::Init));
    assert_eq!(actions, vec![Action::StateChanged(edge(SessionState::Down, SessionState::Up, Diagnostic::None))]);
}

#[test]
fn rfc5880_6_2_down_stays_down_on_up() {
    let (mut session, t0) = down();
    assert!(session.receive(t0, &peer(SessionState::Up)).is_empty());
    assert_eq!(session.state(), SessionState::Down);
}

#[test]
fn rfc5880_6_2_init_to_up_on_init_or_up() {
    for remote in [SessionState::Init, SessionState::Up] {
        let (mut session, t0) = init();
        let actions = session.receive(t0, &peer(remote));
        assert_eq!(actions, vec![Action::StateChanged(edge(SessionState::Init, SessionState::Up, Diagnostic::None))]);
    }
}

#[test]
fn rfc5880_6_2_init_stays_init_on_down() {
    let (mut session, t0) = init();
    assert!(session.receive(t0, &peer(SessionState::Down)).is_empty());
    assert_eq!(session.state(), SessionState::Init);
}

#[test]
fn rfc5880_6_2_init_to_down_on_timer() {
    let (mut session, t0) = init();
    let fired = run(&mut session, t0 + 3 * SECOND);
    let all: Vec<Transition> = fired.iter().flat_map(|(_, actions)| transitions(actions)).collect();
    assert_eq!(all, vec![edge(SessionState::Init, SessionState::Down, Diagnostic::ControlDetectionTimeExpired)]);
    let expired_at = fired.iter().find(|(_, actions)| !transitions(actions).is_empty()).map(|(at, _)| *at);
    assert_eq!(expired_at, Some(t0 + 900 * MS), "3 × max(200 ms, 300 ms)");
}

#[test]
fn rfc5880_6_2_up_to_down_on_down() {
    let (mut session, t0) = up();
    let actions = session.receive(t0, &peer(SessionState::Down));
    let transition = edge(SessionState::Up, SessionState::Down, Diagnostic::NeighborSignaledSessionDown);
    assert_eq!(actions, vec![Action::StateChanged(transition)]);
    assert!(transition.is_failure());
    assert_eq!(session.snapshot().tx_interval, SECOND, "slow start again");
}

#[test]
fn rfc5880_6_2_up_stays_up_on_init_or_up() {
    let (mut session, t0) = up();
    assert!(session.receive(t0, &peer(SessionState::Init)).is_empty());
    assert!(session.receive(t0, &peer(SessionState::Up)).is_empty());
    assert_eq!(session.state(), SessionState::Up);
}

#[test]
fn rfc5880_6_2_up_to_down_on_timer() {
    let (mut session, t0) = up();
    let fired = run(&mut session, t0 + 900 * MS);
    let (at, actions) = fired.last().unwrap();
    assert_eq!(*at, t0 + 900 * MS);
    let transition = edge(SessionState::Up, SessionState::Down, Diagnostic::ControlDetectionTimeExpired);
    assert_eq!(transitions(actions), vec![transition]);
    assert!(transition.is_failure());
}

#[test]
fn rfc5880_6_2_init_and_up_to_down_on_admin_down_carry_the_flag() {
    let (mut session, t0) = up();
    let transition = transitions(&session.receive(t0, &peer(SessionState::AdminDown)))[0];
    assert!(transition.remote_admin_down);
}

// §6.8.16: administrative control.

#[test]
fn rfc5880_6_8_16_admin_down_from_every_state() {
    let sessions = [down(), init(), up()];
    for (mut session, t0) in sessions {
        let from = session.state();
        let actions = session.admin_down(t0);
        let sent = sends(&actions);
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].state, sent[0].diagnostic), (SessionState::AdminDown, Diagnostic::AdministrativelyDown));
        let transition = edge(from, SessionState::AdminDown, Diagnostic::AdministrativelyDown);
        assert_eq!(actions[1], Action::StateChanged(transition));
        assert!(!transition.is_failure());
        assert_eq!(session.snapshot().detection_time, Duration::ZERO);
        assert_eq!(session.snapshot().tx_interval, SECOND, "AdminDown keeps going out at the slow rate");
        // Idempotent: one more packet, no second transition.
        let again = session.admin_down(t0);
        assert_eq!((sends(&again).len(), transitions(&again).len()), (1, 0));
    }
}

#[test]
fn rfc5880_6_8_16_enable_returns_to_down() {
    let (mut session, t0) = up();
    session.admin_down(t0);
    let actions = session.enable(t0);
    assert_eq!(
        actions,
        vec![Action::StateChanged(edge(SessionState::AdminDown, SessionState::Down, Diagnostic::AdministrativelyDown))]
    );
    assert!(session.enable(t0).is_empty());
    session.receive(t0, &peer(SessionState::Down));
    assert_eq!(session.state(), SessionState::Init);
}

// §6.5: the Poll sequence.

#[test]
fn rfc5880_6_5_never_poll_and_final_in_one_packet() {
    let (mut session, t0) = up_polling();
    let reply = sends(&session.receive(t0, &ControlPacket { poll: true, ..peer(SessionState::Up) }));
    assert!(reply[0].final_ && !reply[0].poll, "the Final answers without our P");
    let packets = periodic(&mut session, t0 + SECOND);
    assert!(packets.iter().all(|(_, packet)| packet.poll && !packet.final_));
}

#[test]
fn rfc5880_6_5_poll_rides_on_periodic_packets_only() {
    let (mut session, t0) = up();
    let next = session.poll_timeout();
    assert!(session.reconfigure(t0, Config { desired_min_tx: 2 * SECOND, ..config() }).is_empty());
    assert_eq!(session.poll_timeout(), next, "no extra packet for the poll");
}

// The order of actions within one call.

#[test]
fn sends_come_before_the_state_change_they_belong_to() {
    let (mut session, t0) = down();
    let actions = session.receive(t0, &ControlPacket { poll: true, ..peer(SessionState::Init) });
    assert!(
        matches!(actions.as_slice(), [Action::Send(reply), Action::StateChanged(_)] if reply.state == SessionState::Up)
    );

    let (mut session, t0) = up();
    // Detection and the periodic packet due at the same instant: the packet already says Down.
    let deadline = t0 + 900 * MS;
    run(&mut session, deadline - MS);
    let actions = session.handle_timeout(deadline + 2 * SECOND);
    match actions.as_slice() {
        [Action::Send(packet), Action::StateChanged(transition)] => {
            assert_eq!(packet.state, SessionState::Down);
            assert_eq!(packet.diagnostic, Diagnostic::ControlDetectionTimeExpired);
            assert_eq!(transition.to, SessionState::Down);
        }
        other => panic!("{other:?}"),
    }
}
