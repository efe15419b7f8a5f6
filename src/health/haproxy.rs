//! HAProxy's stats CSV → a verdict on one backend (DESIGN §3).
//!
//! Columns are found by the names in the header line, never by position: HAProxy 2.0 to 3.x add
//! and reorder columns. The BACKEND row already counts only *usable* servers in `act` and `bck`
//! (servers in MAINT or DRAIN, and DOWN ones, are not counted), so the verdict reads that row
//! rather than re-deriving it from the server rows.

use crate::config::HaproxyCheck;

use super::Verdict;

/// One scanned stats page: the header's column names and the rows kept (see [`StatsScanner`]).
#[derive(Debug)]
pub struct Stats {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Stats {
    /// Parses a whole `/stats;csv` page, keeping every row. Anything that is not a stats CSV (an
    /// HTML error page, a login page, garbage) is an error.
    #[cfg(test)]
    pub fn parse(body: &str) -> Result<Stats, String> {
        let mut scanner = StatsScanner::keeping(Keep::All);
        scanner.feed(body.as_bytes())?;
        scanner.finish()
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
            .find(|r| r.get(px).map(String::as_str) == Some(proxy) && r.get(sv).map(String::as_str) == Some(server))
            .map(|record| Row { stats: self, record })
    }
}

/// The longest line the scanner carries over between chunks. A stats row is a few hundred bytes
/// (the header about 2 KiB); anything longer is not a stats CSV, and must not grow without bound.
pub const MAX_LINE: usize = 64 << 10;

/// Which rows a scan keeps.
enum Keep {
    /// The rows the verdict on one check needs: its BACKEND row and its frontend's FRONTEND row.
    Check { backend: String, frontend: Option<String> },
    /// Every row (for tests that look at server rows).
    #[cfg(test)]
    All,
}

/// An incremental reader of HAProxy's stats CSV: fed the page chunk by chunk as it arrives, it
/// splits lines (a partial line is carried over, at most [`MAX_LINE`] bytes), finds the columns by
/// the header's names, and keeps only the rows the verdict needs. Peak memory per probe is a small
/// constant (the carried-over line, the header) plus the one or two kept rows, whatever the page's
/// size.
///
/// Quoting: each line is parsed as CSV (quoted fields with commas and `""` as with the `csv`
/// crate), but a line ends at every newline, even inside quotes. HAProxy never writes a quoted
/// field spanning lines; such a field would be cut at the newline.
pub struct StatsScanner {
    keep: Keep,
    /// Bytes of the line not yet terminated by a newline.
    partial: Vec<u8>,
    /// The header's column names, once the first line is read.
    columns: Option<Vec<String>>,
    pxname: usize,
    svname: usize,
    rows: Vec<Vec<String>>,
}

impl StatsScanner {
    /// A scanner that keeps what the verdict on `check` needs.
    pub fn new(check: &HaproxyCheck) -> StatsScanner {
        StatsScanner::keeping(Keep::Check { backend: check.backend.clone(), frontend: check.frontend.clone() })
    }

    fn keeping(keep: Keep) -> StatsScanner {
        StatsScanner { keep, partial: Vec::new(), columns: None, pxname: 0, svname: 0, rows: Vec::new() }
    }

    /// The next bytes of the page. An error (not a stats CSV, a line too long) ends the scan.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), String> {
        while let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.line(&chunk[..end])?;
            } else {
                self.check_length(&chunk[..end])?;
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&chunk[..end]);
                self.line(&line)?;
                line.clear();
                self.partial = line;
            }
            chunk = &chunk[end + 1..];
        }
        self.check_length(chunk)?;
        self.partial.extend_from_slice(chunk);
        Ok(())
    }

    /// Whether the carried-over line with `more` appended stays within [`MAX_LINE`].
    fn check_length(&self, more: &[u8]) -> Result<(), String> {
        if self.partial.len() + more.len() > MAX_LINE {
            if self.columns.is_none() {
                let start = if self.partial.is_empty() { more } else { &self.partial[..] };
                let start = String::from_utf8_lossy(&start[..start.len().min(240)]).into_owned();
                return Err(format!("not a HAProxy stats CSV (first line {:?})", shorten(&start)));
            }
            return Err(format!("stats CSV does not parse: a line longer than {} KiB", MAX_LINE >> 10));
        }
        Ok(())
    }

    /// The end of the page: the rows kept.
    pub fn finish(mut self) -> Result<Stats, String> {
        if !self.partial.is_empty() || self.columns.is_none() {
            let last = std::mem::take(&mut self.partial);
            self.line(&last)?;
        }
        let Some(columns) = self.columns else { unreachable!("the first line sets the columns or fails") };
        Ok(Stats { columns, rows: self.rows })
    }

    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.columns.is_none() {
            let text = String::from_utf8_lossy(line);
            let Some(header) = text.strip_prefix("# ") else {
                return Err(format!("not a HAProxy stats CSV (first line {:?})", shorten(&text)));
            };
            let columns: Vec<String> = header.trim_end_matches(',').split(',').map(str::to_string).collect();
            let (Some(px), Some(sv)) =
                (columns.iter().position(|c| c == "pxname"), columns.iter().position(|c| c == "svname"))
            else {
                return Err("not a HAProxy stats CSV (no pxname/svname columns)".to_string());
            };
            (self.pxname, self.svname) = (px, sv);
            self.columns = Some(columns);
            return Ok(());
        }
        if line.is_empty() {
            return Ok(());
        }
        if !line.contains(&b'"') {
            // The common case: no quotes, so the fields are the commas' pieces. Only a row that is
            // kept is copied.
            let mut fields = line.split(|&b| b == b',');
            let n = fields.clone().count();
            if n <= 1 {
                return Ok(());
            }
            let px = fields.clone().nth(self.pxname).map(String::from_utf8_lossy);
            let sv = fields.clone().nth(self.svname).map(String::from_utf8_lossy);
            if self.wanted(px.as_deref(), sv.as_deref()) {
                let row = fields.by_ref().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
                self.rows.push(row);
            }
            return Ok(());
        }
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line);
        let mut record = csv::ByteRecord::new();
        loop {
            match reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => return Err(format!("stats CSV does not parse: {e}")),
            }
            if record.len() <= 1 {
                continue;
            }
            let px = record.get(self.pxname).map(String::from_utf8_lossy);
            let sv = record.get(self.svname).map(String::from_utf8_lossy);
            if self.wanted(px.as_deref(), sv.as_deref()) {
                self.rows.push(record.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect());
            }
        }
    }

    fn wanted(&self, px: Option<&str>, sv: Option<&str>) -> bool {
        let (Some(px), Some(sv)) = (px, sv) else { return false };
        match &self.keep {
            Keep::Check { backend, frontend } => {
                (sv == "BACKEND" && px == backend) || (sv == "FRONTEND" && frontend.as_deref() == Some(px))
            }
            #[cfg(test)]
            Keep::All => true,
        }
    }
}

