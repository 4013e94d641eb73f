//! The sans-IO negotiation and restart state machine.
//!
//! [`Session`] decides *when* attempts start and end and *why*; the engine does the I/O. Time is an input
//! (`now` is a [`Duration`] since the session started), nothing here reads a clock or touches a socket, so
//! the restart policy is tested in virtual time (as str0m and quinn-proto do).
//!
//! The policy is the reference (MediaMTX) viewer's: on socket close or ICE `disconnected`/`failed`, close
//! both the socket and the peer connection, wait the restart pause, start over. Also restart when no
//! connection is established within the handshake timeout, and on any protocol error.
//!
//! Run loop: after every `start`/`handle`/`handle_timeout`, drain [`Session::poll_action`] until `None`,
//! then wait for the next input or for [`Session::poll_timeout`].

use std::collections::VecDeque;
use std::time::Duration;

use crate::event::{EndReason, Event, Phase, RestartCause};

/// The restart policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Pause between the end of an attempt and the next.
    pub restart_pause: Duration,
    /// Restart when not connected this long after an attempt starts.
    pub handshake_timeout: Duration,
    /// Stop after this many restarts (`None`: never).
    pub max_restarts: Option<u32>,
    /// Stop after this long (`None`: never).
    pub duration: Option<Duration>,
    /// Restart on ICE `disconnected` (the legacy WebSocket reader does; a WHEP reader waits for `failed`).
    pub restart_on_disconnected: bool,
    /// On ICE `failed`, try an ICE restart before a full restart (WHEP can; the WebSocket protocol cannot).
    pub ice_restart_on_failed: bool,
}

/// Longest pause a server's `Retry-After` may impose.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

impl Default for Policy {
    fn default() -> Self {
        Self {
            restart_pause: Duration::from_secs(2),
            handshake_timeout: Duration::from_secs(10),
            max_restarts: None,
            duration: None,
            restart_on_disconnected: true,
            ice_restart_on_failed: false,
        }
    }
}

/// What happened, as far as the policy is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The signaling connection opened.
    SignalingOpened,
    /// The signaling connection could not be opened.
    SignalingFailed {
        /// The error.
        error: String,
        /// HTTP status of the upgrade response, if any.
        http_status: Option<u16>,
    },
    /// The ICE-server list arrived.
    IceServersReceived,
    /// The offer was sent.
    OfferSent,
    /// The answer was applied.
    AnswerApplied,
    /// The server sent something the protocol does not allow.
    ProtocolError(String),
    /// The local peer connection failed to build or to apply something.
    PeerError(String),
    /// The signaling socket closed (by the server or the network).
    SocketClosed,
    /// ICE connection state (W3C name).
    IceState(String),
    /// Peer connection state (W3C name).
    PeerState(String),
    /// The first RTP packet arrived.
    MediaReceived,
    /// The server asked to retry later (HTTP 409/503 with `Retry-After`).
    RetryLater {
        /// HTTP status.
        http_status: u16,
        /// How long it asked to wait.
        after: Duration,
        /// Its error text.
        error: String,
    },
    /// The user asked for an ICE restart.
    ManualIceRestart,
    /// An ICE restart could not be carried out (the server refused it, or the stack failed).
    IceRestartFailed(String),
    /// The user asked for a restart.
    ManualRestart,
    /// The user asked to stop.
    Stop,
}

/// What the engine must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start attempt `n`: connect signaling, then negotiate.
    StartAttempt(u32),
    /// Close the current attempt's socket and peer connection; `phase` is where it stood.
    EndAttempt {
        /// The phase the attempt reached.
        phase: Phase,
    },
    /// Emit this event (stamped with the current attempt).
    Emit(Box<Event>),
    /// Restart ICE within the current attempt (new credentials, same peer connection).
    IceRestart {
        /// Why, in words.
        reason: String,
    },
    /// The session is over: nothing more will happen.
    Finish,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Idle,
    Running { phase: Phase, started: Duration },
    Pausing { until: Duration },
    Finished,
}

