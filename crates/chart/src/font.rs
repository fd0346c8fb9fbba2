//! The embedded font, registered once with plotters.

use std::sync::OnceLock;

use plotters::style::{FontStyle, register_font};

use crate::Error;

/// DejaVu Sans 2.37 (Bitstream Vera and Arev licenses, see
/// `assets/DejaVuSans-LICENSE.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family name charts ask for; plotters looks fonts up by it.
pub(crate) const FAMILY: &str = "sans-serif";

/// Registers the embedded font as `sans-serif` (all styles fall back to
/// it), once per process.
pub(crate) fn ensure_registered() -> Result<(), Error> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let registered =
        *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if registered { Ok(()) } else { Err(Error::Font) }
}
