//! Watching the console's terminal (platform: `poll(2)` on Unix): noticing that the console's terminal went away (an SSH connection dropped, a terminal
//! window or tmux server closed). A hung-up terminal reads as end-of-file for ever and
//! fails every write (EIO); crossterm's reader would retry that read in a loop without
//! end, so the input thread asks the terminal first, with `poll(2)`, and only hands over
//! to crossterm when the terminal is still there. docs/reference/cli.md "Signals, services and
//! monitoring": a terminal going away is a hang-up (exit 129).

use std::time::Duration;

/// What waiting on the terminal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Input is waiting to be read.
    // Only the Unix watch finds input waiting: on Windows the terminal is not watched.
    #[cfg_attr(not(unix), allow(dead_code))]
    Ready,
    /// Nothing happened within the wait.
    Idle,
    /// The terminal is gone (hung up, or an error on its descriptor).
    Gone,
}

/// The terminal the console reads from, watched for a hang-up.
#[derive(Debug)]
pub struct TtyWatch {
    #[cfg(unix)]
    fd: unix::Fd,
}

impl TtyWatch {
    /// Watches the terminal crossterm reads (standard input when it is a terminal,
    /// otherwise `/dev/tty`); `None` when there is none to watch.
    pub fn open() -> Option<TtyWatch> {
        #[cfg(unix)]
        {
            unix::Fd::open().map(|fd| TtyWatch { fd })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Waits up to `timeout` for input or a hang-up.
    pub fn wait(&self, timeout: Duration) -> Readiness {
        #[cfg(unix)]
        {
            self.fd.wait(timeout)
        }
        #[cfg(not(unix))]
        {
            std::thread::sleep(timeout);
            Readiness::Idle
        }
    }

    /// Whether the terminal is gone now (does not wait).
    pub fn gone(&self) -> bool {
        self.wait(Duration::ZERO) == Readiness::Gone
    }
}

#[cfg(unix)]
mod unix {
    use std::io::IsTerminal;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::time::Duration;

    use rustix::event::{poll, PollFd, PollFlags, Timespec};

    use super::Readiness;

    /// Standard input, or `/dev/tty` opened for watching.
    #[derive(Debug)]
    pub(super) enum Fd {
        Stdin(std::io::Stdin),
        Tty(OwnedFd),
    }

    impl Fd {
        pub(super) fn open() -> Option<Fd> {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Some(Fd::Stdin(stdin));
            }
            std::fs::File::open("/dev/tty")
                .ok()
                .map(|f| Fd::Tty(OwnedFd::from(f)))
        }

        fn borrow(&self) -> BorrowedFd<'_> {
            match self {
                Fd::Stdin(stdin) => stdin.as_fd(),
                Fd::Tty(fd) => fd.as_fd(),
            }
        }

        pub(super) fn wait(&self, timeout: Duration) -> Readiness {
            let fd = self.borrow();
            let mut fds = [PollFd::from_borrowed_fd(fd, PollFlags::IN)];
            let timeout = Timespec {
                tv_sec: timeout.as_secs().try_into().unwrap_or(i64::MAX),
                tv_nsec: timeout.subsec_nanos().into(),
            };
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => Readiness::Idle,
                Ok(_) => {
                    let seen = fds[0].revents();
                    if seen.intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL) {
                        Readiness::Gone
                    } else {
                        Readiness::Ready
                    }
                }
                Err(rustix::io::Errno::INTR) => Readiness::Idle,
                Err(_) => Readiness::Gone,
            }
        }
    }
}