/// The state machine. See the module docs.
#[derive(Debug, Clone)]
pub struct Session {
    policy: Policy,
    state: State,
    attempt: u32,
    restarts: u32,
    connected_this_attempt: bool,
    ice_restart_tried: bool,
    ever_connected: bool,
    media_received: bool,
    actions: VecDeque<Action>,
}

impl Session {
    /// A session that has not started.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            state: State::Idle,
            attempt: 0,
            restarts: 0,
            connected_this_attempt: false,
            ice_restart_tried: false,
            ever_connected: false,
            media_received: false,
            actions: VecDeque::new(),
        }
    }

    /// Start the first attempt.
    pub fn start(&mut self, now: Duration) {
        if self.state == State::Idle {
            self.begin_attempt(now);
        }
    }

    /// The current attempt number (0 before the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// Where the current attempt stands (`Closed` while pausing or finished).
    pub fn phase(&self) -> Phase {
        match self.state {
            State::Running { phase, .. } => phase,
            State::Idle => Phase::Connecting,
            State::Pausing { .. } | State::Finished => Phase::Closed,
        }
    }

    /// True once [`Action::Finish`] has been produced.
    pub fn is_finished(&self) -> bool {
        self.state == State::Finished
    }

    /// The next action to carry out, if any.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Session::handle_timeout`] must be called next (`None`: only inputs can change anything).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Duration> {
        let state_deadline = match self.state {
            State::Running { started, .. } if !self.connected_this_attempt => {
                Some(started + self.policy.handshake_timeout)
            }
            State::Pausing { until } => Some(until),
            _ => None,
        };
        let end = match self.state {
            State::Finished => None,
            _ => self.policy.duration,
        };
        match (state_deadline, end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Let time pass: fire whichever deadline is due.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.state == State::Finished {
            return;
        }
        if let Some(d) = self.policy.duration
            && now >= d
        {
            self.finish(EndReason::Duration);
            return;
        }
        match self.state {
            State::Running { phase, started }
                if !self.connected_this_attempt
                    && now >= started + self.policy.handshake_timeout =>
            {
                self.restart(RestartCause::HandshakeTimeout { phase }, now);
            }
            State::Pausing { until } if now >= until => self.begin_attempt(now),
            _ => {}
        }
    }

    /// Feed an input.
    pub fn handle(&mut self, input: Input, now: Duration) {
        match input {
            Input::Stop => {
                if self.state != State::Finished {
                    self.finish(EndReason::Interrupted);
                }
                return;
            }
            Input::ManualRestart => {
                match self.state {
                    State::Running { .. } => self.restart(RestartCause::Manual, now),
                    // Skip the rest of the pause.
                    State::Pausing { .. } => self.begin_attempt(now),
                    _ => {}
                }
                return;
            }
            Input::MediaReceived => {
                self.media_received = true;
                return;
            }
            Input::ManualIceRestart => {
                if matches!(
                    self.state,
                    State::Running {
                        phase: Phase::Negotiating | Phase::Connected,
                        ..
                    }
                ) {
                    self.actions.push_back(Action::IceRestart {
                        reason: "asked for".into(),
                    });
                }
                return;
            }
            _ => {}
        }
        let State::Running { phase, started } = self.state else {
            return; // stale input from an attempt that already ended
        };
        let set_phase = |s: &mut Self, p: Phase| s.state = State::Running { phase: p, started };
        match input {
            Input::SignalingOpened if phase == Phase::Connecting => {
                set_phase(self, Phase::AwaitingIceServers);
            }
            Input::IceServersReceived if phase == Phase::AwaitingIceServers => {
                set_phase(self, Phase::CreatingOffer);
            }
            Input::OfferSent if phase == Phase::CreatingOffer => {
                set_phase(self, Phase::AwaitingAnswer);
            }
            Input::AnswerApplied if phase == Phase::AwaitingAnswer => {
                set_phase(self, Phase::Negotiating);
            }
            Input::SignalingFailed { error, http_status } => {
                self.restart(RestartCause::SignalingFailed { error, http_status }, now);
            }
            Input::ProtocolError(error) => {
                self.restart(RestartCause::ProtocolError { phase, error }, now);
            }
            Input::PeerError(error) => self.restart(RestartCause::PeerError { error }, now),
            Input::SocketClosed => self.restart(RestartCause::SocketClosed { phase }, now),
            Input::IceState(s) => match s.as_str() {
                "disconnected" if self.policy.restart_on_disconnected => {
                    self.restart(RestartCause::IceDisconnected, now);
                }
                "failed" if self.policy.ice_restart_on_failed && !self.ice_restart_tried => {
                    self.ice_restart_tried = true;
                    self.actions.push_back(Action::IceRestart {
                        reason: "ICE failed".into(),
                    });
                }
                "failed" => self.restart(RestartCause::IceFailed, now),
                // A successful (ICE) restart earns another try next time.
                "connected" | "completed" => self.ice_restart_tried = false,
                _ => {}
            },
            Input::IceRestartFailed(error) => {
                self.restart(RestartCause::IceRestartFailed { error }, now);
            }
            Input::RetryLater {
                http_status,
                after,
                error,
            } => {
                let after = after.min(MAX_RETRY_AFTER);
                self.restart_after(
                    RestartCause::ServerBusy {
                        http_status,
                        retry_after_ms: ms(after),
                        error,
                    },
                    now,
                    Some(after),
                );
            }
            Input::PeerState(s) => match s.as_str() {
                "connected" => {
                    self.connected_this_attempt = true;
                    self.ever_connected = true;
                    set_phase(self, Phase::Connected);
                }
                "failed" => self.restart(RestartCause::PeerConnectionFailed, now),
                _ => {}
            },
            // Progress inputs out of order are ignored: the engine reports protocol errors itself.
            _ => {}
        }
    }

    fn begin_attempt(&mut self, now: Duration) {
        self.attempt += 1;
        self.connected_this_attempt = false;
        self.ice_restart_tried = false;
        self.state = State::Running {
            phase: Phase::Connecting,
            started: now,
        };
        self.actions.push_back(Action::StartAttempt(self.attempt));
    }

    fn restart(&mut self, cause: RestartCause, now: Duration) {
        self.restart_after(cause, now, None);
    }

    fn restart_after(&mut self, cause: RestartCause, now: Duration, pause: Option<Duration>) {
        let State::Running { started, phase } = self.state else {
            return;
        };
        self.actions.push_back(Action::EndAttempt { phase });
        if let Some(max) = self.policy.max_restarts
            && self.restarts >= max
        {
            self.actions
                .push_back(Action::Emit(Box::new(Event::Restart {
                    cause,
                    ended_attempt: self.attempt,
                    lived_ms: ms(now.saturating_sub(started)),
                    had_connected: self.connected_this_attempt,
                    pause_ms: 0.0,
                })));
            self.finish(EndReason::MaxRestarts {
                restarts: self.restarts,
            });
            return;
        }
        self.restarts += 1;
        // A manual restart skips the pause: the user asked for it now.
        let pause = match pause {
            Some(p) => p,
            None if cause == RestartCause::Manual => Duration::ZERO,
            None => self.policy.restart_pause,
        };
        self.actions
            .push_back(Action::Emit(Box::new(Event::Restart {
                cause,
                ended_attempt: self.attempt,
                lived_ms: ms(now.saturating_sub(started)),
                had_connected: self.connected_this_attempt,
                pause_ms: ms(pause),
            })));
        if pause.is_zero() {
            self.begin_attempt(now);
        } else {
            self.state = State::Pausing { until: now + pause };
        }
    }

    fn finish(&mut self, reason: EndReason) {
        if let State::Running { phase, .. } = self.state
            && !self
                .actions
                .iter()
                .any(|a| matches!(a, Action::EndAttempt { .. }))
        {
            self.actions.push_back(Action::EndAttempt { phase });
        }
        self.state = State::Finished;
        self.actions.push_back(Action::Emit(Box::new(Event::Ended {
            reason,
            attempts: self.attempt,
            ever_connected: self.ever_connected,
            media_received: self.media_received,
        })));
        self.actions.push_back(Action::Finish);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn drain(s: &mut Session) -> Vec<Action> {
        std::iter::from_fn(|| s.poll_action()).collect()
    }

    fn restart_cause(actions: &[Action]) -> Option<(RestartCause, bool, f64)> {
        actions.iter().find_map(|a| match a {
            Action::Emit(e) => match &**e {
                Event::Restart {
                    cause,
                    had_connected,
                    pause_ms,
                    ..
                } => Some((cause.clone(), *had_connected, *pause_ms)),
                _ => None,
            },
            _ => None,
        })
    }

    /// Drive a session in virtual time: jump to each deadline, bounded so a bug cannot hang the test.
    fn run_until(s: &mut Session, mut now: Duration, end: Duration) -> (Duration, Vec<Action>) {
        let mut all = Vec::new();
        for _ in 0..1000 {
            all.extend(drain(s));
            match s.poll_timeout() {
                Some(t) if t <= end => {
                    now = now.max(t);
                    s.handle_timeout(now);
                }
                _ => break,
            }
        }
        all.extend(drain(s));
        (now, all)
    }

    fn negotiate(s: &mut Session, now: Duration) {
        for i in [
            Input::SignalingOpened,
            Input::IceServersReceived,
            Input::OfferSent,
            Input::AnswerApplied,
        ] {
            s.handle(i, now);
        }
    }

    #[test]
    fn phases_advance_in_protocol_order() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        assert_eq!(drain(&mut s), vec![Action::StartAttempt(1)]);
        let expect = [
            (Input::SignalingOpened, Phase::AwaitingIceServers),
            (Input::IceServersReceived, Phase::CreatingOffer),
            (Input::OfferSent, Phase::AwaitingAnswer),
            (Input::AnswerApplied, Phase::Negotiating),
            (Input::PeerState("connected".into()), Phase::Connected),
        ];
        for (input, phase) in expect {
            s.handle(input, S);
            assert_eq!(s.phase(), phase);
        }
        // Once connected, no handshake deadline.
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn socket_close_records_the_phase_it_happened_in() {
        let table = [
            (0, Phase::Connecting),
            (1, Phase::AwaitingIceServers),
            (2, Phase::CreatingOffer),
            (3, Phase::AwaitingAnswer),
            (4, Phase::Negotiating),
        ];
        for (steps, phase) in table {
            let mut s = Session::new(Policy::default());
            s.start(Duration::ZERO);
            let inputs = [
                Input::SignalingOpened,
                Input::IceServersReceived,
                Input::OfferSent,
                Input::AnswerApplied,
            ];
            for i in inputs.into_iter().take(steps) {
                s.handle(i, S);
            }
            drain(&mut s);
            s.handle(Input::SocketClosed, 3 * S);
            let actions = drain(&mut s);
            assert_eq!(actions[0], Action::EndAttempt { phase });
            let (cause, had, pause) = restart_cause(&actions).unwrap();
            assert_eq!(cause, RestartCause::SocketClosed { phase });
            assert!(!had);
            assert_eq!(pause, 2000.0);
            assert_eq!(s.phase(), Phase::Closed);
        }
    }

    #[test]
    fn restart_after_pause_starts_next_attempt() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        negotiate(&mut s, S);
        s.handle(Input::PeerState("connected".into()), S);
        drain(&mut s);
        s.handle(Input::IceState("disconnected".into()), 10 * S);
        let actions = drain(&mut s);
        let (cause, had, _) = restart_cause(&actions).unwrap();
        assert_eq!(cause, RestartCause::IceDisconnected);
        assert!(had);
        assert_eq!(s.poll_timeout(), Some(12 * S));
        s.handle_timeout(11 * S); // too early
        assert!(drain(&mut s).is_empty());
        s.handle_timeout(12 * S);
        assert_eq!(drain(&mut s), vec![Action::StartAttempt(2)]);
        assert_eq!(s.restarts(), 1);
    }

    #[test]
    fn ice_failed_and_pc_failed_are_distinct_causes() {
        for (input, cause) in [
            (Input::IceState("failed".into()), RestartCause::IceFailed),
            (
                Input::PeerState("failed".into()),
                RestartCause::PeerConnectionFailed,
            ),
        ] {
            let mut s = Session::new(Policy::default());
            s.start(Duration::ZERO);
            negotiate(&mut s, S);
            drain(&mut s);
            s.handle(input, 2 * S);
            assert_eq!(restart_cause(&drain(&mut s)).unwrap().0, cause);
        }
    }

    #[test]
    fn handshake_timeout_fires_in_the_phase_reached() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        s.handle(Input::SignalingOpened, S);
        s.handle(Input::IceServersReceived, S);
        s.handle(Input::OfferSent, S);
        drain(&mut s);
        assert_eq!(s.poll_timeout(), Some(10 * S));
        s.handle_timeout(10 * S);
        let (cause, _, _) = restart_cause(&drain(&mut s)).unwrap();
        assert_eq!(
            cause,
            RestartCause::HandshakeTimeout {
                phase: Phase::AwaitingAnswer
            }
        );
    }

    #[test]
    fn a_server_that_never_answers_restarts_forever_at_the_expected_rate() {
        // 10 s handshake + 2 s pause per attempt: in 120 s of virtual time, 10 attempts.
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        let (_, actions) = run_until(&mut s, Duration::ZERO, 120 * S - Duration::from_millis(1));
        let starts = actions
            .iter()
            .filter(|a| matches!(a, Action::StartAttempt(_)))
            .count();
        assert_eq!(starts, 10);
        assert!(!s.is_finished());
    }

    #[test]
    fn max_restarts_ends_the_session() {
        let mut s = Session::new(Policy {
            max_restarts: Some(2),
            ..Policy::default()
        });
        s.start(Duration::ZERO);
        let (_, actions) = run_until(&mut s, Duration::ZERO, 1000 * S);
        assert!(s.is_finished());
        let restarts = actions
            .iter()
            .filter(|a| matches!(a, Action::Emit(e) if matches!(**e, Event::Restart { .. })))
            .count();
        assert_eq!(restarts, 3, "two restarts, then the third failure ends it");
        assert!(actions.iter().any(|a| matches!(
            a,
            Action::Emit(e) if matches!(**e, Event::Ended {
                reason: EndReason::MaxRestarts { restarts: 2 },
                attempts: 3,
                ..
            })
        )));
        assert_eq!(actions.last(), Some(&Action::Finish));
    }

    #[test]
    fn duration_ends_a_connected_session_cleanly() {
        let mut s = Session::new(Policy {
            duration: Some(30 * S),
            ..Policy::default()
        });
        s.start(Duration::ZERO);
        negotiate(&mut s, S);
        s.handle(Input::PeerState("connected".into()), S);
        s.handle(Input::MediaReceived, S);
        drain(&mut s);
        assert_eq!(s.poll_timeout(), Some(30 * S));
        s.handle_timeout(30 * S);
        let actions = drain(&mut s);
        assert_eq!(
            actions,
            vec![
                Action::EndAttempt {
                    phase: Phase::Connected
                },
                Action::Emit(Box::new(Event::Ended {
                    reason: EndReason::Duration,
                    attempts: 1,
                    ever_connected: true,
                    media_received: true,
                })),
                Action::Finish
            ]
        );
        // Nothing after the end.
        s.handle(Input::SocketClosed, 31 * S);
        s.handle_timeout(40 * S);
        assert!(drain(&mut s).is_empty());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn manual_restart_skips_the_pause() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        negotiate(&mut s, S);
        drain(&mut s);
        s.handle(Input::ManualRestart, 2 * S);
        let actions = drain(&mut s);
        assert_eq!(restart_cause(&actions).unwrap().0, RestartCause::Manual);
        assert_eq!(actions.last(), Some(&Action::StartAttempt(2)));
        // During a pause, `r` starts the next attempt at once.
        s.handle(Input::SocketClosed, 3 * S);
        drain(&mut s);
        s.handle(Input::ManualRestart, 3 * S);
        assert_eq!(drain(&mut s), vec![Action::StartAttempt(3)]);
    }

    #[test]
    fn inputs_while_pausing_are_stale_and_ignored() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        s.handle(Input::SocketClosed, S);
        drain(&mut s);
        // Late events of the dead attempt must not trigger a second restart.
        s.handle(Input::IceState("failed".into()), S);
        s.handle(Input::SocketClosed, S);
        assert!(drain(&mut s).is_empty());
        assert_eq!(s.restarts(), 1);
    }

    #[test]
    fn whep_policy_waits_on_disconnected_and_tries_an_ice_restart_first() {
        let mut s = Session::new(Policy {
            restart_on_disconnected: false,
            ice_restart_on_failed: true,
            ..Policy::default()
        });
        s.start(Duration::ZERO);
        negotiate(&mut s, S);
        s.handle(Input::PeerState("connected".into()), S);
        drain(&mut s);
        s.handle(Input::IceState("disconnected".into()), 5 * S);
        assert!(drain(&mut s).is_empty(), "disconnected may recover");
        s.handle(Input::IceState("failed".into()), 6 * S);
        assert!(matches!(
            drain(&mut s).as_slice(),
            [Action::IceRestart { .. }]
        ));
        // Failing again without reconnecting: full restart.
        s.handle(Input::IceState("failed".into()), 8 * S);
        assert_eq!(
            restart_cause(&drain(&mut s)).map(|r| r.0),
            Some(RestartCause::IceFailed)
        );
        // In the next attempt, a reconnect resets the budget.
        s.handle_timeout(10 * S);
        drain(&mut s);
        negotiate(&mut s, 10 * S);
        s.handle(Input::IceState("failed".into()), 11 * S);
        assert!(matches!(
            drain(&mut s).as_slice(),
            [Action::IceRestart { .. }]
        ));
        s.handle(Input::IceState("connected".into()), 12 * S);
        s.handle(Input::IceState("failed".into()), 13 * S);
        assert!(matches!(
            drain(&mut s).as_slice(),
            [Action::IceRestart { .. }]
        ));
        s.handle(Input::IceRestartFailed("PATCH 405".into()), 13 * S);
        assert!(matches!(
            restart_cause(&drain(&mut s)).map(|r| r.0),
            Some(RestartCause::IceRestartFailed { .. })
        ));
    }

    #[test]
    fn retry_after_sets_the_pause_with_a_cap() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        drain(&mut s);
        s.handle(
            Input::RetryLater {
                http_status: 503,
                after: 7 * S,
                error: "busy".into(),
            },
            S,
        );
        let (cause, _, pause) = restart_cause(&drain(&mut s)).unwrap();
        assert!(matches!(
            cause,
            RestartCause::ServerBusy {
                http_status: 503,
                ..
            }
        ));
        assert_eq!(pause, 7000.0);
        assert_eq!(s.poll_timeout(), Some(8 * S));
        s.handle_timeout(8 * S);
        drain(&mut s);
        s.handle(
            Input::RetryLater {
                http_status: 409,
                after: 3600 * S,
                error: String::new(),
            },
            9 * S,
        );
        let (_, _, pause) = restart_cause(&drain(&mut s)).unwrap();
        assert_eq!(pause, ms(MAX_RETRY_AFTER));
    }

    #[test]
    fn manual_ice_restart_only_once_negotiating() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        drain(&mut s);
        s.handle(Input::ManualIceRestart, S);
        assert!(
            drain(&mut s).is_empty(),
            "nothing to restart before the answer"
        );
        negotiate(&mut s, S);
        drain(&mut s);
        s.handle(Input::ManualIceRestart, S);
        assert!(matches!(
            drain(&mut s).as_slice(),
            [Action::IceRestart { .. }]
        ));
    }

    #[test]
    fn stop_ends_once() {
        let mut s = Session::new(Policy::default());
        s.start(Duration::ZERO);
        drain(&mut s);
        s.handle(Input::Stop, S);
        let actions = drain(&mut s);
        assert_eq!(
            actions.first(),
            Some(&Action::EndAttempt {
                phase: Phase::Connecting
            })
        );
        assert_eq!(actions.last(), Some(&Action::Finish));
        s.handle(Input::Stop, S);
        assert!(drain(&mut s).is_empty());
    }
}
