//! One BFD session in asynchronous mode (RFC 5880 §6), pure: received packets, timer expiries and
//! the current time in, packets to send and state changes out.
//!
//! Where RFC 5880 leaves room, or where this machine reads it one way among several, the choice
//! and its reason are stated here once:
//!
//! - **Active role.** The session transmits from its creation (§6.1): [`Session::poll_timeout`]
//!   is `now` right after [`Session::new`], and the first periodic packet goes out at the first
//!   [`Session::handle_timeout`].
//! - **No packet on a state change.** A new state rides on the next periodic packet, and on an
//!   immediate Final if the peer polled. §6.8.7 asks for nothing more, and the slow-start second
//!   bounds the three-way handshake at about two seconds anyway.
//! - **Order of actions.** Within one call, every `Send` comes before the `StateChanged` it
//!   belongs to; a call yields at most one `Send` and at most one `StateChanged`. The packet
//!   already carries the new state, and the driver can put it on the wire before it tells the
//!   speaker.
//! - **Poll sequences only while Up.** §6.8.3 polls on every change of the advertised timers; a
//!   peer that is not Up has no detection time of ours to protect, so outside Up a change takes
//!   effect at once and an unfinished poll is abandoned. In Up, a change of the configured
//!   timers and the end of slow start (1 s → configured DesiredMinTx at the Up transition) both
//!   set P on the periodic packets until a Final arrives. A larger DesiredMinTx only slows our
//!   transmission, and a smaller RequiredMinRx only shortens the detection time, once the Final
//!   is in (§6.8.3); the opposite changes are safe at once and apply at once.
//! - **Changes during a poll.** Our packets keep the values being polled, so that the Final
//!   answers exactly them. A further change waits until the poll ended and then a packet with F
//!   clear arrived, the third way §6.8.3 allows.
//! - **Detection.** Armed by every packet that is not discarded, in Down as well, so that
//!   bfd.RemoteDiscr is forgotten one detection time after the peer fell silent (§6.8.1). On
//!   expiry the remote state is forgotten too (it reads Down): it is only consulted for the
//!   peer's Demand mode, which needs us Up, and `rhi status` should not show a silent peer as Up.
//! - **Remote Demand mode.** We never ask for Demand mode (D is always clear), but a peer may:
//!   while it sets D and both sides are Up, periodic transmission ceases (§6.8.6, §6.8.7) except
//!   to carry our own poll; its polls are still answered at once.
//! - **Administrative down** ([`Session::admin_down`]) keeps transmitting AdminDown at the
//!   slow-start rate, not just for the one detection time §6.8.16 asks for: a peer that restarts
//!   later learns at once why we are silent instead of timing out in Init. Received packets
//!   update the remote variables and are then discarded, as §6.8.6 orders, Polls included.
//! - **Diagnostic.** bfd.LocalDiag is only written where §6.8 says so; it keeps explaining the
//!   last failure after the session is Up again.
//! - **Timers on the wire** are whole microseconds up to `u32::MAX`: the configuration is rounded
//!   down to that once. A zero DesiredMinTx or DetectMult cannot be sent (the peer would discard
//!   the packet) and is raised to 1 µs or 1.

use std::time::{Duration, Instant};

use super::packet::{ControlPacket, Diagnostic, SessionState};

/// §6.8.3: bfd.DesiredMinTxInterval while the session is not Up.
pub const SLOW_START_TX: Duration = Duration::from_secs(1);

/// §6.8.1: bfd.RemoteMinRxInterval before the peer said anything (one microsecond).
const INITIAL_REMOTE_MIN_RX: Duration = Duration::from_micros(1);

const MICROSECOND: Duration = Duration::from_micros(1);

/// The session's own timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// How often we would like to send when Up (bfd.DesiredMinTxInterval).
    pub desired_min_tx: Duration,
    /// How often we can take the peer's packets (bfd.RequiredMinRxInterval); zero asks the peer
    /// to send no periodic packets at all.
    pub required_min_rx: Duration,
    /// bfd.DetectMult: how many of our intervals the peer waits before declaring us down.
    pub detect_mult: u8,
}