struct Row<'a> {
    stats: &'a Stats,
    record: &'a [String],
}

impl Row<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        self.stats.column(column).and_then(|i| self.record.get(i)).map(String::as_str)
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

/// The verdict on `check.backend` (and `check.frontend`) from a whole stats page.
#[cfg(test)]
pub fn evaluate(body: &str, check: &HaproxyCheck) -> Verdict {
    let mut scanner = StatsScanner::new(check);
    match scanner.feed(body.as_bytes()).and_then(|()| scanner.finish()) {
        Ok(stats) => verdict(&stats, check),
        Err(reason) => Verdict::Fail(reason),
    }
}

/// The verdict on `check.backend` (and `check.frontend`) from the rows a [`StatsScanner`] kept.
pub fn verdict(stats: &Stats, check: &HaproxyCheck) -> Verdict {
    match verdict_inner(stats, check) {
        Ok(verdict) => verdict,
        Err(reason) => Verdict::Fail(reason),
    }
}

fn verdict_inner(stats: &Stats, check: &HaproxyCheck) -> Result<Verdict, String> {
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

    /// Every captured page, fed in chunks of every size from 1 to 97 bytes (lines split anywhere,
    /// CRLF split from its LF), gives the verdict the whole page gives.
    #[test]
    fn the_scanner_gives_the_same_verdict_whatever_the_chunks() {
        let checks = [
            check("app"),
            HaproxyCheck { frontend: Some("web".into()), degraded_below: Some(2), ..check("app") },
            with_backup("withbackup"),
            check("empty"),
        ];
        for page in [BOTH_UP, BOTH_DOWN, MAINT_DRAIN, MIXED, BACKUP_ONLY, ONE_MAINT, ONE_DRAIN] {
            let crlf = page.replace('\n', "\r\n");
            for body in [page, crlf.as_str()] {
                for check in &checks {
                    let whole = evaluate(page, check);
                    for size in 1..98 {
                        let mut scanner = StatsScanner::new(check);
                        let fed: Result<(), String> = body.as_bytes().chunks(size).try_for_each(|c| scanner.feed(c));
                        let v = fed.and_then(|()| scanner.finish()).map(|s| verdict(&s, check));
                        assert_eq!(v, Ok(whole.clone()), "chunks of {size}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_scanner_keeps_only_the_rows_the_verdict_needs() {
        let web = HaproxyCheck { frontend: Some("web".into()), ..check("app") };
        let mut scanner = StatsScanner::new(&web);
        scanner.feed(MIXED.as_bytes()).unwrap();
        let stats = scanner.finish().unwrap();
        let kept: Vec<(&str, &str)> = stats.rows.iter().map(|r| (r[0].as_str(), r[1].as_str())).collect();
        assert_eq!(kept, [("web", "FRONTEND"), ("app", "BACKEND")]);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_an_error_not_a_buffer() {
        let mut scanner = StatsScanner::new(&check("app"));
        scanner.feed(b"# pxname,svname,status,act\napp,").unwrap();
        let garbage = vec![b'x'; 1024];
        let mut error = None;
        for _ in 0..(MAX_LINE / 1024 + 1) {
            if let Err(e) = scanner.feed(&garbage) {
                error = Some(e);
                break;
            }
        }
        assert_eq!(error.as_deref(), Some("stats CSV does not parse: a line longer than 64 KiB"));
        assert!(scanner.partial.len() <= MAX_LINE);
        // A first line without a newline: not a stats CSV, said as soon as the limit is passed.
        let mut scanner = StatsScanner::new(&check("app"));
        let e = scanner.feed(&vec![b'<'; MAX_LINE + 1]).unwrap_err();
        assert!(e.starts_with("not a HAProxy stats CSV (first line \"<<<"), "{e}");
    }

    #[test]
    fn quoted_fields_parse_as_csv_within_a_line() {
        let page = "# pxname,svname,status,act,bck\n\"a,b\",BACKEND,UP,1,0\napp,BACKEND,\"UP\",2,0\n";
        assert_eq!(evaluate(page, &check("app")), pass("backend app: 2 usable servers"));
        assert_eq!(evaluate(page, &check("a,b")), pass("backend a,b: 1 usable servers"));
    }
}
