//! Faults injected into a run's components (`lgtm-check run --fault
//! KIND:TARGET[@WHEN][/FOR]`, or `faults = [...]` in `lgtm-check.toml`): what to do to
//! which container and when, and the record of what was done. Plain data;
//! [`crate::fault`] does it to the containers.
//!
//! - `kill`: SIGKILL, then the same container started again (same filesystem, same
//!   host ports): what was acknowledged must survive in its WAL.
//! - `restart`: a graceful stop (SIGTERM) and start.
//! - `pause`: the container frozen for `FOR` (default 10 s), then thawed.
//! - `partition`: the container cut off its networks for `FOR` (default 10 s), from
//!   the pushers on the host and the other components alike, then connected again.
//!
//! `TARGET` is one of the run's components (`loki`, `tempo`, `mimir`, `prometheus`,
//! `grafana`) on the containers lgtm-check starts; on a running deployment
//! (`--target external`) it is a container on the local Docker engine, by its name or
//! its Compose service's (`loki-write-2`, `ingester-1`).
//!
//! `WHEN` is a time after the scenarios start (`5s`, `1500ms`; default `5s`), or a
//! share of the workload (`50%`): once that share of the run's scenarios have
//! emitted theirs and had it answered (`100%`: everything acknowledged, before it is
//! all read back).
//!
//! Main items: [`Fault`], [`FaultKind`], [`FaultTarget`], [`FaultWhen`],
//! [`FaultRecord`].

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

/// Which container a fault is done to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FaultTarget {
    /// One of the run's components (on an external target: the container or Compose
    /// service of that name).
    Component(Component),
    /// A container on the local Docker engine, by its name or its Compose service's
    /// (an external target only).
    Container(String),
}

impl FaultTarget {
    /// The target as written.
    pub fn name(&self) -> &str {
        match self {
            FaultTarget::Component(c) => c.name(),
            FaultTarget::Container(n) => n,
        }
    }

    /// The component, when the target is one of lgtm-check's own.
    pub fn component(&self) -> Option<Component> {
        match self {
            FaultTarget::Component(c) => Some(*c),
            FaultTarget::Container(_) => None,
        }
    }
}

/// When a fault is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultWhen {
    /// This long after the scenarios start.
    #[serde(with = "millis")]
    After(Duration),
    /// Once this share (percent, 1–100) of the run's scenarios have emitted their
    /// workload and had it answered.
    Share(u8),
}

impl FaultWhen {
    /// Whether `done` of `total` scenarios having emitted reaches this share; a time
    /// is reached by the clock, never by the scenarios.
    ///
    /// ```
    /// use lgtm_check::core::fault::FaultWhen;
    /// assert!(!FaultWhen::Share(50).reached(2, 5));
    /// assert!(FaultWhen::Share(50).reached(3, 5));
    /// assert!(FaultWhen::Share(100).reached(5, 5));
    /// ```
    pub fn reached(self, done: usize, total: usize) -> bool {
        match self {
            FaultWhen::After(_) => false,
            FaultWhen::Share(p) => done * 100 >= usize::from(p) * total,
        }
    }
}

/// One fault to inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// What is done.
    pub kind: FaultKind,
    /// To which container.
    pub target: FaultTarget,
    /// When.
    pub when: FaultWhen,
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
    "--fault `{value}`: {reason} (expected KIND:TARGET[@WHEN][/FOR], e.g. kill:loki@5s, kill:tempo@50% or pause:tempo@3s/10s; KIND is kill, restart, pause or partition)"
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
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(Duration::from_secs_f64);
    }
    None
}

