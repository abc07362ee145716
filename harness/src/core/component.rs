//! The components of the LGTM stack, the images that fill them, and how an image is
//! written (`[registry/]name:tag`).
//!
//! Main types: [`Component`], [`ImageRef`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One role in the stack. The Mimir role can be filled by a stand-in; see
/// [`crate::core::plan::MimirFlavour`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    /// Loki: stores the logs, queried with LogQL.
    Loki,
    /// Tempo: stores the traces, queried with TraceQL (search, by id, and TraceQL
    /// metrics).
    Tempo,
    /// Mimir: stores the metrics received by remote write, queried with PromQL.
    Mimir,
    /// Prometheus: scrapes the scenarios' metrics endpoints and remote-writes them
    /// to the Mimir role.
    Prometheus,
    /// Grafana: the datasources and dashboard that query the other three.
    Grafana,
}

impl Component {
    /// Every component, in report order.
    pub const ALL: [Component; 5] = [
        Component::Loki,
        Component::Tempo,
        Component::Mimir,
        Component::Prometheus,
        Component::Grafana,
    ];

    /// The lowercase name used in flags, environment variables and reports.
    pub fn name(self) -> &'static str {
        match self {
            Component::Loki => "loki",
            Component::Tempo => "tempo",
            Component::Mimir => "mimir",
            Component::Prometheus => "prometheus",
            Component::Grafana => "grafana",
        }
    }

    /// The image the guide pins for this component.
    pub fn default_image(self) -> ImageRef {
        let (name, tag) = match self {
            Component::Loki => ("grafana/loki", "3.2.0"),
            Component::Tempo => ("grafana/tempo", "2.6.0"),
            Component::Mimir => ("grafana/mimir", "2.14.0"),
            Component::Prometheus => ("prom/prometheus", "v2.54.0"),
            Component::Grafana => ("grafana/grafana", "11.3.0"),
        };
        ImageRef {
            name: name.into(),
            tag: tag.into(),
        }
    }

    /// The environment variable that overrides this component's image.
    pub fn image_env_var(self) -> String {
        format!("LGTM_CHECK_IMAGE_{}", self.name().to_ascii_uppercase())
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

impl FromStr for Component {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Component::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown component `{s}` (expected one of loki, tempo, mimir, prometheus, grafana)")
            })
    }
}

/// An image reference split into name (with any registry) and tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// The repository, with any registry host and port (`grafana/loki`,
    /// `host:5000/x`).
    pub name: String,
    /// The tag after the last `:` (`latest` when none was written).
    pub tag: String,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.tag)
    }
}

impl FromStr for ImageRef {
    type Err = String;

    /// `name[:tag]`, where a `:` inside the registry part (`host:5000/x`) is not a tag;
    /// the tag defaults to `latest` as with `docker run`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() || s.contains(char::is_whitespace) {
            return Err(format!("`{s}` is not an image reference"));
        }
        let last_slash = s.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match s[last_slash..].rfind(':') {
            Some(i) => (&s[..last_slash + i], &s[last_slash + i + 1..]),
            None => (s, "latest"),
        };
        if name.is_empty() || tag.is_empty() || name.ends_with('/') {
            return Err(format!("`{s}` is not an image reference"));
        }
        Ok(ImageRef {
            name: name.into(),
            tag: tag.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("grafana/loki:3.3.2", "grafana/loki", "3.3.2")]
    #[case("grafana/loki", "grafana/loki", "latest")]
    #[case("localhost:5000/loki:dev", "localhost:5000/loki", "dev")]
    #[case("localhost:5000/loki", "localhost:5000/loki", "latest")]
    fn parses_image_references(#[case] input: &str, #[case] name: &str, #[case] tag: &str) {
        let image: ImageRef = input.parse().unwrap();
        assert_eq!((image.name.as_str(), image.tag.as_str()), (name, tag));
    }

    #[rstest]
    #[case("")]
    #[case("loki:")]
    #[case("a b:1")]
    fn rejects_bad_image_references(#[case] input: &str) {
        assert!(input.parse::<ImageRef>().is_err());
    }

    #[test]
    fn component_names_round_trip() {
        for c in Component::ALL {
            assert_eq!(c.name().parse::<Component>().unwrap(), c);
        }
        assert!("mimr".parse::<Component>().is_err());
        assert_eq!(Component::Loki.image_env_var(), "LGTM_CHECK_IMAGE_LOKI");
    }
}
