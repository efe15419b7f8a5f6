//! HAProxy's stats CSV → a verdict on one backend (DESIGN §3).
//!
//! Columns are found by the names in the header line, never by position: HAProxy 2.0 to 3.x add
//! and reorder columns. The BACKEND row already counts only *usable* servers in `act` and `bck`
//! (servers in MAINT or DRAIN, and DOWN ones, are not counted), so the verdict reads that row
//! rather than re-deriving it from the server rows.

use crate::config::HaproxyCheck;

use super::Verdict;

/// One parsed stats page: the header's column names and the rows.
pub struct Stats {
    columns: Vec<String>,
    rows: Vec<csv::StringRecord>,
}

impl Stats {
    /// Parses `/stats;csv`. Anything that is not a stats CSV (an HTML error page, a login page,
    /// garbage) is an error, which makes the check fail.
    pub fn parse(body: &str) -> Result<Stats, String> {
        let header_line = body.lines().next().unwrap_or("");
        let Some(header) = header_line.strip_prefix("# ") else {
            return Err(format!("not a HAProxy stats CSV (first line {:?})", shorten(header_line)));
        };
        let columns: Vec<String> = header.trim_end_matches(',').split(',').map(str::to_string).collect();
        if !columns.iter().any(|c| c == "pxname") || !columns.iter().any(|c| c == "svname") {
            return Err("not a HAProxy stats CSV (no pxname/svname columns)".to_string());
        }
        let rest = &body[header_line.len()..];
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(rest.as_bytes());
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("stats CSV does not parse: {e}"))?;
            if record.len() > 1 {
                rows.push(record);
            }
        }
        Ok(Stats { columns, rows })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The row of `proxy`/`server` as a column-name lookup.
    fn row(&self, proxy: &str, server: &str) -> Option<Row<'_>> {
        let px = self.column("pxname")?;
        let sv = self.column("svname")?;
        self.rows
            .iter()
            .find(|r| r.get(px) == Some(proxy) && r.get(sv) == Some(server))
            .map(|record| Row { stats: self, record })
    }
}

struct Row<'a> {
    stats: &'a Stats,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        self.stats.column(column).and_then(|i| self.record.get(i))
    }

    /// Empty cells mean zero in HAProxy's CSV.
    fn count(&self, column: &str) -> Result<u32, String> {
        match self.get(column).map(str::trim) {
            None => Err(format!("stats CSV has no `{column}` column")),
            Some("") => Ok(0),
            Some(value) => value.parse().map_err(|_| format!("`{column}` is not a number: {value:?}")),
        }
    }
}

/// The verdict on `check.backend` (and `check.frontend`) from a stats page.
pub fn evaluate(body: &str, check: &HaproxyCheck) -> Verdict {
    match evaluate_inner(body, check) {
        Ok(verdict) => verdict,
        Err(reason) => Verdict::Fail(reason),
    }
}

fn evaluate_inner(body: &str, check: &HaproxyCheck) -> Result<Verdict, String> {
    let stats = Stats::parse(body)?;
    if let Some(frontend) = &check.frontend {
        let row = stats.row(frontend, "FRONTEND").ok_or_else(|| format!("frontend {frontend} not in stats"))?;
        let status = row.get("status").unwrap_or("");
        if status != "OPEN" {
            return Ok(Verdict::Fail(format!("frontend {frontend} is {status}, not OPEN")));
        }
    }
    let backend = &check.backend;
    let row = stats.row(backend, "BACKEND").ok_or_else(|| format!("backend {backend} not in stats"))?;
    let status = row.get("status").unwrap_or("").trim();
    let active = row.count("act")?;
    let backup = if check.count_backup { row.count("bck")? } else { 0 };
    let usable = active + backup;
    let servers = if check.count_backup { "usable servers (active + backup)" } else { "usable servers" };
    if status != "UP" {
        return Ok(Verdict::Fail(format!("backend {backend} is {status}: {usable} {servers}")));
    }
    if usable < check.min_up {
        return Ok(Verdict::Fail(format!("backend {backend}: {usable} {servers} (min_up {})", check.min_up)));
    }
    if let Some(degraded_below) = check.degraded_below {
        if usable < degraded_below {
            return Ok(Verdict::Degraded(format!(
                "backend {backend}: {usable} {servers} (degraded below {degraded_below})"
            )));
        }
    }
    Ok(Verdict::Pass(format!("backend {backend}: {usable} {servers}")))
}

