//! `exec` checks: run a command, exit 0 = pass. The command gets its own process group so that a
//! timeout kills everything it started (a shell script's children included), not just the shell.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::Verdict;

/// Enough of a failing command's output to say why in a log line.
const OUTPUT_KEPT: usize = 512;

pub async fn run(command: &[String], timeout: Duration) -> Verdict {
    let Some((program, args)) = command.split_first() else {
        return Verdict::Fail("empty command".into());
    };
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(error) => return Verdict::Fail(format!("{program}: {error}")),
    };
    // Whether we return normally, time out here, or the caller drops us, the group dies.
    let _group = child.id().map(ProcessGroup);
    let mut output = Vec::new();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let collect = async {
        if let Some(out) = stdout.as_mut() {
            let _ = out.take(OUTPUT_KEPT as u64).read_to_end(&mut output).await;
        }
        if let Some(err) = stderr.as_mut() {
            let _ = err.take(OUTPUT_KEPT as u64).read_to_end(&mut output).await;
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(timeout, collect).await {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => return Verdict::Fail(format!("{program}: {error}")),
        Err(_) => return Verdict::Fail(format!("{program} timed out after {}", humantime::format_duration(timeout))),
    };
    let said = String::from_utf8_lossy(&output);
    let said = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    match status.code() {
        Some(0) => Verdict::Pass(format!("{program} exited 0")),
        Some(code) if said.is_empty() => Verdict::Fail(format!("{program} exited {code}")),
        Some(code) => Verdict::Fail(format!("{program} exited {code}: {said}")),
        None => Verdict::Fail(format!("{program} killed by a signal")),
    }
}

struct ProcessGroup(u32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Ok(pgid) = libc::pid_t::try_from(self.0) {
            // SAFETY: killpg only sends a signal; the group id is our child's own group.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn exit_status_decides() {
        assert!(matches!(run(&cmd(&["true"]), Duration::from_secs(5)).await, Verdict::Pass(_)));
        let failed = run(&cmd(&["sh", "-c", "echo backend gone >&2; exit 3"]), Duration::from_secs(5)).await;
        assert_eq!(failed, Verdict::Fail("sh exited 3: backend gone".into()));
        assert!(matches!(run(&cmd(&["/nonexistent/check"]), Duration::from_secs(5)).await, Verdict::Fail(_)));
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let verdict = run(&cmd(&["sh", "-c", &script]), Duration::from_millis(300)).await;
        assert!(matches!(verdict, Verdict::Fail(ref r) if r.contains("timed out")), "{verdict:?}");
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The grandchild is gone (or a zombie awaiting its reaper): it no longer runs `sleep`.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty() || stat.contains(") Z ") {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "grandchild {pid} still running: {stat}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
