//! Nothing a test layer or the benchmark started may outlive it.
//!
//! xtask makes itself the "child subreaper" of everything it starts (Linux), so a process
//! whose parent exits — an nginx worker whose master was killed, a browser renderer whose
//! browser crashed, a server a test script forgot — is re-parented to xtask instead of to
//! init. After a layer has finished and dropped its services, every process still under
//! xtask is therefore something that layer left running: [`check`] lists them, stops them,
//! and fails the layer.

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
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
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
