//! Where the inventory lives when no directory is given.

use std::path::PathBuf;

/// The data directory when none is given: `$XDG_DATA_HOME/modelgate`, else
/// `~/.local/share/modelgate`.
pub fn default_home() -> Option<PathBuf> {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
    {
        return Some(data.join("modelgate"));
    }
    std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(|home| PathBuf::from(home).join(".local/share/modelgate"))
}
