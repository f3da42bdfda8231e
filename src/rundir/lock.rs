//! One writer at a time: `flock` on a lock file (`run.lock` in a run directory,
//! `sweep.lock` in an experiment's folder). The kernel releases the lock when its holder
//! exits, however it exits (SIGKILL included), so a killed holder never leaves it stuck;
//! the file only says, while the lock is held, which process holds it. The descriptor is
//! close-on-exec, so child processes do not inherit the lock.
use anyhow::{Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Lock {
    _file: File,
    path: PathBuf,
}

/// Who holds a lock: its process and what it is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub what: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "`{}` (PID {pid})", self.what),
            None => f.write_str("another process (it has not written its PID yet)"),
        }
    }
}

/// The error of a lock that another process holds; `scalefree` exits with
/// [`Busy::EXIT_CODE`] on it, so that a sweep can tell it from a failed run.
#[derive(Debug, thiserror::Error)]
#[error("{} is in use: {holder} is writing it (lock {}); wait for it to finish, or stop it{}, then try again", .dir.display(), .lock.display(), .holder.pid.map(|p| format!(" (kill {p})")).unwrap_or_default())]
pub struct Busy {
    pub dir: PathBuf,
    pub lock: PathBuf,
    pub holder: Holder,
}

impl Busy {
    /// EX_TEMPFAIL: try again later.
    pub const EXIT_CODE: i32 = 75;
}

fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut text));
    let mut words = text.trim().splitn(2, ' ');
    let pid = words.next().and_then(|w| w.parse().ok());
    Holder {
        pid,
        what: words.next().unwrap_or("scalefree").to_string(),
    }
}

fn try_flock(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a descriptor this function borrows.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))
}

impl Lock {
    /// Takes the lock `path` (in the folder `dir`) for `what` (`scalefree train`, …), or
    /// fails with [`Busy`] naming its holder.
    pub fn acquire(dir: &Path, path: &Path, what: &str) -> Result<Lock> {
        let mut file = open(path)?;
        if !try_flock(&file).with_context(|| format!("cannot lock {}", path.display()))? {
            return Err(Busy {
                dir: dir.to_path_buf(),
                lock: path.to_path_buf(),
                holder: read_holder(&mut file),
            }
            .into());
        }
        Lock::held(file, path, what)
    }

    /// Takes the lock `path` for `what`, waiting while another process holds it: for
    /// short writes that take turns (the experiment's summary run).
    pub fn wait(path: &Path, what: &str) -> Result<Lock> {
        let file = open(path)?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
        Lock::held(file, path, what)
    }

    /// The lock `file` (at `path`), now held: it names this process and `what` for others.
    fn held(mut file: File, path: &Path, what: &str) -> Result<Lock> {
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| writeln!(file, "{} {what}", std::process::id()))
            .with_context(|| format!("cannot write the lock file {}", path.display()))?;
        Ok(Lock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// Who holds the lock `path`, if anyone (without taking it).
    pub fn holder(path: &Path) -> Result<Option<Holder>> {
        if !path.exists() {
            return Ok(None);
        }
        // Read-only: asking who writes a run must work on a copy one cannot write (flock
        // takes an exclusive lock through a read-only descriptor too).
        let mut file = File::open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        if try_flock(&file).with_context(|| format!("cannot lock {}", path.display()))? {
            return Ok(None); // free; dropping the file releases it again
        }
        Ok(Some(read_holder(&mut file)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_when_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.lock");
        let first = Lock::acquire(dir.path(), &path, "scalefree train").unwrap();
        let held = Lock::holder(&path).unwrap().expect("held");
        assert_eq!(held.pid, Some(std::process::id()));
        assert_eq!(held.what, "scalefree train");
        let err = Lock::acquire(dir.path(), &path, "scalefree sweep").unwrap_err();
        let busy = err.downcast_ref::<Busy>().expect("a Busy error");
        assert!(
            busy.to_string()
                .contains(&format!("(PID {})", std::process::id())),
            "{busy}"
        );
        drop(first);
        assert_eq!(Lock::holder(&path).unwrap(), None);
        Lock::acquire(dir.path(), &path, "scalefree sweep").unwrap();
    }

    #[test]
    fn a_waiting_lock_takes_its_turn_once_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.lock");
        let first = Lock::wait(&path, "first").unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let lock = path.clone();
        let waiter = std::thread::spawn(move || {
            let second = Lock::wait(&lock, "second").unwrap();
            sender.send(()).unwrap();
            drop(second);
        });
        let waited = receiver.recv_timeout(std::time::Duration::from_millis(300));
        assert!(waited.is_err(), "the second took a held lock");
        drop(first);
        receiver
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second never got the lock");
        waiter.join().unwrap();
    }
}
