//! `kage://` links: the same requests as the command line, for a browser, a chat message or a stream deck.
//!
//! - `kage://open/<alias or username>`: bring that account forward, opening its window if needed;
//! - `kage://open/group/<group>`: bring every account of that launch group;
//! - `kage://overview`: the overview window.
//!
//! A name is one path segment, percent-encoded (`kage://open/Raid%20Lead`; a `/` in a name is `%2F`), so an
//! account called "group" is `kage://open/group` and never a group. Why a link can do no more than this: any web
//! page can send one (the system hands a clicked `kage://` link to Kage as its first argument), so a link only
//! names what the player already saved, carries no secret, and never signs in, forgets or changes anything.

use percent_encoding::percent_decode_str;

use super::{Request, Target, UsageError};

/// The scheme Kage answers, as registered with the system (`tauri.conf.json`, plugins.deep-link).
pub const SCHEME: &str = "kage";

/// Whether the first argument is a link rather than a command (`kage:` in any case, as URL schemes are).
pub fn is_link(arg: &str) -> bool {
    arg.split_once(':').is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case(SCHEME))
}

/// Reads a `kage://` link.
pub fn parse(link: &str) -> Result<Request, UsageError> {
    let unknown = || UsageError::new(format!("Kage does not know the link \"{}\"; {}", shown(link), FORMS));
    let url = url::Url::parse(link).map_err(|_| unknown())?;
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Err(unknown());
    }
    let mut segments: Vec<&str> = url.path_segments().map(Iterator::collect).unwrap_or_default();
    // One trailing slash is no part of the name (`kage://open/alt/` is alt); an empty segment elsewhere is.
    if segments.last() == Some(&"") {
        segments.pop();
    }
    let request = match (url.host_str(), segments.as_slice()) {
        (Some("overview"), []) => Request::Overview,
        (Some("open"), [name]) => Request::Open(Target::Account(decode(name)?)),
        (Some("open"), ["group", name]) => Request::Open(Target::Group(decode(name)?)),
        _ => return Err(unknown()),
    };
    Ok(request)
}

const FORMS: &str = "it opens kage://open/<alias or username>, kage://open/group/<group> or kage://overview.";

fn decode(segment: &str) -> Result<String, UsageError> {
    let name = percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| UsageError::new("a name in a kage:// link is UTF-8, percent-encoded."))?;
    if name.chars().any(char::is_control) {
        return Err(UsageError::new("a name is on one line, without control characters."));
    }
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(UsageError::new(format!("a kage:// link names an account or a group; {FORMS}")));
    }
    Ok(name)
}

/// The link as a sentence may quote it: not past 200 characters, and no control characters (a hostile page
/// may send anything).
fn shown(link: &str) -> String {
    let clean: String = link.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.chars().count() < link.chars().count() { format!("{clean}…") } else { clean }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(name: &str) -> Result<Request, UsageError> {
        Ok(Request::Open(Target::Account(name.to_owned())))
    }

    #[test]
    fn a_link_opens_an_account_a_group_or_the_overview_like_the_command_line() {
        assert_eq!(parse("kage://open/alt"), open("alt"));
        assert_eq!(parse("kage://open/Raid%20Lead"), open("Raid Lead"));
        assert_eq!(parse("kage://open/alt/"), open("alt"), "a trailing slash");
        assert_eq!(parse("KAGE://open/alt"), open("alt"), "schemes are case-blind");
        assert_eq!(parse("kage://open/%C3%9Cn%C3%AFcode%E5%90%8D"), open("Ünïcode名"));
        assert_eq!(parse("kage://open/a%2Fb"), open("a/b"), "a slash in a name is encoded");
        assert_eq!(parse("kage://open/group"), open("group"), "an account called group");
        assert_eq!(parse("kage://open/group/raid%20night"), Ok(Request::Open(Target::Group("raid night".into()))));
        assert_eq!(parse("kage://overview"), Ok(Request::Overview));
        assert!(is_link("kage://open/alt") && is_link("Kage:open") && !is_link("open") && !is_link("kagex://o"));
    }

    #[test]
    fn a_link_that_asks_for_anything_else_is_refused_with_a_sentence() {
        for link in [
            "kage://forget/alt",
            "kage://open",
            "kage://open/",
            "kage://open/a/b",
            "kage://open/group//",
            "kage://user:pw@open/alt",
            "kage://open:99/alt",
            "kage://open/%FF",
            "kage://open/line%0Abreak",
            "kage:",
        ] {
            let error = parse(link).expect_err(link).to_string();
            assert!(error.starts_with("kage: "), "{link}: {error}");
        }
        let long = format!("kage://{}\u{7}", "x".repeat(500));
        let error = parse(&long).unwrap_err().to_string();
        assert!(error.contains('…') && !error.contains('\u{7}') && error.len() < 400, "{error}");
    }
}
