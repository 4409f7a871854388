//! Nothing a test layer or the benchmark started may outlive it.
//!
//! xtask makes itself the "child subreaper" of everything it starts (Linux), so a process
//! whose parent exits — an nginx worker whose master was killed, a browser renderer whose
//! browser crashed, a server a test script forgot — is re-parented to xtask instead of to
//! init. After a layer has finished and dropped its services, every process still under
//! xtask is therefore something that layer left running: [`check`] lists them, stops them,
//! and fails the layer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::Result;

/// Becomes the subreaper of every process started from now on (no-op off Linux).
pub fn adopt_orphans() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes an integer flag and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// From now on SIGINT, SIGTERM or SIGHUP (Ctrl-C, a CI timeout, a closed terminal) stops
/// every process under this one before it exits with 128 + the signal's number: without
/// this, the default action would end xtask alone and leave its servers, browsers and
/// builds running. The handler only wakes a thread; the stopping is done there.
pub fn stop_all_on_signal() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("xtask: cannot watch for signals ({e}); a kill would leave children");
            return;
        }
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            STOPPING.store(true, Ordering::SeqCst);
            // A child may be starting one of its own meanwhile (cargo a rustc): look again
            // until nothing is left.
            let me = std::process::id();
            for _ in 0..10 {
                let left = descendants(me);
                if left.is_empty() {
                    break;
                }
                stop(&left);
            }
            eprintln!("xtask: stopped by signal {signal}; everything it started is stopped");
            std::process::exit(128 + signal);
        }
    });
}

static STOPPING: AtomicBool = AtomicBool::new(false);

/// Called by `main` before it returns: while a signal's stopping is under way (the task may
/// have ended early because a child it waited on was stopped), waits for it to exit the
/// process, so nothing is left half-stopped.
pub fn let_a_signal_finish() {
    while STOPPING.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `(pid, parent, command line)` of every live process under `root`, zombies reaped.
fn descendants(root: u32) -> Vec<(u32, u32, String)> {
    let table: Vec<(u32, u32, char, String)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // "pid (comm) state ppid …": comm may hold spaces and parentheses.
            let mut rest = stat.get(stat.rfind(')')? + 2..)?.split(' ');
            let state = rest.next()?.chars().next()?;
            let parent = rest.next()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, parent, state, cmdline.trim().to_string()))
        })
        .collect();
    let mut found = Vec::new();
    let mut parents = vec![root];
    while let Some(parent) = parents.pop() {
        for (pid, ppid, state, cmdline) in &table {
            if *ppid != parent {
                continue;
            }
            if *state == 'Z' {
                reap(*pid);
                continue;
            }
            found.push((*pid, *ppid, cmdline.clone()));
            parents.push(*pid);
        }
    }
    found
}

/// Sends `signal` to `pid`; one that has already gone is not an error here.
pub fn send(pid: u32, signal: libc::c_int) {
    // SAFETY: kill(2) takes two integers and touches no memory.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

fn reap(pid: u32) {
    #[cfg(target_os = "linux")]
    // SAFETY: waitpid on a pid we are the parent of, with a status out-pointer of our own.
    unsafe {
        let mut status = 0;
        libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG);
    }
}

/// Fails, naming them, if any process is still running under this one; stops them first.
pub fn check(after: &str) -> Result {
    let left = descendants(std::process::id());
    if left.is_empty() {
        return Ok(());
    }
    stop(&left);
    let names: Vec<String> = left
        .iter()
        .map(|(pid, _, cmd)| format!("  {pid}: {}", cmd.chars().take(120).collect::<String>()))
        .collect();
    Err(format!(
        "{after} left {} process(es) running (now killed):\n{}",
        left.len(),
        names.join("\n")
    ))
}

