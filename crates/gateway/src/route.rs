//! Routes: a public model name mapped to ordered targets, local versions
//! and upstream models, with the rules that choose among them.
//!
//! [`Routes::plan`] turns a route into the order in which targets are tried
//! for one request: targets a request's data class may not reach are
//! dropped (`confidential` and `restricted` data never leaves self-hosted
//! targets), the rest are ordered by tier (the order written) or by
//! estimated cost (`strategy = "cost"`, cheapest first), and targets that
//! tie are shuffled by weight. The caller walks the plan, falling back to
//! the next target when one fails before the first byte reached the client.

use std::collections::{HashMap, HashSet};
use std::fmt;

use modelgate_inventory::DataClass;
use serde::Deserialize;

/// How a route orders its targets.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// In the order written (`tier` groups equals).
    #[default]
    Priority,
    /// Cheapest estimated cost first.
    Cost,
}

/// A route as written in the config.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The public model name clients send.
    pub name: String,
    /// How targets are ordered.
    #[serde(default)]
    pub strategy: Strategy,
    /// Where requests may go.
    pub targets: Vec<TargetConfig>,
}

/// A target as written: `local = "NAME@VER"`, or `provider` and `model`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// An inventory version served by this process.
    #[serde(default)]
    pub local: Option<String>,
    /// A provider's name (`[[providers]]`).
    #[serde(default)]
    pub provider: Option<String>,
    /// The model id at that provider.
    #[serde(default)]
    pub model: Option<String>,
    /// Share of requests among targets that tie.
    #[serde(default = "one")]
    pub weight: u32,
    /// Targets with the same tier tie (default: each its own, in order).
    #[serde(default)]
    pub tier: Option<u32>,
}

fn one() -> u32 {
    1
}

/// Where a request can be sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A version this process serves (`NAME@VER`, or `NAME`).
    Local(String),
    /// A model at an upstream provider.
    Upstream {
        /// The provider's name.
        provider: String,
        /// The model id there.
        model: String,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Local(version) => f.write_str(version),
            Target::Upstream { provider, model } => write!(f, "{provider}/{model}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    target: Target,
    weight: u32,
    tier: u32,
}

/// A checked route.
#[derive(Debug, Clone)]
pub struct Route {
    /// Its public name.
    pub name: String,
    strategy: Strategy,
    targets: Vec<Entry>,
}

impl Route {
    /// Its targets, in the order written.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.targets.iter().map(|e| &e.target)
    }
}

/// A route's config is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("routes: `{route}` {problem}")]
pub struct RouteError {
    /// The route's name.
    pub route: String,
    /// What is wrong and what to do.
    pub problem: String,
}

/// No target of a route may take a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Data of this class must stay on self-hosted targets, and the route
    /// has none.
    #[error(
        "data class `{class}` never leaves self-hosted targets, and the route `{route}` has none; use a route with a local version or lower the class of this key"
    )]
    DataClass {
        /// The route.
        route: String,
        /// The request's class.
        class: DataClass,
    },
}

/// Whether data of `class` may go to a target that is not self-hosted.
pub fn may_leave(class: DataClass) -> bool {
    matches!(class, DataClass::Public | DataClass::Internal)
}

/// Every route, by public name.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    by_name: HashMap<String, Route>,
}

impl Routes {
    /// Checks the configured routes against the known providers.
    pub fn new(configs: &[RouteConfig], providers: &HashSet<String>) -> Result<Routes, RouteError> {
        let mut by_name = HashMap::new();
        for config in configs {
            let bad = |problem: String| RouteError {
                route: config.name.clone(),
                problem,
            };
            if config.name.trim().is_empty() {
                return Err(bad("has an empty name".into()));
            }
            if config.targets.is_empty() {
                return Err(bad(
                    "has no targets; add at least one `[[routes.targets]]`".into()
                ));
            }
            let mut targets = Vec::with_capacity(config.targets.len());
            for (i, t) in config.targets.iter().enumerate() {
                let target = match (&t.local, &t.provider, &t.model) {
                    (Some(local), None, None) => Target::Local(local.clone()),
                    (None, Some(provider), Some(model)) => {
                        if !providers.contains(provider) {
                            return Err(bad(format!(
                                "target {} names the provider `{provider}`, which no `[[providers]]` entry declares",
                                i + 1
                            )));
                        }
                        Target::Upstream {
                            provider: provider.clone(),
                            model: model.clone(),
                        }
                    }
                    _ => {
                        return Err(bad(format!(
                            "target {} must have either `local = \"NAME@VER\"` or both `provider` and `model`",
                            i + 1
                        )));
                    }
                };
                if t.weight == 0 {
                    return Err(bad(format!(
                        "target {} has weight 0; remove it instead",
                        i + 1
                    )));
                }
                targets.push(Entry {
                    target,
                    weight: t.weight,
                    tier: t.tier.unwrap_or(u32::try_from(i).unwrap_or(u32::MAX)),
                });
            }
            let route = Route {
                name: config.name.clone(),
                strategy: config.strategy,
                targets,
            };
            if by_name.insert(config.name.clone(), route).is_some() {
                return Err(bad("is declared twice".into()));
            }
        }
        Ok(Routes { by_name })
    }

