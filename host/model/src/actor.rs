//! Who or what caused a change: a rule (a binding running a plugin
//! version), a person, or the host itself. Stored and shown as text:
//! `binding:<id>/<plugin>@<version>`, `user:<name>`, `system:<what>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::BindingId;

/// The cause of a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A binding's plugin version.
    Rule {
        /// The binding.
        binding_id: BindingId,
        /// Plugin name.
        plugin: String,
        /// Plugin version.
        version: String,
    },
    /// A person (or machine credential) using the API.
    User(String),
    /// The host itself, e.g. `circuit-breaker`.
    System(String),
}

impl Actor {
    /// A person.
    pub fn user(name: impl Into<String>) -> Self {
        Actor::User(name.into())
    }

    /// The host.
    pub fn system(what: impl Into<String>) -> Self {
        Actor::System(what.into())
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Rule { binding_id, plugin, version } => write!(f, "binding:{binding_id}/{plugin}@{version}"),
            Actor::User(name) => write!(f, "user:{name}"),
            Actor::System(what) => write!(f, "system:{what}"),
        }
    }
}

/// Text that is not an actor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an actor: `{0}` (expected binding:<id>/<plugin>@<version>, user:<name> or system:<what>)")]
pub struct ParseActorError(String);

impl FromStr for Actor {
    type Err = ParseActorError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseActorError(text.to_string());
        let (kind, rest) = text.split_once(':').ok_or_else(bad)?;
        match kind {
            "user" => Ok(Actor::User(rest.to_string())),
            "system" => Ok(Actor::System(rest.to_string())),
            "binding" => {
                let (binding_id, plugin_version) = rest.split_once('/').ok_or_else(bad)?;
                let (plugin, version) = plugin_version.rsplit_once('@').ok_or_else(bad)?;
                Ok(Actor::Rule { binding_id: binding_id.into(), plugin: plugin.into(), version: version.into() })
            }
            _ => Err(bad()),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Actor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_round_trip_through_text() {
        for actor in [
            Actor::Rule { binding_id: "b-1".into(), plugin: "threshold".into(), version: "1.2.0".into() },
            Actor::user("ana@example.com"),
            Actor::system("circuit-breaker"),
        ] {
            let text = actor.to_string();
            assert_eq!(text.parse::<Actor>().unwrap(), actor, "{text}");
            assert_eq!(serde_json::to_value(&actor).unwrap(), serde_json::Value::String(text));
        }
        assert_eq!(
            Actor::Rule { binding_id: "b".into(), plugin: "p".into(), version: "1".into() }.to_string(),
            "binding:b/p@1"
        );
        assert!("nobody".parse::<Actor>().is_err());
        assert!("binding:b-no-plugin".parse::<Actor>().is_err());
    }
}