/// SIGKILL to each, then waits (5 s at most) until none of them is under this process.
fn stop(left: &[(u32, u32, String)]) {
    for (pid, _, _) in left {
        send(*pid, libc::SIGKILL);
    }
    let me = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && descendants(me)
            .iter()
            .any(|(pid, _, _)| left.iter().any(|l| l.0 == *pid))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    const SIGNALED: &str = "HOLDIX_XTASK_SIGNALED";

    /// Run only by [`a_signal_stops_everything_started_before_xtask_exits`], in a process
    /// of its own (the variable set): watches for signals as xtask does, starts a child and
    /// a grandchild, says so, and waits to be signalled.
    #[test]
    #[ignore = "a helper process of a_signal_stops_everything_started_before_xtask_exits"]
    fn signaled_process() {
        let Ok(tag) = std::env::var(SIGNALED) else {
            return;
        };
        stop_all_on_signal();
        let mut children = [
            Command::new("sleep")
                .arg(format!("{tag}1"))
                .spawn()
                .unwrap(),
            Command::new("sh")
                .args(["-c", &format!("sleep {tag}2 & wait")])
                .spawn()
                .unwrap(),
        ];
        // Both `sleep`s have exec'd once they show under this process.
        let me = std::process::id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while descendants(me)
            .iter()
            .filter(|p| p.2.starts_with("sleep "))
            .count()
            < 2
        {
            assert!(Instant::now() < deadline, "the sleeps did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        // libtest may print this after "test … " on the same line.
        println!("children started");
        std::thread::sleep(Duration::from_secs(60));
        stop(&descendants(me));
        for child in &mut children {
            let _ = child.wait();
        }
        panic!("no signal came");
    }

    #[test]
    fn a_signal_stops_everything_started_before_xtask_exits() {
        // Orphans of the helper come here, where they can be seen.
        adopt_orphans();
        let tag = format!("29{}.", std::process::id() % 1000);
        let ours = |cmd: &str| cmd.starts_with(&format!("sleep {tag}"));
        let mut helper = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "leftovers::tests::signaled_process"])
            .args(["--ignored", "--nocapture", "--test-threads", "1"])
            .env(SIGNALED, &tag)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = BufReader::new(helper.stdout.take().unwrap());
        let ready = out
            .lines()
            .map_while(|l| l.ok())
            .any(|l| l.contains("children started"));
        assert!(ready, "the helper did not start its children");
        let me = std::process::id();
        assert_eq!(
            descendants(me).iter().filter(|p| ours(&p.2)).count(),
            2,
            "a child and a grandchild run under the helper"
        );
        send(helper.id(), libc::SIGTERM);
        let status = helper.wait().unwrap();
        let left: Vec<_> = descendants(me).into_iter().filter(|p| ours(&p.2)).collect();
        stop(&left);
        assert!(left.is_empty(), "left running: {left:?}");
        assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status}");
    }

    /// Other tests of this binary may have children of their own meanwhile: this one looks
    /// only at its own marked process.
    #[test]
    fn an_orphaned_process_comes_back_and_is_stopped() {
        adopt_orphans();
        let ours = |cmd: &str| cmd == "sleep 299.25";
        // The shell exits at once; its background sleep is orphaned and comes to us.
        let status = std::process::Command::new("sh")
            .args(["-c", "sleep 299.25 & exit 0"])
            .status()
            .unwrap();
        assert!(status.success());
        let me = std::process::id();
        // Until the forked child has exec'd `sleep`, it still reads as the shell: wait for it.
        let deadline = Instant::now() + Duration::from_secs(5);
        let left = loop {
            let left: Vec<_> = descendants(me)
                .into_iter()
                .filter(|(_, _, cmd)| ours(cmd))
                .collect();
            if !left.is_empty() || Instant::now() > deadline {
                break left;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(left.len(), 1, "the orphaned sleep is under this process");
        assert_eq!(left[0].1, me, "re-parented to this process, not to init");
        stop(&left);
        assert!(
            !descendants(me).iter().any(|(_, _, cmd)| ours(cmd)),
            "the sleep was stopped"
        );
    }
}