impl Config {
    /// What the wire can carry; see the module documentation.
    fn normalised(self) -> Config {
        Config {
            desired_min_tx: wire(self.desired_min_tx).max(MICROSECOND),
            required_min_rx: wire(self.required_min_rx),
            detect_mult: self.detect_mult.max(1),
        }
    }
}

/// One change of the local session state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub from: SessionState,
    pub to: SessionState,
    /// bfd.LocalDiag after the change.
    pub diagnostic: Diagnostic,
    /// The change was caused by the peer signalling AdminDown: its operator took it down, the
    /// path did not fail.
    pub remote_admin_down: bool,
}

impl Transition {
    /// An Up session went Down for a reason other than the peer's administrative action: the
    /// event BGP should tear its session down for (RFC 5882 §4.3 leaves AdminDown to the client).
    pub fn is_failure(&self) -> bool {
        self.from == SessionState::Up && self.to == SessionState::Down && !self.remote_admin_down
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Encode and send this packet now.
    Send(ControlPacket),
    StateChanged(Transition),
}

/// What `rhi status` and the metrics show of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub state: SessionState,
    pub remote_state: SessionState,
    pub local_discriminator: u32,
    pub remote_discriminator: u32,
    pub local_diagnostic: Diagnostic,
    pub remote_diagnostic: Diagnostic,
    /// The interval periodic packets are sent at now, before jitter; zero when none are sent
    /// (the peer asked for none, or runs Demand mode).
    pub tx_interval: Duration,
    /// The current detection time; zero when no detection is armed.
    pub detection_time: Duration,
    pub remote_min_rx: Duration,
    pub remote_min_tx: Duration,
    pub remote_detect_mult: u8,
    /// The configuration as the session uses it (whole microseconds, see the module docs).
    pub configured: Config,
    pub poll_in_progress: bool,
}

/// Where our Poll sequence (§6.5) stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Poll {
    Idle,
    /// Periodic packets carry P until a Final arrives.
    Sending,
    /// A poll just ended while a further change waits: the next packet with F clear starts it.
    Settling,
}

/// One BFD session's state machine. See the module documentation for the contract.
#[derive(Clone, Debug)]
pub struct Session {
    config: Config,
    state: SessionState,
    local_discriminator: u32,
    local_diagnostic: Diagnostic,
    remote_discriminator: u32,
    remote_state: SessionState,
    remote_diagnostic: Diagnostic,
    remote_demand: bool,
    remote_min_rx: Duration,
    remote_min_tx: Duration,
    remote_detect_mult: u8,
    /// What our packets carry (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval).
    advertised_tx: Duration,
    advertised_rx: Duration,
    /// What our transmit interval and the detection time are computed from. Equal to the
    /// advertised values except while a poll confirms a change that must wait for it (§6.8.3).
    effective_tx: Duration,
    effective_rx: Duration,
    poll: Poll,
    /// The next periodic transmission; `None` while periodic transmission is not allowed.
    next_tx: Option<Instant>,
    /// The interval `next_tx` was drawn from, so that it is redrawn only when that changes.
    scheduled_interval: Duration,
    last_tx: Option<Instant>,
    detect_at: Option<Instant>,
    rng: SplitMix64,
}