fn shorten(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Health;

    const BOTH_UP: &str = include_str!("../../tests/fixtures/haproxy/haproxy-stats.csv");
    const BOTH_DOWN: &str = include_str!("../../tests/fixtures/haproxy/haproxy-stats-both-down.csv");
    const MAINT_DRAIN: &str = include_str!("../../tests/fixtures/haproxy/haproxy-stats-maint-drain.csv");
    // Captured by tests/fixtures/haproxy/capture.sh (HAProxy 2.6.12); see the README there.
    /// Backends `app` (s1, s2 UP), `empty` (no servers), `nocheck` (n1, n2 without `check`),
    /// `withbackup` (active a1 UP, backup k1 UP).
    const MIXED: &str = include_str!("../../tests/fixtures/haproxy/mixed-healthy.csv");
    /// As MIXED, but `withbackup`'s active a1 is DOWN: only the backup k1 is usable.
    const BACKUP_ONLY: &str = include_str!("../../tests/fixtures/haproxy/backup-only.csv");
    /// As BACKUP_ONLY, with `app`/s1 in MAINT (`disable server`), s2 UP.
    const ONE_MAINT: &str = include_str!("../../tests/fixtures/haproxy/one-maint.csv");
    /// As BACKUP_ONLY, with `app`/s2 in DRAIN (`set server ... state drain`), s1 UP.
    const ONE_DRAIN: &str = include_str!("../../tests/fixtures/haproxy/one-drain.csv");

    fn check(backend: &str) -> HaproxyCheck {
        HaproxyCheck {
            source: crate::config::StatsSource::Url("http://127.0.0.1:8404/stats;csv".into()),
            backend: backend.into(),
            min_up: 1,
            frontend: None,
            degraded_below: None,
            count_backup: false,
            username: None,
            password_file: None,
        }
    }

    fn passes(v: &Verdict) -> bool {
        matches!(v, Verdict::Pass(_))
    }

    #[test]
    fn captured_pages_give_the_expected_verdicts() {
        assert!(passes(&evaluate(BOTH_UP, &check("app"))));
        let down = evaluate(BOTH_DOWN, &check("app"));
        assert_eq!(down, Verdict::Fail("backend app is DOWN: 0 usable servers".into()));
        let maint = evaluate(MAINT_DRAIN, &check("app"));
        assert_eq!(maint, Verdict::Fail("backend app is DOWN: 0 usable servers".into()));
    }

    #[test]
    fn min_up_and_degraded_below_count_usable_servers() {
        let strict = HaproxyCheck { min_up: 3, ..check("app") };
        assert_eq!(evaluate(BOTH_UP, &strict), Verdict::Fail("backend app: 2 usable servers (min_up 3)".into()));
        let degraded = HaproxyCheck { degraded_below: Some(3), ..check("app") };
        assert!(matches!(evaluate(BOTH_UP, &degraded), Verdict::Degraded(_)));
        let fine = HaproxyCheck { degraded_below: Some(2), ..check("app") };
        assert!(passes(&evaluate(BOTH_UP, &fine)));
    }

    #[test]
    fn a_missing_backend_or_frontend_fails_with_its_name() {
        assert_eq!(evaluate(BOTH_UP, &check("be_web")), Verdict::Fail("backend be_web not in stats".into()));
        let with_frontend = HaproxyCheck { frontend: Some("web".into()), ..check("app") };
        assert!(passes(&evaluate(BOTH_UP, &with_frontend)));
        let missing = HaproxyCheck { frontend: Some("nope".into()), ..check("app") };
        assert_eq!(evaluate(BOTH_UP, &missing), Verdict::Fail("frontend nope not in stats".into()));
    }

    #[test]
    fn columns_are_found_by_name_not_position() {
        // Same data, columns reordered and an unknown column added (as newer HAProxy versions do).
        let page = "# svname,new_col,act,pxname,status,bck\nBACKEND,x,2,app,UP,0\ns1,y,,app,UP,\n";
        assert!(passes(&evaluate(page, &check("app"))));
        let no_act = "# pxname,svname,status\napp,BACKEND,UP\n";
        assert_eq!(evaluate(no_act, &check("app")), Verdict::Fail("stats CSV has no `act` column".into()));
    }

    #[test]
    fn backup_servers_count_only_when_asked() {
        let page = "# pxname,svname,status,act,bck\napp,BACKEND,UP,0,2\n";
        assert!(matches!(evaluate(page, &check("app")), Verdict::Fail(_)));
        let with_backup = HaproxyCheck { count_backup: true, ..check("app") };
        assert!(passes(&evaluate(page, &with_backup)));
    }

    #[test]
    fn garbage_and_html_fail_without_panic() {
        for body in [
            "",
            "garbage",
            "<html><body>503 Service Unavailable</body></html>",
            "# foo,bar\n1,2\n",
            "# pxname,svname,status,act\napp,BACKEND,UP,many\n",
            "\u{0}\u{1}\n\n",
        ] {
            assert!(matches!(evaluate(body, &check("app")), Verdict::Fail(_)), "{body:?}");
        }
    }

    fn fail(reason: &str) -> Verdict {
        Verdict::Fail(reason.into())
    }

    fn pass(reason: &str) -> Verdict {
        Verdict::Pass(reason.into())
    }

    fn with_backup(backend: &str) -> HaproxyCheck {
        HaproxyCheck { count_backup: true, ..check(backend) }
    }

    #[test]
    fn zero_servers_fail_although_haproxy_shows_the_backend_up() {
        // HAProxy 2.6 shows a backend without servers as UP (it is DOWN only when it has servers
        // and none is usable): the verdict must come from `act`, and min_up >= 1 makes it fail.
        let stats = Stats::parse(MIXED).unwrap();
        let row = stats.row("empty", "BACKEND").expect("captured");
        assert_eq!((row.get("status"), row.get("act"), row.get("bck")), (Some("UP"), Some("0"), Some("0")));
        assert_eq!(evaluate(MIXED, &check("empty")), fail("backend empty: 0 usable servers (min_up 1)"));
        assert_eq!(
            evaluate(MIXED, &with_backup("empty")),
            fail("backend empty: 0 usable servers (active + backup) (min_up 1)")
        );
    }

    #[test]
    fn servers_without_checks_count_as_usable() {
        let stats = Stats::parse(MIXED).unwrap();
        assert_eq!(stats.row("nocheck", "n1").and_then(|r| r.get("status").map(str::to_string)).unwrap(), "no check");
        assert_eq!(evaluate(MIXED, &check("nocheck")), pass("backend nocheck: 2 usable servers"));
        let three = HaproxyCheck { degraded_below: Some(3), ..check("nocheck") };
        assert_eq!(
            evaluate(MIXED, &three),
            Verdict::Degraded("backend nocheck: 2 usable servers (degraded below 3)".into())
        );
    }

    #[test]
    fn a_backup_alone_fails_unless_count_backup() {
        // Active a1 DOWN, backup k1 UP: HAProxy shows the backend UP with act 0, bck 1.
        assert_eq!(
            evaluate(BACKUP_ONLY, &check("withbackup")),
            fail("backend withbackup: 0 usable servers (min_up 1)")
        );
        assert_eq!(
            evaluate(BACKUP_ONLY, &with_backup("withbackup")),
            pass("backend withbackup: 1 usable servers (active + backup)")
        );
    }

    #[test]
    fn a_standby_backup_counts_only_with_count_backup() {
        // Both up: HAProxy sends traffic to a1 only, yet the BACKEND row shows act 1 and bck 1.
        assert_eq!(evaluate(MIXED, &check("withbackup")), pass("backend withbackup: 1 usable servers"));
        assert_eq!(
            evaluate(MIXED, &with_backup("withbackup")),
            pass("backend withbackup: 2 usable servers (active + backup)")
        );
        let degraded = HaproxyCheck { degraded_below: Some(2), ..check("withbackup") };
        assert!(matches!(evaluate(MIXED, &degraded), Verdict::Degraded(_)));
    }

    #[test]
    fn one_server_in_maint_or_drain_is_not_usable() {
        for (name, page) in [("one-maint", ONE_MAINT), ("one-drain", ONE_DRAIN)] {
            assert_eq!(evaluate(page, &check("app")), pass("backend app: 1 usable servers"), "{name}");
            let degraded = HaproxyCheck { degraded_below: Some(2), ..check("app") };
            assert_eq!(
                evaluate(page, &degraded),
                Verdict::Degraded("backend app: 1 usable servers (degraded below 2)".into()),
                "{name}"
            );
            let strict = HaproxyCheck { min_up: 2, ..check("app") };
            assert_eq!(evaluate(page, &strict), fail("backend app: 1 usable servers (min_up 2)"), "{name}");
        }
    }

    #[test]
    fn every_captured_page_gives_the_expected_verdict_for_every_backend() {
        use Health::*;
        // (page, backend, level without count_backup, level with it)
        let table = [
            ("haproxy-stats", BOTH_UP, "app", Up, Up),
            ("haproxy-stats-both-down", BOTH_DOWN, "app", Down, Down),
            ("haproxy-stats-maint-drain", MAINT_DRAIN, "app", Down, Down),
            ("mixed-healthy", MIXED, "app", Up, Up),
            ("mixed-healthy", MIXED, "empty", Down, Down),
            ("mixed-healthy", MIXED, "nocheck", Up, Up),
            ("mixed-healthy", MIXED, "withbackup", Up, Up),
            ("backup-only", BACKUP_ONLY, "withbackup", Down, Up),
            ("one-maint", ONE_MAINT, "app", Up, Up),
            ("one-drain", ONE_DRAIN, "app", Up, Up),
        ];
        for (name, page, backend, plain, counting_backup) in table {
            assert_eq!(evaluate(page, &check(backend)).level(), plain, "{name} {backend}");
            assert_eq!(evaluate(page, &with_backup(backend)).level(), counting_backup, "{name} {backend} count_backup");
        }
    }

    #[test]
    fn the_frontend_must_be_open_in_captured_pages() {
        let web = HaproxyCheck { frontend: Some("web".into()), ..check("app") };
        for page in [MIXED, BACKUP_ONLY, ONE_MAINT, ONE_DRAIN] {
            assert!(passes(&evaluate(page, &web)));
        }
        // A backend name is not a frontend: `app` has no FRONTEND row.
        let wrong = HaproxyCheck { frontend: Some("app".into()), ..check("app") };
        assert_eq!(evaluate(MIXED, &wrong), fail("frontend app not in stats"));
        // The same page with frontend web stopped (`disable frontend web` shows STOP).
        let closed: String = MIXED
            .lines()
            .map(|l| if l.starts_with("web,FRONTEND,") { l.replace(",OPEN,", ",STOP,") } else { l.to_string() } + "\n")
            .collect();
        assert!(matches!(evaluate(&closed, &web), Verdict::Fail(r) if r == "frontend web is STOP, not OPEN"));
    }

    /// Real pages fed through rise/fall as `run_check` does: one server left (DEGRADED) while
    /// every other probe sees none (DOWN), e.g. the last server flapping or the stats page timing
    /// out every other time. Every result is below UP, so the check must leave UP (a hysteresis
    /// that restarted its count on every change of level once kept the VIP's healthy attributes).
    #[test]
    fn a_pool_alternating_between_one_and_no_usable_servers_leaves_up() {
        use super::super::hysteresis::Hysteresis;
        let check = HaproxyCheck { degraded_below: Some(2), ..check("app") };
        let mut hysteresis = Hysteresis::new(2, 2);
        for page in [BOTH_UP, BOTH_UP] {
            hysteresis.observe(evaluate(page, &check).level());
        }
        assert_eq!(hysteresis.state(), Health::Up);
        let mut seen = Vec::new();
        for page in [ONE_MAINT, BOTH_DOWN, ONE_DRAIN, MAINT_DRAIN, ONE_MAINT, BOTH_DOWN] {
            let level = evaluate(page, &check).level();
            seen.push(level);
            hysteresis.observe(level);
        }
        assert!(seen.iter().all(|l| *l < Health::Up), "{seen:?}");
        assert!(
            hysteresis.state() < Health::Up,
            "six probes in a row below UP ({seen:?}), state still {:?}",
            hysteresis.state()
        );
    }
}
