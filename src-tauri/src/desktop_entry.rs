//! "Create shortcut": a freedesktop `.desktop` file in the player's applications directory that runs
//! `kage open <name>` (or `kage open --group <name>`), so an account or a group sits in the desktop's menu,
//! launcher or dock like any program.
//!
//! What a shortcut carries: the path of this Kage and a name, nothing else. Never a secret, a user id or an
//! account id; the name is the account's alias, else the name the panel shows (in streamer mode that is
//! `Account N`, never the username). The file is text any program may read, and a stream may show it.
//!
//! The Exec line is quoted as the Desktop Entry Specification says ("The Exec key"): an argument holding a
//! reserved character is put in double quotes with `"`, `` ` ``, `$` and `\` escaped by a backslash, `%` is
//! doubled (field codes), and then the value as a whole gets the general string escapes (so a backslash in a
//! quoted argument is written four times). Other keys get the general escapes only.

use std::path::{Path, PathBuf};

/// One shortcut, ready to be written: its file name and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortcut {
    /// `kage-open-<name>.desktop`, from the same name the shortcut opens (so no more than it shows).
    pub file_name: String,
    /// What the desktop's menu calls it.
    pub menu_name: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ShortcutError {
    #[error("Kage cannot make a shortcut to itself from where it runs ({0}).")]
    NoPath(String),
    #[error("Kage cannot tell where your desktop keeps its programs' shortcuts.")]
    NoDirectory,
    #[error("The shortcut could not be written: {0}.")]
    Write(#[from] std::io::Error),
}

/// What a shortcut opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opens<'a> {
    Account(&'a str),
    Group(&'a str),
}

impl Shortcut {
    /// The shortcut that runs `exe` (this Kage) to open `opens`.
    pub fn new(exe: &Path, opens: Opens<'_>) -> Result<Self, ShortcutError> {
        let exe = exe.to_str().ok_or_else(|| ShortcutError::NoPath(exe.to_string_lossy().into_owned()))?;
        let (name, mut args, comment, kind) = match opens {
            Opens::Account(name) => (name, vec![exe, "open"], format!("Opens {name} in Kage"), "open"),
            Opens::Group(name) => {
                (name, vec![exe, "open", "--group"], format!("Opens the group {name} in Kage"), "group")
            }
        };
        // A name that starts like an option is still a name after `--` (see `cli::parse`).
        if name.starts_with('-') {
            args.push("--");
        }
        args.push(name);
        let menu_name = format!("{name} · Kage");
        let text = format!(
            "[Desktop Entry]\nType=Application\nVersion=1.5\nName={}\nComment={}\nExec={}\nIcon=kage\nTerminal=false\n\
             Categories=Game;\nStartupNotify=false\n",
            escape_value(&menu_name),
            escape_value(&comment),
            escape_value(&exec_line(&args)),
        );
        Ok(Self { file_name: format!("kage-{kind}-{}.desktop", slug(name)), menu_name, text })
    }

    /// Writes the shortcut into `dir` (created if need be), replacing one of the same name; returns its path.
    pub fn write_into(&self, dir: &Path) -> Result<PathBuf, ShortcutError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(&self.file_name);
        crate::durable::write_atomic(&path, self.text.as_bytes())?;
        Ok(path)
    }
}

/// Where the player's own shortcuts go: `$XDG_DATA_HOME/applications`, by default `~/.local/share/applications`.
pub fn applications_dir() -> Result<PathBuf, ShortcutError> {
    dirs::data_dir().map(|dir| dir.join("applications")).ok_or(ShortcutError::NoDirectory)
}

/// The program to put in a shortcut: this Kage, or the AppImage it runs from (whose inside moves on every run).
pub fn this_program() -> Result<PathBuf, ShortcutError> {
    if let Some(image) = std::env::var_os("APPIMAGE").filter(|path| Path::new(path).is_absolute()) {
        return Ok(PathBuf::from(image));
    }
    std::env::current_exe().map_err(|error| ShortcutError::NoPath(error.to_string()))
}

/// Characters that oblige an Exec argument to be quoted (the specification's list).
const RESERVED: &[char] =
    &[' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];

/// The Exec value before the general string escapes: each argument quoted if it must be, `%` doubled.
fn exec_line(args: &[&str]) -> String {
    args.iter()
        .map(|arg| {
            let quoted = if arg.is_empty() || arg.contains(RESERVED) {
                let mut out = String::from("\"");
                for c in arg.chars() {
                    if matches!(c, '"' | '`' | '$' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
                out
            } else {
                (*arg).to_owned()
            };
            quoted.replace('%', "%%")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The general escapes of a string value: backslash, and the characters that would end or break the line.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A file name part from a name: ASCII letters and digits kept (lower case), runs of anything else one `-`. A
/// name with none of those (all CJK, say) gets a short digest instead, so two such names do not share a file.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        let digest =
            name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        return format!("{:08x}", digest as u32);
    }
    out
}

/// Reads an Exec value back into its arguments (the inverse of [`escape_value`] then [`exec_line`]), as a
/// desktop would before running it: the tests' check that what is written means what was meant.
#[cfg(test)]
fn exec_arguments(text: &str) -> Option<Vec<String>> {
    let line = text.lines().find_map(|line| line.strip_prefix("Exec="))?;
    // The general string escapes first.
    let mut value = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next()? {
            's' => value.push(' '),
            'n' => value.push('\n'),
            't' => value.push('\t'),
            'r' => value.push('\r'),
            '\\' => value.push('\\'),
            other => {
                value.push('\\');
                value.push(other);
            }
        }
    }
    // Then the quoting, and the field codes (`%%` is a literal `%`; Kage's shortcuts have no other).
    let mut args = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut arg = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => arg.push(chars.next()?),
                    c => arg.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek().filter(|c| **c != ' ') {
                arg.push(c);
                chars.next();
            }
        }
        args.push(arg.replace("%%", "%"));
    }
    Some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, key: &str) -> &'a str {
        text.lines().find_map(|l| l.strip_prefix(&format!("{key}="))).unwrap_or_else(|| panic!("no {key} in {text}"))
    }

    #[test]
    fn an_account_shortcut_runs_this_kage_open_with_the_name_and_nothing_else() {
        let shortcut = Shortcut::new(Path::new("/usr/bin/kage"), Opens::Account("Scout")).unwrap();
        assert_eq!(
            shortcut.text,
            "[Desktop Entry]\nType=Application\nVersion=1.5\nName=Scout · Kage\nComment=Opens Scout in Kage\n\
             Exec=/usr/bin/kage open Scout\nIcon=kage\nTerminal=false\nCategories=Game;\nStartupNotify=false\n"
        );
        assert_eq!(shortcut.file_name, "kage-open-scout.desktop");
        let group = Shortcut::new(Path::new("/usr/bin/kage"), Opens::Group("Raid night")).unwrap();
        assert_eq!(line(&group.text, "Exec"), "/usr/bin/kage open --group \"Raid night\"");
        assert_eq!(group.file_name, "kage-group-raid-night.desktop");
    }

    #[test]
    fn reserved_characters_are_quoted_and_escaped_as_the_specification_says() {
        let exe = Path::new("/home/p/My Games/kage");
        let cases = [
            ("plain", "\"/home/p/My Games/kage\" open plain"),
            ("Raid Lead", "\"/home/p/My Games/kage\" open \"Raid Lead\""),
            ("say \"hi\"", "\"/home/p/My Games/kage\" open \"say \\\\\"hi\\\\\"\""),
            ("$HOME", "\"/home/p/My Games/kage\" open \"\\\\$HOME\""),
            ("back\\slash", "\"/home/p/My Games/kage\" open \"back\\\\\\\\slash\""),
            ("tick`", "\"/home/p/My Games/kage\" open \"tick\\\\`\""),
            ("100%", "\"/home/p/My Games/kage\" open 100%%"),
            ("50% off", "\"/home/p/My Games/kage\" open \"50%% off\""),
            ("a;b|c&d", "\"/home/p/My Games/kage\" open \"a;b|c&d\""),
            ("~me", "\"/home/p/My Games/kage\" open \"~me\""),
            ("-dash", "\"/home/p/My Games/kage\" open -- -dash"),
        ];
        for (name, exec) in cases {
            let shortcut = Shortcut::new(exe, Opens::Account(name)).unwrap();
            assert_eq!(line(&shortcut.text, "Exec"), exec, "{name}");
            // Read back as a desktop reads it: the same arguments as typed.
            let mut expected = vec!["/home/p/My Games/kage", "open"];
            if name.starts_with('-') {
                expected.push("--");
            }
            expected.push(name);
            assert_eq!(exec_arguments(&shortcut.text).unwrap(), expected, "{name}");
        }
    }

    #[test]
    fn every_line_is_one_key_and_names_stay_on_their_line() {
        let shortcut = Shortcut::new(Path::new("/opt/kage"), Opens::Account("two\\words\ttab")).unwrap();
        assert_eq!(line(&shortcut.text, "Name"), "two\\\\words\\ttab · Kage");
        assert!(shortcut.text.lines().skip(1).all(|l| l.split_once('=').is_some_and(|(k, _)| !k.is_empty())));
        assert_eq!(exec_arguments(&shortcut.text).unwrap(), ["/opt/kage", "open", "two\\words\ttab"]);
    }

    #[test]
    fn file_names_are_safe_and_distinct_for_names_without_latin_letters() {
        assert_eq!(slug("Main (naruto)"), "main-naruto");
        assert_eq!(slug("../../etc/passwd"), "etc-passwd");
        let (a, b) = (slug("影"), slug("光"));
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()) && a.len() == 8, "{a}");
    }

    #[test]
    fn a_shortcut_is_written_whole_into_the_applications_directory_and_replaced_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let apps = dir.path().join("applications");
        let first = Shortcut::new(Path::new("/usr/bin/kage"), Opens::Account("alt")).unwrap();
        let path = first.write_into(&apps).unwrap();
        assert_eq!(path, apps.join("kage-open-alt.desktop"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first.text);
        let moved = Shortcut::new(Path::new("/opt/kage"), Opens::Account("alt")).unwrap();
        assert_eq!(moved.write_into(&apps).unwrap(), path);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), moved.text);
        assert_eq!(std::fs::read_dir(&apps).unwrap().count(), 1);
    }
}
