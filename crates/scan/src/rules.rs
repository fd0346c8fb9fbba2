//! The pickle import lists: data files compiled into the binary.
//!
//! `rules/pickle_safe.toml` lists imports ordinary checkpoints make and that
//! cannot run code by themselves; `rules/pickle_dangerous.toml` lists
//! imports that run code, touch files or the network, or load further
//! pickles. An import in neither list is unknown.

use std::sync::OnceLock;

use serde::Deserialize;

/// What the lists say about one import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Listed safe; the reason from the list.
    Safe(&'a str),
    /// Listed dangerous; the reason from the list.
    Dangerous(&'a str),
    /// In neither list.
    Unknown,
}

#[derive(Debug, Deserialize)]
struct RuleFile {
    module: Vec<Entry>,
}

/// One `[[module]]` entry of a rules file.
#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The module, dotted (`torch._utils`).
    pub name: String,
    /// Names in the module; `*` is every name (and, for dangerous lists,
    /// every submodule).
    pub names: Vec<String>,
    /// Why it is listed.
    pub why: String,
    /// Safe-list entries only: the callable instantiates classes handed to
    /// it as arguments, so those count as invoked.
    #[serde(default)]
    pub constructs: bool,
}

/// Both lists, parsed.
#[derive(Debug)]
pub struct ImportRules {
    /// Known-safe imports, matched exactly.
    pub safe: Vec<Entry>,
    /// Known-dangerous imports, matched by module and name prefix.
    pub dangerous: Vec<Entry>,
}

const SAFE: &str = include_str!("../rules/pickle_safe.toml");
const DANGEROUS: &str = include_str!("../rules/pickle_dangerous.toml");

/// The lists compiled into this build.
pub fn pickle_rules() -> &'static ImportRules {
    static RULES: OnceLock<ImportRules> = OnceLock::new();
    RULES.get_or_init(|| {
        // The files are part of the source tree and checked by tests; a
        // parse failure is a build defect, reported as an empty list would
        // be unsafe, so both lists fall back to treating everything unknown.
        let parse = |text: &str| -> Vec<Entry> {
            toml::from_str::<RuleFile>(text)
                .map(|f| f.module)
                .unwrap_or_default()
        };
        ImportRules {
            safe: parse(SAFE),
            dangerous: parse(DANGEROUS),
        }
    })
}

impl ImportRules {
    /// Judge `module`.`name` (either may be dotted).
    ///
    /// The safe list matches only exactly: `numpy.core.multiarray` /
    /// `_reconstruct` is safe, `numpy.core.multiarray` /
    /// `_reconstruct.__globals__` is not. The dangerous list matches the
    /// module or any submodule, and a listed name or any attribute path
    /// below it.
    pub fn classify(&self, module: &str, name: &str) -> Verdict<'_> {
        for entry in &self.safe {
            if entry.name == module && entry.names.iter().any(|n| n == name) {
                return Verdict::Safe(&entry.why);
            }
        }
        let full = format!("{module}.{name}");
        for entry in &self.dangerous {
            let Some(rest) = full
                .strip_prefix(entry.name.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
            else {
                continue;
            };
            let hit = entry.names.iter().any(|listed| {
                listed == "*"
                    || rest == listed
                    || rest
                        .strip_prefix(listed.as_str())
                        .is_some_and(|below| below.starts_with('.'))
            });
            if hit {
                return Verdict::Dangerous(&entry.why);
            }
        }
        Verdict::Unknown
    }
}

const STDLIB: &str = include_str!("../rules/stdlib_modules.txt");

/// Top-level standard-library module names (`rules/stdlib_modules.txt`,
/// written from `sys.stdlib_module_names` plus Python 2's names).
fn stdlib_modules() -> &'static std::collections::HashSet<&'static str> {
    static MODULES: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    MODULES.get_or_init(|| {
        STDLIB
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect()
    })
}

/// Whether `module` belongs to the standard library.
pub fn is_stdlib(module: &str) -> bool {
    let top = module.split('.').next().unwrap_or(module);
    stdlib_modules().contains(top)
}

/// Whether `module`.`name` is a private name of the standard library: a
/// standard-library module, with a leading underscore on the name or on a
/// module below the top level (`uuid._get_command_stdout`,
/// `multiprocessing.util._run_finalizers`). Private top-level modules
/// (`_io`, `_posixsubprocess`) count too.
pub fn is_private_stdlib(module: &str, name: &str) -> bool {
    is_stdlib(module)
        && module
            .split('.')
            .chain(name.split('.'))
            .any(|part| part.starts_with('_') && part != "__builtin__" && part != "__main__")
}

/// Whether calling `module`.`name` instantiates classes handed to it
/// (`copyreg._reconstructor(cls, …)`): safe-list entries marked
/// `constructs = true`. The classes it is handed are invoked too.
pub fn constructs_arguments(module: &str, name: &str) -> bool {
    pickle_rules()
        .safe
        .iter()
        .any(|e| e.constructs && e.name == module && e.names.iter().any(|n| n == name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rule_files_parse_and_every_entry_has_a_reason() {
        let rules = pickle_rules();
        assert!(toml::from_str::<RuleFile>(SAFE).is_ok());
        assert!(toml::from_str::<RuleFile>(DANGEROUS).is_ok());
        assert!(rules.safe.len() > 30 && rules.dangerous.len() > 80);
        for entry in rules.safe.iter().chain(&rules.dangerous) {
            assert!(
                !entry.names.is_empty() && !entry.why.is_empty(),
                "{}",
                entry.name
            );
        }
    }

    #[test]
    fn private_standard_library_names() {
        assert!(is_private_stdlib("uuid", "_get_command_stdout"));
        assert!(is_private_stdlib("_posixsubprocess", "fork_exec"));
        assert!(is_private_stdlib("multiprocessing.util", "_run_finalizers"));
        assert!(is_private_stdlib("logging.handlers", "_StderrHandler"));
        assert!(!is_private_stdlib(
            "logging.handlers",
            "RotatingFileHandler"
        ));
        assert!(!is_private_stdlib("torch._utils", "_rebuild_tensor_v2"));
        assert!(!is_private_stdlib("numpy.core.multiarray", "_reconstruct"));
        assert!(is_stdlib("os.path") && is_stdlib("__builtin__") && !is_stdlib("osmosis"));
    }

    #[test]
    fn matching() {
        let rules = pickle_rules();
        assert!(matches!(
            rules.classify("torch._utils", "_rebuild_tensor_v2"),
            Verdict::Safe(_)
        ));
        assert!(matches!(
            rules.classify("os", "system"),
            Verdict::Dangerous(_)
        ));
        assert!(matches!(
            rules.classify("os.path", "join"),
            Verdict::Dangerous(_)
        ));
        assert!(matches!(
            rules.classify("torch", "hub.load"),
            Verdict::Dangerous(_)
        ));
        assert!(matches!(
            rules.classify("builtins", "getattr"),
            Verdict::Dangerous(_)
        ));
        assert!(matches!(
            rules.classify("builtins", "dict"),
            Verdict::Safe(_)
        ));
        assert_eq!(
            rules.classify("builtins", "dict.__init__"),
            Verdict::Unknown
        );
        assert_eq!(rules.classify("osmosis", "x"), Verdict::Unknown);
        assert_eq!(
            rules.classify("my_package.layers", "Dense"),
            Verdict::Unknown
        );
        assert!(matches!(
            rules.classify("numpy", "load"),
            Verdict::Dangerous(_)
        ));
        assert!(matches!(
            rules.classify("numpy.core.multiarray", "_reconstruct"),
            Verdict::Safe(_)
        ));
    }
}
