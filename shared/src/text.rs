//! Checks on people's text that both the server (which decides) and the client (which warns as
//! someone types) make the same way: characters that render as nothing, and direction controls
//! that reorder what is shown (`admin\u{202E}gnp.exe` displays as `adminexe.png`).

use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint};
use icu_properties::CodePointSetData;

/// Why a piece of text was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spoofing {
    /// Nothing visible: only spaces and characters that render as nothing.
    Invisible,
    /// A direction control character (U+202A…U+202E, U+2066…U+2069, U+200E, U+200F, U+061C).
    DirectionControl,
}

impl Spoofing {
    pub fn describe(self) -> &'static str {
        match self {
            Spoofing::Invisible => "has no visible characters",
            Spoofing::DirectionControl => {
                "contains a text-direction control character, which can disguise what is shown"
            }
        }
    }
}

/// Whether `c` renders as nothing (Unicode's Default_Ignorable_Code_Point: zero-width spaces
/// and joiners, soft hyphens, variation selectors, tags, direction marks).
pub fn is_invisible(c: char) -> bool {
    const SET: icu_properties::CodePointSetDataBorrowed<'static> =
        CodePointSetData::new::<DefaultIgnorableCodePoint>();
    SET.contains(c)
}

fn is_direction_control(c: char) -> bool {
    const SET: icu_properties::CodePointSetDataBorrowed<'static> =
        CodePointSetData::new::<BidiControl>();
    SET.contains(c)
}

/// Whether a text shows nothing at all (empty, spaces, invisible characters only).
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || is_invisible(c))
}

/// The check for a name (of a user, team, role, key or workspace): something visible, and no
/// direction controls. Names are shown beside one another, where a reordered name can pass for
/// another; a message may legitimately mix directions, a name need not steer them.
pub fn check_name(name: &str) -> Result<(), Spoofing> {
    if name.chars().any(is_direction_control) {
        return Err(Spoofing::DirectionControl);
    }
    if is_blank(name) {
        return Err(Spoofing::Invisible);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_spoof_are_refused_and_real_names_pass() {
        assert_eq!(
            check_name("admin\u{202E}gnp.exe"),
            Err(Spoofing::DirectionControl)
        );
        assert_eq!(check_name("\u{200B}"), Err(Spoofing::Invisible));
        assert_eq!(check_name(" \u{200D}\u{FEFF} "), Err(Spoofing::Invisible));
        for fine in ["Ada", "Ольга", "محمد", "李雷", "👩‍💻 Dev", "Zoë"] {
            assert_eq!(check_name(fine), Ok(()), "{fine}");
        }
        assert!(is_blank("\u{200B}\u{2060}"));
        assert!(!is_blank("ok\u{200B}"));
    }
}