/// A container's or Compose service's name as Docker allows it.
fn container_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Fault {
    /// The default moment of a fault: 5 s after the scenarios start.
    pub const DEFAULT_AT: Duration = Duration::from_secs(5);
    /// The default length of a pause or a partition.
    pub const DEFAULT_HOLD: Duration = Duration::from_secs(10);

    /// Parses `KIND:TARGET[@WHEN][/FOR]`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use lgtm_check::core::component::Component;
    /// use lgtm_check::core::fault::{Fault, FaultKind, FaultTarget, FaultWhen};
    ///
    /// let f = Fault::parse("pause:tempo@3s/12s").unwrap();
    /// assert_eq!((f.kind, f.target.component()), (FaultKind::Pause, Some(Component::Tempo)));
    /// assert_eq!((f.when, f.hold), (FaultWhen::After(Duration::from_secs(3)), Duration::from_secs(12)));
    /// assert_eq!(Fault::parse("kill:loki").unwrap().when, FaultWhen::After(Fault::DEFAULT_AT));
    /// // A share of the workload, and a container of a running deployment.
    /// let f = Fault::parse("kill:loki-write-2@50%").unwrap();
    /// assert_eq!(f.target, FaultTarget::Container("loki-write-2".into()));
    /// assert_eq!(f.when, FaultWhen::Share(50));
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
        let (target, when) = match rest.split_once('@') {
            Some((c, w)) => {
                let w = w.trim();
                let when = match w.strip_suffix('%') {
                    Some(p) => FaultWhen::Share(
                        p.trim()
                            .parse::<u8>()
                            .ok()
                            .filter(|p| (1..=100).contains(p))
                            .ok_or_else(|| err("WHEN as a share is 1% to 100%"))?,
                    ),
                    None => FaultWhen::After(duration(w).ok_or_else(|| {
                        err("WHEN is not a duration like 5s or a share like 50%")
                    })?),
                };
                (c, when)
            }
            None => (rest, FaultWhen::After(Fault::DEFAULT_AT)),
        };
        let target = target.trim();
        let target = match target.parse::<Component>() {
            Ok(c) => FaultTarget::Component(c),
            Err(_) if container_name(target) => FaultTarget::Container(target.to_owned()),
            Err(_) => return Err(err("TARGET is neither a component nor a container's name")),
        };
        if hold.is_some() && !kind.lasts() {
            return Err(err("only a pause or a partition lasts FOR"));
        }
        Ok(Fault {
            kind,
            target,
            when,
            hold: hold.unwrap_or(Fault::DEFAULT_HOLD),
        })
    }

    /// The component a fault on lgtm-check's own containers is done to; a container
    /// by name is refused there, naming the components it could be.
    ///
    /// ```
    /// use lgtm_check::core::fault::Fault;
    /// assert!(Fault::parse("kill:loki").unwrap().own_component().is_ok());
    /// let e = Fault::parse("kill:lokki").unwrap().own_component().unwrap_err();
    /// assert!(e.reason.contains("only with --target external"));
    /// ```
    pub fn own_component(&self) -> Result<Component, FaultError> {
        self.target.component().ok_or_else(|| FaultError {
            value: self.spec(),
            reason: format!(
                "`{}` is not one of the run's components (loki, tempo, mimir, prometheus, grafana); a container by name is a target only with --target external",
                self.target.name()
            ),
        })
    }

    /// The fault as `--fault` spells it.
    pub fn spec(&self) -> String {
        let when = match self.when {
            FaultWhen::After(d) => format!("{}ms", d.as_millis()),
            FaultWhen::Share(p) => format!("{p}%"),
        };
        let mut s = format!("{}:{}@{when}", self.kind.name(), self.target.name());
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
    /// The target as named: a component, or a container or Compose service.
    pub component: String,
    /// The container it was done to (its name), when it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Milliseconds after the run started when it was injected; `None`: it was not
    /// (the component was not running, or the run ended first).
    pub injected_at_ms: Option<u64>,
    /// Milliseconds from the injection until the component answered ready again;
    /// `None`: it did not within the wait. On an external target, ready is running
    /// and, where the container has a healthcheck, healthy.
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
        assert_eq!(Fault::parse("kill:lo/ki").unwrap_err().value, "kill:lo/ki");
        assert!(Fault::parse("kill:loki@soon").is_err());
        assert!(Fault::parse("kill:loki@0%").is_err());
        assert!(Fault::parse("kill:loki@101%").is_err());
        assert!(Fault::parse("kill:-loki").is_err());
    }

    #[test]
    fn the_spec_round_trips() {
        for v in ["restart:mimir@1500ms", "partition:ingester-2@40%/3s"] {
            let f = Fault::parse(v).unwrap();
            assert_eq!(Fault::parse(&f.spec()).unwrap(), f);
        }
    }
}
