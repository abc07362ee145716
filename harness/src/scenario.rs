//! Running scenario binaries: find them, start them with the run's parameters, wait
//! for their manifest, and stop them. A thin adapter around `tokio::process`.
//!
//! Main items: [`find_binary`], [`ScenarioRun`], [`ScenarioError`].

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lgtm_check_recorder::manifest::{Manifest, ManifestError};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// How long a scenario may take to emit and write its manifest.
pub const SCENARIO_TIMEOUT: Duration = Duration::from_secs(180);

/// Why a scenario could not be found, started or read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// No executable of that name in any directory searched (the scenarios were not
    /// built, or `--scenario-dir` points elsewhere).
    #[error(
        "scenario binary `{name}` not found (looked in {}); build the scenarios with `cargo build -p lgtm-scenarios` or pass --scenario-dir",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// The scenario binary's name (`http-service`, …).
        name: String,
        /// The directories looked in, in order.
        searched: Vec<PathBuf>,
    },
    /// The binary was found but could not be started.
    #[error("cannot start scenario {path}")]
    Spawn {
        /// The binary's path.
        path: String,
        /// Why the operating system refused to start it.
        #[source]
        source: std::io::Error,
    },
    /// The scenario ended (or closed its stdout) without announcing its manifest.
    #[error("scenario {name} exited ({status}) before writing its manifest; its stderr: {stderr}")]
    Exited {
        /// The scenario binary's name.
        name: String,
        /// Its exit status, as the OS reports it (`exit status: 1`).
        status: String,
        /// Why it stopped, from its stderr ([`stderr_summary`]).
        stderr: String,
    },
    /// The scenario did not announce its manifest within [`SCENARIO_TIMEOUT`]; it
    /// was killed.
    #[error(
        "scenario {name} wrote no manifest within {0:?}; its stderr: {stderr}",
        SCENARIO_TIMEOUT
    )]
    TimedOut {
        /// The scenario binary's name.
        name: String,
        /// The end of its stderr ([`stderr_summary`]).
        stderr: String,
    },
    /// The scenario announced a manifest that cannot be read.
    #[error("scenario {name}'s manifest")]
    Manifest {
        /// The scenario binary's name.
        name: String,
        /// Why the manifest could not be read.
        #[source]
        source: ManifestError,
    },
}

/// Where a scenario binary is: `dir` if given, else beside this executable (or one
/// level up, for test binaries under `target/<profile>/deps`).
pub fn find_binary(name: &str, dir: Option<&Path>) -> Result<PathBuf, ScenarioError> {
    let mut searched = Vec::new();
    if let Some(d) = dir {
        searched.push(d.to_path_buf());
    } else if let Ok(exe) = std::env::current_exe()
        && let Some(parent) = exe.parent()
    {
        searched.push(parent.to_path_buf());
        if let Some(up) = parent.parent() {
            searched.push(up.to_path_buf());
        }
    }
    searched
        .iter()
        .map(|d| d.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .find(|p| p.is_file())
        .ok_or_else(|| ScenarioError::NotFound {
            name: name.into(),
            searched,
        })
}

/// What a scenario announced as emitted before it wrote its manifest: the logs and
/// traces of [`ScenarioRun::start_watching`].
#[derive(Debug, Clone)]
pub struct Provisional {
    /// The manifest so far (its end is the emission's; its metrics may not yet be
    /// scraped).
    pub manifest: Manifest,
    /// When the scenario said it had emitted everything.
    pub emitted_at: Instant,
}

/// A running scenario that has written its manifest (it may hold on to serve
/// `/metrics` until [`ScenarioRun::finish`]).
pub struct ScenarioRun {
    /// The scenario binary's name.
    pub name: String,
    child: Child,
    /// What the scenario says it emitted: the expected data of the checks.
    pub manifest: Manifest,
    /// Where the manifest was written.
    pub manifest_path: PathBuf,
    /// When the scenario said it had emitted everything (before it waited for scrapes
    /// and wrote the manifest): time-to-visible counts from here.
    pub emitted_at: Instant,
    /// Everything it wrote on stderr so far (filled when its stderr closes).
    stderr: Arc<Mutex<String>>,
}

/// How a scenario that had written its manifest ended, when it did not succeed
/// (it exits non-zero after the manifest when not everything it emitted was
/// delivered: a backend died or refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioExit {
    /// Its exit status, as the OS reports it (`exit status: 1`).
    pub status: String,
    /// Why it failed, from its stderr ([`stderr_summary`]).
    pub stderr: String,
}

impl ScenarioRun {
    /// Starts `binary` with `args` and waits until it announces its manifest.
    pub async fn start(
        name: &str,
        binary: &Path,
        args: &[String],
        manifest_path: &Path,
    ) -> Result<Self, ScenarioError> {
        Self::start_with_env(name, binary, args, &[], manifest_path).await
    }

    /// As [`ScenarioRun::start`], with variables set for the scenario alone (the
    /// secrets of an external target: `LOKI_PASSWORD`, `OTLP_TOKEN`, …).
    pub async fn start_with_env(
        name: &str,
        binary: &Path,
        args: &[String],
        env: &[(String, String)],
        manifest_path: &Path,
    ) -> Result<Self, ScenarioError> {
        Self::start_watching(name, binary, args, env, manifest_path, None).await
    }

