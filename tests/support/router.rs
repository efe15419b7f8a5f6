//! What every receiving router (BIRD, GoBGP, FRR) offers a test, so scenarios can be written
//! once and run against each.

use std::time::Duration;

use super::process::Daemon;
use super::route::{prefix, Route};
use super::wait::wait_until_ok;

pub trait Router {
    /// "BIRD 127.3.4.1": used in every message.
    fn name(&self) -> String;

    /// The daemon process (log, PID, restart).
    fn daemon(&self) -> &Daemon;

    /// The routes received from the injector peer, IPv4 and IPv6. `Err` when the router cannot
    /// be queried (not up yet, or its query tool failed), with the reason.
    fn try_routes(&self) -> Result<Vec<Route>, String>;

    /// The BGP session with the injector peer in RFC 4271 terms: "Idle", "Connect", "Active",
    /// "OpenSent", "OpenConfirm", "Established" (or the router's own word for anything else).
    fn try_session_state(&self) -> Result<String, String>;

    /// [`Router::try_routes`], panicking (with the router's log) if the router cannot be queried.
    fn routes(&self) -> Vec<Route> {
        self.try_routes().unwrap_or_else(|e| panic!("cannot read routes from {}: {e}", self.name()))
    }

    fn session_state(&self) -> String {
        self.try_session_state().unwrap_or_else(|e| panic!("cannot read session state of {}: {e}", self.name()))
    }

    /// The best (else the first) route for exactly `prefix`, if the router holds one.
    fn route(&self, prefix_text: &str) -> Option<Route> {
        pick(self.routes(), prefix_text)
    }

    /// Waits for the session with the injector to be Established.
    fn wait_established(&self, timeout: Duration) {
        let what = format!("{} to establish its session", self.name());
        wait_until_ok(timeout, &what, || {
            self.daemon().assert_running();
            match self.try_session_state()? {
                state if state == "Established" => Ok(()),
                state => Err(format!("session state {state}")),
            }
        })
    }

    /// Waits for the session to leave Established (the peer closed or was killed).
    fn wait_not_established(&self, timeout: Duration) {
        let what = format!("{} to lose its session", self.name());
        wait_until_ok(timeout, &what, || {
            self.daemon().assert_running();
            match self.try_session_state()? {
                state if state != "Established" => Ok(()),
                state => Err(format!("session state {state}")),
            }
        })
    }

    /// Waits for the router to hold `prefix` and returns its route.
    fn wait_route(&self, prefix_text: &str, timeout: Duration) -> Route {
        self.wait_route_where(prefix_text, timeout, "any attributes", |_| true)
    }

    /// Waits for the router to hold `prefix` with a route satisfying `accept`; `condition`
    /// describes it for the timeout message ("MED 1000"), which also shows everything the router
    /// held at the last poll.
    fn wait_route_where(
        &self,
        prefix_text: &str,
        timeout: Duration,
        condition: &str,
        accept: impl Fn(&Route) -> bool,
    ) -> Route {
        let wanted = prefix(prefix_text);
        let what = format!("{} to hold {wanted} with {condition}", self.name());
        wait_until_ok(timeout, &what, || {
            self.daemon().assert_running();
            let routes = self.try_routes()?;
            let matching: Vec<&Route> = routes.iter().filter(|r| r.prefix == wanted).collect();
            match matching.iter().find(|r| accept(r)) {
                Some(route) => Ok((*route).clone()),
                None if matching.is_empty() => {
                    Err(format!("no route for {wanted}; routes held: {}", describe(&routes)))
                }
                None => Err(format!("routes for {wanted}: {}", describe_refs(&matching))),
            }
        })
    }

    /// Waits until the router holds no route for `prefix` (withdrawn, or session gone).
    fn wait_no_route(&self, prefix_text: &str, timeout: Duration) {
        let wanted = prefix(prefix_text);
        let what = format!("{} to drop {wanted}", self.name());
        wait_until_ok(timeout, &what, || {
            self.daemon().assert_running();
            let routes = self.try_routes()?;
            let matching: Vec<&Route> = routes.iter().filter(|r| r.prefix == wanted).collect();
            if matching.is_empty() {
                Ok(())
            } else {
                Err(format!("still held: {}", describe_refs(&matching)))
            }
        })
    }

    /// Waits until the router holds exactly `count` routes (all prefixes, both families).
    fn wait_route_count(&self, count: usize, timeout: Duration) -> Vec<Route> {
        let what = format!("{} to hold exactly {count} routes", self.name());
        wait_until_ok(timeout, &what, || {
            self.daemon().assert_running();
            let routes = self.try_routes()?;
            if routes.len() == count {
                Ok(routes)
            } else {
                Err(format!("{} routes: {}", routes.len(), describe(&routes)))
            }
        })
    }
}

fn pick(routes: Vec<Route>, prefix_text: &str) -> Option<Route> {
    let wanted = prefix(prefix_text);
    let mut matching = routes.into_iter().filter(|r| r.prefix == wanted);
    let first = matching.next()?;
    if first.best {
        return Some(first);
    }
    Some(matching.find(|r| r.best).unwrap_or(first))
}

fn describe(routes: &[Route]) -> String {
    describe_refs(&routes.iter().collect::<Vec<_>>())
}

fn describe_refs(routes: &[&Route]) -> String {
    if routes.is_empty() {
        return "none".into();
    }
    const SHOWN: usize = 20;
    let mut lines: Vec<String> = routes.iter().take(SHOWN).map(|r| r.to_string()).collect();
    if routes.len() > SHOWN {
        lines.push(format!("... and {} more", routes.len() - SHOWN));
    }
    format!("\n    {}", lines.join("\n    "))
}
