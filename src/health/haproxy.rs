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

    const BOTH_UP: &str = include_str!("../../tests/fixtures/haproxy/haproxy-stats.csv");
    const BOTH_DOWN: &str = include_str!("../../tests/fixtures/haproxy/haproxy-stats-both-down.csv");
    const MAINT_DRAIN: &str = include_str!("../../tests/fixtures/haproxy/haproxy-stats-maint-drain.csv");

    fn check(backend: &str) -> HaproxyCheck {
        HaproxyCheck {
            stats_url: "http://127.0.0.1:8404/stats;csv".into(),
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
}