    /// The route a public model name names.
    pub fn get(&self, name: &str) -> Option<&Route> {
        self.by_name.get(name)
    }

    /// Every route's name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The order in which to try `route`'s targets for one request of data
    /// class `class`. `self_hosted` says whether a target runs on the
    /// organisation's machines; `cost` estimates a target's cost for this
    /// request (used by `strategy = "cost"`); `seed` drives the weighted
    /// shuffle among ties.
    pub fn plan(
        route: &Route,
        class: DataClass,
        self_hosted: impl Fn(&Target) -> bool,
        cost: impl Fn(&Target) -> u64,
        seed: u64,
    ) -> Result<Vec<Target>, PlanError> {
        let mut rng = SplitMix(seed);
        let mut allowed: Vec<(u64, f64, &Entry)> = route
            .targets
            .iter()
            .filter(|e| may_leave(class) || self_hosted(&e.target))
            .map(|e| {
                let rank = match route.strategy {
                    Strategy::Priority => u64::from(e.tier),
                    Strategy::Cost => cost(&e.target),
                };
                // Efraimidis–Spirakis: u^(1/w), larger first.
                let u = rng.unit().max(f64::MIN_POSITIVE);
                (rank, u.powf(1.0 / f64::from(e.weight)), e)
            })
            .collect();
        if allowed.is_empty() {
            return Err(PlanError::DataClass {
                route: route.name.clone(),
                class,
            });
        }
        allowed.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        Ok(allowed
            .into_iter()
            .map(|(_, _, e)| e.target.clone())
            .collect())
    }
}

/// A small, fast generator for shuffles (not for secrets).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<Routes, RouteError> {
        #[derive(Deserialize)]
        struct File {
            routes: Vec<RouteConfig>,
        }
        let file: File = toml::from_str(toml_text).unwrap();
        let providers: HashSet<String> = ["openai".to_owned(), "vllm".to_owned()].into();
        Routes::new(&file.routes, &providers)
    }

    const CHAT: &str = r#"
        [[routes]]
        name = "chat"
        [[routes.targets]]
        provider = "openai"
        model = "gpt-4o-mini"
        [[routes.targets]]
        local = "SmolLM2@1.0"
    "#;

    fn local(t: &Target) -> bool {
        matches!(t, Target::Local(_))
    }

    #[test]
    fn confidential_data_stays_on_self_hosted_targets() {
        let routes = parse(CHAT).unwrap();
        let chat = routes.get("chat").unwrap();
        let internal = Routes::plan(chat, DataClass::Internal, local, |_| 0, 1).unwrap();
        assert_eq!(internal.len(), 2);
        assert_eq!(internal[0].to_string(), "openai/gpt-4o-mini");
        let confidential = Routes::plan(chat, DataClass::Confidential, local, |_| 0, 1).unwrap();
        assert_eq!(confidential, vec![Target::Local("SmolLM2@1.0".into())]);
        let remote_only = parse(
            r#"[[routes]]
            name = "gpt"
            [[routes.targets]]
            provider = "openai"
            model = "gpt-4o"
        "#,
        )
        .unwrap();
        let refused = Routes::plan(
            remote_only.get("gpt").unwrap(),
            DataClass::Restricted,
            local,
            |_| 0,
            1,
        )
        .unwrap_err();
        assert!(refused.to_string().contains("restricted"));
    }

    #[test]
    fn cost_strategy_puts_the_cheapest_first() {
        let routes =
            parse(&CHAT.replace("name = \"chat\"", "name = \"chat\"\nstrategy = \"cost\""))
                .unwrap();
        let chat = routes.get("chat").unwrap();
        let plan = Routes::plan(
            chat,
            DataClass::Public,
            local,
            |t| if local(t) { 5 } else { 50 },
            7,
        )
        .unwrap();
        assert_eq!(plan[0], Target::Local("SmolLM2@1.0".into()));
    }

    #[test]
    fn weights_share_requests_among_ties() {
        let routes = parse(
            r#"[[routes]]
            name = "chat"
            [[routes.targets]]
            provider = "openai"
            model = "a"
            tier = 0
            weight = 3
            [[routes.targets]]
            provider = "vllm"
            model = "b"
            tier = 0
            weight = 1
        "#,
        )
        .unwrap();
        let chat = routes.get("chat").unwrap();
        let first_a = (0..4000u64)
            .filter(|seed| {
                Routes::plan(chat, DataClass::Public, local, |_| 0, *seed).unwrap()[0].to_string()
                    == "openai/a"
            })
            .count();
        // 3:1 → 75 % ± a few points.
        assert!((2800..3200).contains(&first_a), "{first_a}");
    }

    #[test]
    fn config_mistakes_are_named() {
        let unknown = parse(&CHAT.replace("\"openai\"", "\"azure\"")).unwrap_err();
        assert!(unknown.to_string().contains("azure"));
        let neither = parse(
            r#"[[routes]]
            name = "x"
            [[routes.targets]]
            model = "m"
        "#,
        )
        .unwrap_err();
        assert!(neither.problem.contains("either"));
    }
}
