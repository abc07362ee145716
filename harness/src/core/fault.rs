//! Faults injected into a run's own components (`lgtm-check run --fault
//! KIND:COMPONENT[@WHEN][/FOR]`): what to do to which component and when, and the
//! record of what was done. Plain data; [`crate::fault`] does it to the containers.
//!
//! - `kill`: SIGKILL, then the same container started again (same filesystem, same
//!   host ports): what was acknowledged must survive in its WAL.
//! - `restart`: a graceful stop (SIGTERM) and start.
//! - `pause`: the container frozen for `FOR` (default 10 s), then thawed.
//! - `partition`: the container cut off its network for `FOR` (default 10 s), from
//!   the pushers on the host and the other components alike, then connected again.
//!
//! `WHEN` is the time after the scenarios start (`5s`, `1500ms`; default `5s`).
//!
//! Main items: [`Fault`], [`FaultKind`], [`FaultRecord`].

use std::time::Duration;

use serde::Serialize;

use super::component::Component;

/// What is done to the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// SIGKILL, then started again on the same filesystem.
    Kill,
    /// SIGTERM (a graceful stop), then started again.
    Restart,
    /// Frozen (cgroup freezer), then thawed.
    Pause,
    /// Cut off the network (from the pushers on the host and the other
    /// components), then connected again.
    Partition,
}

impl FaultKind {
    /// Whether the fault lasts a while (`/FOR`) before it is undone.
    pub fn lasts(self) -> bool {
        matches!(self, FaultKind::Pause | FaultKind::Partition)
    }

    /// `kill`, `restart` or `pause`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Restart => "restart",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
        }
    }
}

/// One fault to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// What is done.
    pub kind: FaultKind,
    /// To which component.
    pub component: Component,
    /// When, after the scenarios start.
    #[serde(with = "millis")]
    pub at: Duration,
    /// How long a pause or a partition lasts.
    #[serde(with = "millis")]
    pub hold: Duration,
}

mod millis {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// A `--fault` value that cannot be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--fault `{value}`: {reason} (expected KIND:COMPONENT[@WHEN][/FOR], e.g. kill:loki@5s or pause:tempo@3s/10s; KIND is kill, restart, pause or partition)"
)]
pub struct FaultError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

fn duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    if let Some(ms) = t.strip_suffix("ms") {
        return ms.parse::<u64>().ok().map(Duration::from_millis);
    }
    if let Some(s) = t.strip_suffix('s') {
        return s
            .parse::<f64>()
            .ok()
            .filter(|v| *v >= 0.0)
            .map(Duration::from_secs_f64);
    }
    None
}

impl Fault {
    /// The default moment of a fault: 5 s after the scenarios start.
    pub const DEFAULT_AT: Duration = Duration::from_secs(5);
    /// The default length of a pause.
    pub const DEFAULT_HOLD: Duration = Duration::from_secs(10);

    /// Parses `KIND:COMPONENT[@WHEN][/FOR]`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lgtm_check::core::component::Component;
    /// use lgtm_check::core::fault::{Fault, FaultKind};
    ///
    /// let f = Fault::parse("pause:tempo@3s/12s").unwrap();
    /// assert_eq!((f.kind, f.component), (FaultKind::Pause, Component::Tempo));
    /// assert_eq!((f.at, f.hold), (Duration::from_secs(3), Duration::from_secs(12)));
    /// assert_eq!(Fault::parse("kill:loki").unwrap().at, Fault::DEFAULT_AT);
    /// assert!(Fault::parse("explode:loki").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Fault, FaultError> {
        let err = |reason: &str| FaultError {
            value: value.into(),
            reason: reason.into(),
        };
        let (kind, rest) = value.split_once(':').ok_or_else(|| err("no `:`"))?;
        let kind = match kind.trim() {
            "kill" => FaultKind::Kill,
            "restart" => FaultKind::Restart,
            "pause" => FaultKind::Pause,
            "partition" => FaultKind::Partition,
            _ => return Err(err("unknown kind")),
        };
        let (rest, hold) = match rest.split_once('/') {
            Some((r, h)) => (
                r,
                Some(duration(h).ok_or_else(|| err("FOR is not a duration"))?),
            ),
            None => (rest, None),
        };
        let (component, at) = match rest.split_once('@') {
            Some((c, w)) => (
                c,
                duration(w).ok_or_else(|| err("WHEN is not a duration like 5s"))?,
            ),
            None => (rest, Fault::DEFAULT_AT),
        };
        let component: Component = component.trim().parse().map_err(|e: String| err(&e))?;
        if hold.is_some() && !kind.lasts() {
            return Err(err("only a pause or a partition lasts FOR"));
        }
        Ok(Fault {
            kind,
            component,
            at,
            hold: hold.unwrap_or(Fault::DEFAULT_HOLD),
        })
    }

    /// The fault as `--fault` spells it.
    pub fn spec(&self) -> String {
        let mut s = format!(
            "{}:{}@{}ms",
            self.kind.name(),
            self.component.name(),
            self.at.as_millis()
        );
        if self.kind.lasts() {
            s.push_str(&format!("/{}ms", self.hold.as_millis()));
        }
        s
    }
}

/// What happened when a fault was injected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FaultRecord {
    /// The fault, as `--fault` spells it.
    pub fault: String,
    /// The component.
    pub component: Component,
    /// Milliseconds after the run started when it was injected; `None`: it was not
    /// (the component was not running, or the run ended first).
    pub injected_at_ms: Option<u64>,
    /// Milliseconds from the injection until the component answered ready again;
    /// `None`: it did not within the wait.
    pub recovered_after_ms: Option<u64>,
    /// Why it was not injected, or did not recover.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_value_names_what_is_wrong() {
        assert_eq!(
            Fault::parse("kill:loki/3s").unwrap_err().reason,
            "only a pause or a partition lasts FOR"
        );
        assert_eq!(Fault::parse("kill:lokki").unwrap_err().value, "kill:lokki");
        assert!(Fault::parse("kill:loki@soon").is_err());
    }

    #[test]
    fn the_spec_round_trips() {
        let f = Fault::parse("restart:mimir@1500ms").unwrap();
        assert_eq!(Fault::parse(&f.spec()).unwrap(), f);
    }
}
