//! Watching the configuration file and the component files for hot reload.
//!
//! A thread polls the files' size and modification time every interval
//! (polling works on every filesystem, bind mounts and ConfigMaps
//! included). A change, or [`Watcher::trigger`] (what `wasp run` does on
//! SIGHUP), reads the configuration again and hands it to
//! [`AuditService::reload`]. A file still being written is waited out: the
//! reload starts once two looks a short while apart agree. An invalid
//! configuration is refused (logged, and shown by
//! [`AuditService::last_reload`]); the running one stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::AuditService;
use crate::config::Config;

/// How long a changed file must stay unchanged before it is read.
const SETTLE: Duration = Duration::from_millis(150);

#[derive(Default)]
struct Signals {
    triggered: bool,
    stopped: bool,
}

/// The watching thread; stopped when dropped.
pub struct Watcher {
    signals: Arc<(Mutex<Signals>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

/// What was seen of each watched file: size and modification time (`None`
/// when it cannot be read).
type Look = Vec<(PathBuf, Option<(u64, SystemTime)>)>;

fn look(config_path: &Path, config: &Config) -> Look {
    let mut paths = vec![config_path.to_owned()];
    paths.extend(config.handlers.iter().filter(|h| h.enabled).map(|h| h.component.clone()));
    paths.extend(config.filters.iter().filter(|f| f.enabled).map(|f| f.component.clone()));
    paths
        .into_iter()
        .map(|p| {
            let seen = std::fs::metadata(&p).ok().and_then(|m| Some((m.len(), m.modified().ok()?)));
            (p, seen)
        })
        .collect()
}

impl Watcher {
    /// Watches `config_path` and the component files of the configuration
    /// `service` runs, every `interval` (`None`: only on
    /// [`trigger`](Self::trigger)). `on_reload` is called after each reload
    /// with the configuration read and the report.
    pub fn start(
        service: Arc<AuditService>,
        config_path: PathBuf,
        interval: Option<Duration>,
        on_reload: impl Fn(&Config, &super::ReloadReport) + Send + 'static,
    ) -> Watcher {
        let signals: Arc<(Mutex<Signals>, Condvar)> = Arc::default();
        let shared = signals.clone();
        let thread = std::thread::Builder::new()
            .name("wasp-watch".into())
            .spawn(move || {
                let mut seen = look(&config_path, &service.config());
                loop {
                    let triggered = {
                        let (lock, wake) = &*shared;
                        let mut s = lock.lock().unwrap();
                        if !s.triggered && !s.stopped {
                            s = match interval {
                                Some(interval) => wake.wait_timeout(s, interval).unwrap().0,
                                None => wake.wait(s).unwrap(),
                            };
                        }
                        if s.stopped {
                            return;
                        }
                        std::mem::take(&mut s.triggered)
                    };
                    let now = look(&config_path, &service.config());
                    if !triggered && now == seen {
                        continue;
                    }
                    // Wait out a file being written.
                    std::thread::sleep(SETTLE);
                    let settled = look(&config_path, &service.config());
                    if !triggered && settled != now {
                        continue;
                    }
                    let report = match Config::from_file(&config_path) {
                        Ok(config) => {
                            let report = service.reload(config.clone());
                            on_reload(&config, &report);
                            report
                        }
                        Err(e) => service.record_failed_reload(format!("{}: {e}", config_path.display())),
                    };
                    if report.error.as_deref() == Some("the service is shutting down") {
                        return;
                    }
                    // What was seen before reading: a file changed while it
                    // was read (or one the new configuration names) is
                    // looked at again at the next tick.
                    seen = settled;
                }
            })
            .expect("spawn the watch thread");
        Watcher { signals, thread: Some(thread) }
    }

    /// Reloads now (SIGHUP), whether or not a file changed.
    pub fn trigger(&self) {
        let (lock, wake) = &*self.signals;
        lock.lock().unwrap().triggered = true;
        wake.notify_all();
    }

    /// Stops the thread and waits for it (a reload in progress finishes).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, wake) = &*self.signals;
        lock.lock().unwrap().stopped = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}