    /// As [`ScenarioRun::start_with_env`]; a provisional manifest the scenario
    /// announces before its manifest (`{"event":"provisional","path":…}`: its logs
    /// and traces, final while its metrics still wait for a scraper) is read and
    /// sent to `provisional`, once. One that cannot be read is passed over: the
    /// manifest of record follows.
    pub async fn start_watching(
        name: &str,
        binary: &Path,
        args: &[String],
        env: &[(String, String)],
        manifest_path: &Path,
        mut provisional: Option<tokio::sync::oneshot::Sender<Provisional>>,
    ) -> Result<Self, ScenarioError> {
        let mut command = Command::new(binary);
        // The scenario's settings are its flags, not the caller's environment: the
        // standard OTEL_* variables, LGTM_CHECK_* and LOKI_PASSWORD would change what
        // it emits (or where) behind the harness' back.
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("OTEL_") || k.starts_with("LGTM_CHECK_") || k == "LOKI_PASSWORD" {
                command.env_remove(&key);
            }
        }
        const SECRETS: [&str; 5] = [
            "LOKI_TOKEN",
            "OTLP_PASSWORD",
            "OTLP_TOKEN",
            "REMOTE_WRITE_PASSWORD",
            "REMOTE_WRITE_TOKEN",
        ];
        for k in SECRETS {
            command.env_remove(k);
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = command
            .args(args)
            .arg("--manifest")
            .arg(manifest_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| ScenarioError::Spawn {
                path: binary.display().to_string(),
                source,
            })?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let sink = stderr.clone();
            tokio::spawn(async move {
                let mut buf = String::new();
                let _ = err.read_to_string(&mut buf).await;
                sink.lock().await.push_str(&buf);
            });
        }
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut emitted_at = None;
        let announced = tokio::time::timeout(SCENARIO_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if v["event"] == "emitted" {
                    emitted_at = Some(Instant::now());
                }
                if v["event"] == "provisional"
                    && let Some(path) = v["path"].as_str()
                    && let Ok(manifest) = Manifest::read(Path::new(path))
                    && let Some(tx) = provisional.take()
                {
                    let _ = tx.send(Provisional {
                        manifest,
                        emitted_at: emitted_at.unwrap_or_else(Instant::now),
                    });
                }
                if v["event"] == "manifest" {
                    return true;
                }
            }
            false
        })
        .await;
        let tail = |s: String| stderr_summary(&s);
        match announced {
            Ok(true) => {}
            Ok(false) => {
                let status = child
                    .wait()
                    .await
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| e.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                return Err(ScenarioError::Exited {
                    name: name.into(),
                    status,
                    stderr: tail(stderr.lock().await.clone()),
                });
            }
            Err(_) => {
                let _ = child.kill().await;
                return Err(ScenarioError::TimedOut {
                    name: name.into(),
                    stderr: tail(stderr.lock().await.clone()),
                });
            }
        }
        let emitted_at = emitted_at.unwrap_or_else(Instant::now);
        // Keep draining stdout so the scenario never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let manifest = Manifest::read(manifest_path).map_err(|source| ScenarioError::Manifest {
            name: name.into(),
            source,
        })?;
        Ok(ScenarioRun {
            name: name.into(),
            child,
            manifest,
            manifest_path: manifest_path.to_path_buf(),
            emitted_at,
            stderr,
        })
    }

    /// Closes the scenario's stdin (its signal to stop) and waits briefly; kills it if
    /// it lingers. Returns how it ended when it exited non-zero on its own (`None`
    /// when it succeeded, or had to be killed).
    pub async fn finish(mut self) -> Option<ScenarioExit> {
        drop(self.child.stdin.take());
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) if !status.success() => {
                // Its stderr is read to its end by a task of its own.
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some(ScenarioExit {
                    status: status.to_string(),
                    stderr: stderr_summary(&self.stderr.lock().await),
                })
            }
            Ok(_) => None,
            Err(_) => {
                let _ = self.child.kill().await;
                None
            }
        }
    }
}

/// What a scenario's stderr says about why it stopped: from its `Error:` line (the
/// anyhow report of a failed main), else its last lines, without backtraces.
///
/// ```
/// use lgtm_check::scenario::stderr_summary;
///
/// let stderr = "INFO starting\nError: no OTLP endpoint\n\nStack backtrace:\n   0: main\n";
/// assert_eq!(stderr_summary(stderr), "Error: no OTLP endpoint");
/// ```
pub fn stderr_summary(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let from = lines
        .iter()
        .rposition(|l| l.starts_with("Error:") || l.contains("panicked at"))
        .unwrap_or(lines.len().saturating_sub(5));
    lines[from..]
        .iter()
        .take_while(|l| {
            !l.trim_start().starts_with("Stack backtrace")
                && !l.trim_start().starts_with("stack backtrace")
        })
        .take(6)
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_keeps_the_error_and_drops_the_backtrace() {
        let stderr = "2026 INFO starting\nError: fault drop-span has nothing to change\n\nCaused by:\n    no OTLP endpoint\n\nStack backtrace:\n   0: anyhow::error\n   1: main\n";
        assert_eq!(
            stderr_summary(stderr),
            "Error: fault drop-span has nothing to change | Caused by: | no OTLP endpoint"
        );
        assert_eq!(stderr_summary("a\nb\n"), "a | b");
        assert_eq!(stderr_summary(""), "");
    }
}