impl Session {
    /// A session in Down, transmitting (slow start: at most one packet per second until Up).
    /// `local_discriminator` must be nonzero and unique among this system's sessions (§6.3); the
    /// driver chooses it.
    pub fn new(config: Config, local_discriminator: u32, now: Instant, rng_seed: u64) -> Session {
        let config = config.normalised();
        let tx = config.desired_min_tx.max(SLOW_START_TX);
        Session {
            config,
            state: SessionState::Down,
            local_discriminator,
            local_diagnostic: Diagnostic::None,
            remote_discriminator: 0,
            remote_state: SessionState::Down,
            remote_diagnostic: Diagnostic::None,
            remote_demand: false,
            remote_min_rx: INITIAL_REMOTE_MIN_RX,
            remote_min_tx: Duration::ZERO,
            remote_detect_mult: 0,
            advertised_tx: tx,
            advertised_rx: config.required_min_rx,
            effective_tx: tx,
            effective_rx: config.required_min_rx,
            poll: Poll::Idle,
            next_tx: Some(now),
            scheduled_interval: tx.max(INITIAL_REMOTE_MIN_RX),
            last_tx: None,
            detect_at: None,
            rng: SplitMix64::new(rng_seed),
        }
    }

    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The earliest deadline (next transmission or detection expiry); the driver calls
    /// [`Session::handle_timeout`] then. `None` when neither is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.next_tx, self.detect_at) {
            (Some(tx), Some(detect)) => Some(tx.min(detect)),
            (tx, detect) => tx.or(detect),
        }
    }

    /// §6.8.6 reception of one decoded packet (the driver has already checked TTL and addresses
    /// and demultiplexed it to this session).
    pub fn receive(&mut self, now: Instant, packet: &ControlPacket) -> Vec<Action> {
        let mut actions = Vec::new();
        // The packet-level rules again: a ControlPacket need not come from `decode`.
        if packet.validate().is_err() {
            return actions;
        }
        // A nonzero Your Discriminator that is not ours selects no session: the driver's
        // demultiplexing went wrong, or the peer remembers a session we no longer have.
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discriminator {
            return actions;
        }
        // bfd.AuthType is zero: an authenticated packet cannot be checked, so it is not trusted.
        if packet.authentication_present {
            return actions;
        }

        self.remote_discriminator = packet.my_discriminator;
        self.remote_state = packet.state;
        self.remote_demand = packet.demand;
        self.remote_min_rx = micros(packet.required_min_rx);
        self.remote_min_tx = micros(packet.desired_min_tx);
        self.remote_detect_mult = packet.detect_mult;
        self.remote_diagnostic = packet.diagnostic;
        if packet.final_ && self.poll == Poll::Sending {
            self.finish_poll();
        }
        // §6.8.2: the transmit interval follows bfd.RemoteMinRxInterval at once (§6.8.3).
        self.reschedule(now);

        if self.state == SessionState::AdminDown {
            return actions;
        }

        let transition = match (self.state, packet.state) {
            (SessionState::Down, SessionState::AdminDown) => None,
            (_, SessionState::AdminDown) => {
                Some(self.change(now, SessionState::Down, Some(Diagnostic::NeighborSignaledSessionDown), true))
            }
            (SessionState::Down, SessionState::Down) => Some(self.change(now, SessionState::Init, None, false)),
            (SessionState::Down, SessionState::Init) | (SessionState::Init, SessionState::Init | SessionState::Up) => {
                Some(self.change(now, SessionState::Up, None, false))
            }
            (SessionState::Up, SessionState::Down) => {
                Some(self.change(now, SessionState::Down, Some(Diagnostic::NeighborSignaledSessionDown), false))
            }
            _ => None,
        };

        if self.poll == Poll::Settling && !packet.final_ {
            self.poll = Poll::Idle;
            self.retime(now);
        }
        // §6.8.7: answered at once, whatever the state, the schedule or the peer's wishes.
        if packet.poll {
            actions.push(Action::Send(self.packet(false, true)));
        }
        self.detect_at = now.checked_add(self.detection_time());
        // The peer's Demand mode depends on both states, which may just have changed.
        self.reschedule(now);
        actions.extend(transition.map(Action::StateChanged));
        actions
    }

    /// Periodic transmission and detection-time expiry at `now`. Each due timer fires at most
    /// once per call and is re-armed from `now`, so a late call never produces a burst.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut transition = None;
        if self.detect_at.is_some_and(|at| at <= now) {
            self.detect_at = None;
            self.remote_discriminator = 0;
            self.remote_state = SessionState::Down;
            if matches!(self.state, SessionState::Init | SessionState::Up) {
                let diagnostic = Some(Diagnostic::ControlDetectionTimeExpired);
                transition = Some(self.change(now, SessionState::Down, diagnostic, false));
            }
        }
        let mut actions = Vec::new();
        if self.next_tx.is_some_and(|at| at <= now) {
            actions.push(Action::Send(self.packet(self.poll == Poll::Sending, false)));
            self.last_tx = Some(now);
            self.scheduled_interval = self.tx_interval();
            let delay = self.jitter(self.scheduled_interval);
            self.next_tx = now.checked_add(delay);
        }
        actions.extend(transition.map(Action::StateChanged));
        actions
    }

    /// New timers. While Up they are announced by a Poll sequence (§6.5) and take effect as
    /// §6.8.3 allows; otherwise at once. Returns no actions today: the P bit rides on the next
    /// periodic packet, and §6.5 forbids extra packets for it.
    pub fn reconfigure(&mut self, now: Instant, config: Config) -> Vec<Action> {
        self.config = config.normalised();
        self.retime(now);
        Vec::new()
    }

    /// Local administrative down (rhi shutting down, or BFD removed from the peer): state
    /// AdminDown with diagnostic Administratively Down (§6.8.16). Returns one AdminDown packet
    /// to send now (also when already AdminDown, so a driver shutting down needs no check);
    /// AdminDown packets then keep going out at the slow-start rate until [`Session::enable`].
    pub fn admin_down(&mut self, now: Instant) -> Vec<Action> {
        let from = self.state;
        if from != SessionState::AdminDown {
            self.state = SessionState::AdminDown;
            self.local_diagnostic = Diagnostic::AdministrativelyDown;
            // Packets are discarded from now on (§6.8.6), so none can keep a detection alive.
            self.detect_at = None;
            self.retime(now);
        }
        let mut actions = vec![Action::Send(self.packet(false, false))];
        if from != SessionState::AdminDown {
            actions.push(Action::StateChanged(Transition {
                from,
                to: SessionState::AdminDown,
                diagnostic: self.local_diagnostic,
                remote_admin_down: false,
            }));
        }
        actions
    }

    /// Leaves AdminDown for Down (§6.8.16 "If enabling session"); nothing in any other state.
    pub fn enable(&mut self, now: Instant) -> Vec<Action> {
        if self.state != SessionState::AdminDown {
            return Vec::new();
        }
        let transition = self.change(now, SessionState::Down, None, false);
        vec![Action::StateChanged(transition)]
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            state: self.state,
            remote_state: self.remote_state,
            local_discriminator: self.local_discriminator,
            remote_discriminator: self.remote_discriminator,
            local_diagnostic: self.local_diagnostic,
            remote_diagnostic: self.remote_diagnostic,
            tx_interval: if self.periodic_allowed() { self.tx_interval() } else { Duration::ZERO },
            detection_time: if self.detect_at.is_some() { self.detection_time() } else { Duration::ZERO },
            remote_min_rx: self.remote_min_rx,
            remote_min_tx: self.remote_min_tx,
            remote_detect_mult: self.remote_detect_mult,
            configured: self.config,
            poll_in_progress: self.poll == Poll::Sending,
        }
    }

    fn change(
        &mut self,
        now: Instant,
        to: SessionState,
        diagnostic: Option<Diagnostic>,
        remote_admin_down: bool,
    ) -> Transition {
        let from = self.state;
        self.state = to;
        if let Some(diagnostic) = diagnostic {
            self.local_diagnostic = diagnostic;
        }
        self.retime(now);
        Transition { from, to, diagnostic: self.local_diagnostic, remote_admin_down }
    }

    /// bfd.DesiredMinTxInterval as §6.8.3 wants it in the current state.
    fn wanted_tx(&self) -> Duration {
        if self.state == SessionState::Up {
            self.config.desired_min_tx
        } else {
            self.config.desired_min_tx.max(SLOW_START_TX)
        }
    }

    /// Brings the advertised timers in line with the configuration and state (§6.8.3).
    fn retime(&mut self, now: Instant) {
        let (tx, rx) = (self.wanted_tx(), self.config.required_min_rx);
        if self.state != SessionState::Up {
            self.poll = Poll::Idle;
            (self.advertised_tx, self.advertised_rx) = (tx, rx);
            (self.effective_tx, self.effective_rx) = (tx, rx);
        } else if self.poll == Poll::Idle && (tx, rx) != (self.advertised_tx, self.advertised_rx) {
            (self.advertised_tx, self.advertised_rx) = (tx, rx);
            // Idle means effective == advertised: only the safe direction moves now.
            self.effective_tx = self.effective_tx.min(tx);
            self.effective_rx = self.effective_rx.max(rx);
            self.poll = Poll::Sending;
        }
        self.reschedule(now);
    }

    /// A Final ended our poll: the peer has seen the advertised values, all of them apply now.
    fn finish_poll(&mut self) {
        self.effective_tx = self.advertised_tx;
        self.effective_rx = self.advertised_rx;
        let wanted = (self.wanted_tx(), self.config.required_min_rx);
        self.poll = if wanted == (self.advertised_tx, self.advertised_rx) { Poll::Idle } else { Poll::Settling };
    }

    /// §6.8.2: the larger of our DesiredMinTx (in effect) and the peer's RequiredMinRx.
    fn tx_interval(&self) -> Duration {
        self.effective_tx.max(self.remote_min_rx)
    }

    /// §6.8.7: no periodic packets when the peer wants none, nor while its Demand mode is active
    /// unless they carry our poll.
    fn periodic_allowed(&self) -> bool {
        if self.remote_min_rx.is_zero() {
            return false;
        }
        let remote_demand_active =
            self.remote_demand && self.state == SessionState::Up && self.remote_state == SessionState::Up;
        !remote_demand_active || self.poll == Poll::Sending
    }

    /// §6.8.4, asynchronous mode: the peer's DetectMult times the larger of our RequiredMinRx (in
    /// effect) and its last DesiredMinTx. Never zero, so an expiry is always in the future.
    fn detection_time(&self) -> Duration {
        let interval = self.effective_rx.max(self.remote_min_tx).max(MICROSECOND);
        interval.saturating_mul(u32::from(self.remote_detect_mult.max(1)))
    }

    /// Re-arms the periodic transmission after the interval or the permission to send changed;
    /// leaves a deadline drawn from the same interval alone, so that packets do not re-jitter.
    fn reschedule(&mut self, now: Instant) {
        if !self.periodic_allowed() {
            self.next_tx = None;
            return;
        }
        let interval = self.tx_interval();
        if self.next_tx.is_some() && self.scheduled_interval == interval {
            return;
        }
        self.scheduled_interval = interval;
        self.next_tx = match self.last_tx {
            Some(last) => {
                let delay = self.jitter(interval);
                last.checked_add(delay).map(|at| at.max(now))
            }
            None => Some(now),
        };
    }

    /// §6.8.7: each interval shortened by a random 0–25 %, or 10–25 % when bfd.DetectMult is 1
    /// (so that a single late packet does not cost the session).
    fn jitter(&mut self, interval: Duration) -> Duration {
        let nanos = interval.as_nanos();
        let highest = if self.config.detect_mult == 1 { 90 } else { 100 };
        let low = nanos * 75 / 100;
        let span = nanos * highest / 100 - low + 1;
        // span * random / 2^64: uniform over 0..span without a modulo; span stays far below 2^64
        // (intervals are at most u32::MAX µs), so the product fits in a u128.
        let offset = (span * u128::from(self.rng.next_u64())) >> 64;
        let jittered = u64::try_from(low + offset).unwrap_or(u64::MAX);
        Duration::from_nanos(jittered).max(Duration::from_nanos(1))
    }

    fn packet(&self, poll: bool, final_: bool) -> ControlPacket {
        ControlPacket {
            version: ControlPacket::VERSION,
            diagnostic: self.local_diagnostic,
            state: self.state,
            poll,
            final_,
            // rhi's BFD runs in its control plane and shares its fate.
            control_plane_independent: false,
            authentication_present: false,
            demand: false,
            multipoint: false,
            detect_mult: self.config.detect_mult,
            my_discriminator: self.local_discriminator,
            your_discriminator: self.remote_discriminator,
            desired_min_tx: to_micros(self.advertised_tx),
            required_min_rx: to_micros(self.advertised_rx),
            required_min_echo_rx: 0,
        }
    }
}

/// A wire interval as a duration.
fn micros(wire: u32) -> Duration {
    Duration::from_micros(u64::from(wire))
}

/// A duration as a wire interval: whole microseconds, saturating.
fn to_micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// The duration the wire carries for `duration`.
fn wire(duration: Duration) -> Duration {
    micros(to_micros(duration))
}

/// SplitMix64 (Steele, Lea, Flood 2014): enough randomness for jitter, deterministic from a seed
/// so that tests and replays see the same schedule, and no dependency for the protocol core.
#[derive(Clone, Debug)]
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests;
