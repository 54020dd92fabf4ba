//! Kage from a shell: `kage open <alias or username>`, `kage open --group <name>`, `kage list`, `kage overview`,
//! and the same requests as `kage://` links ([`link`]).
//!
//! Why the checks happen in the second process, before Tauri starts: a running Kage hears a second start through
//! tauri-plugin-single-instance, which hands over the arguments and ends the second process with status 0, with
//! no way to send an answer back. So the second process reads the saved accounts itself (read-only, see
//! [`start`]), says which name it does not know and exits 1, prints the list for `kage list`, and only hands over
//! (or starts Kage) for a name it found. The running instance resolves the name again against its own roster
//! ([`arrived`]), since only it may open windows.
//!
//! Nothing here reads the keychain or prints a secret; in streamer mode nothing prints a username.

pub mod arrived;
pub mod link;
pub mod names;
pub mod start;

/// What a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// No arguments: start Kage, or bring back the running one's windows.
    Start,
    /// Bring a saved account (or every account of a launch group) forward, opening windows as needed.
    Open(Target),
    /// Print the saved accounts' names, as `kage open` takes them.
    List,
    /// The overview window.
    Overview,
    /// Print the usage.
    Help,
}

/// What a start asks to bring forward: what `kage open` names, or the overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An alias, a username, or the name Kage shows (`Account 2` in streamer mode).
    Account(String),
    /// A launch group's name.
    Group(String),
    /// The overview window (`kage overview`), which names no account.
    Overview,
}

pub const USAGE: &str =
    "Usage: kage [open <alias or username> | open --group <group> | list | overview | help | kage://open/<name>]";

/// A command line Kage cannot read: what is wrong, as a sentence (exit status 2, with [`USAGE`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("kage: {0}")]
pub struct UsageError(String);

impl UsageError {
    fn new(sentence: impl Into<String>) -> Self {
        Self(sentence.into())
    }
}

/// Reads the arguments after the program's name. The shell has already split and unquoted them: a name of
/// several words arrives as one argument when quoted (`kage open "Raid Lead"`), or as several when not, and both
/// mean the same name (the words joined by one space). After `--`, every word is a name, even one that starts
/// with `-`.
pub fn parse<I, S>(args: I) -> Result<Request, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut args = args.into_iter().map(Into::into);
    let Some(command) = args.next() else { return Ok(Request::Start) };
    let rest: Vec<String> = args.collect();
    // A clicked `kage://` link arrives alone, as the first argument (the `.desktop` file's `%u`).
    if link::is_link(&command) {
        return match rest.first() {
            None => link::parse(&command),
            Some(extra) => {
                Err(UsageError::new(format!("a kage:// link comes alone (it was followed by \"{extra}\").")))
            }
        };
    }
    match command.as_str() {
        "open" => parse_open(rest).map(Request::Open),
        "list" => nothing_after(Request::List, "list", &rest),
        "overview" => nothing_after(Request::Overview, "overview", &rest),
        "help" | "--help" | "-h" => Ok(Request::Help),
        flag if flag.starts_with('-') => Err(UsageError::new(format!("unknown option \"{flag}\"."))),
        other => Err(UsageError::new(format!("unknown command \"{other}\"."))),
    }
}

fn nothing_after(request: Request, name: &str, rest: &[String]) -> Result<Request, UsageError> {
    match rest.first() {
        None => Ok(request),
        Some(extra) => {
            Err(UsageError::new(format!("\"kage {name}\" takes nothing after it (it was given \"{extra}\").")))
        }
    }
}

fn parse_open(args: Vec<String>) -> Result<Target, UsageError> {
    let mut group = false;
    let mut words: Vec<String> = Vec::new();
    let mut literal = false;
    for arg in args {
        if literal {
            words.push(arg);
            continue;
        }
        match arg.as_str() {
            "--" => literal = true,
            "--group" | "-g" if !group && words.is_empty() => group = true,
            _ if arg.starts_with("--group=") && !group && words.is_empty() => {
                group = true;
                words.push(arg["--group=".len()..].to_owned());
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(UsageError::new(format!("unknown option \"{flag}\" for \"kage open\".")));
            }
            _ => words.push(arg),
        }
    }
    let name = words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        let what = if group {
            "a launch group to open: kage open --group <group>"
        } else {
            "an account to open: kage open <alias or username>"
        };
        return Err(UsageError::new(format!("name {what}.")));
    }
    if name.chars().any(char::is_control) {
        return Err(UsageError::new("a name is on one line, without control characters."));
    }
    Ok(if group { Target::Group(name) } else { Target::Account(name) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(name: &str) -> Result<Request, UsageError> {
        Ok(Request::Open(Target::Account(name.to_owned())))
    }

    fn group(name: &str) -> Result<Request, UsageError> {
        Ok(Request::Open(Target::Group(name.to_owned())))
    }

    #[test]
    fn no_arguments_start_kage_as_before() {
        assert_eq!(parse(Vec::<String>::new()), Ok(Request::Start));
    }

    #[test]
    fn open_takes_a_name_quoted_or_in_words_and_a_group_by_flag() {
        assert_eq!(parse(["open", "alt"]), open("alt"));
        assert_eq!(parse(["open", "Raid Lead"]), open("Raid Lead"), "one quoted argument");
        assert_eq!(parse(["open", "Raid", "Lead"]), open("Raid Lead"), "the same name unquoted");
        assert_eq!(parse(["open", "  Account  ", "2 "]), open("Account 2"), "spaces around words do not count");
        assert_eq!(parse(["open", "--group", "raid"]), group("raid"));
        assert_eq!(parse(["open", "-g", "raid", "night"]), group("raid night"));
        assert_eq!(parse(["open", "--group=raid night"]), group("raid night"));
        assert_eq!(parse(["open", "--", "-dash-"]), open("-dash-"), "after --, a name may start with -");
        assert_eq!(parse(["open", "--group", "--", "--raid"]), group("--raid"));
        assert_eq!(parse(["open", "-"]), open("-"), "a lone dash is a name");
        assert_eq!(parse(["open", "Ünïcode名"]), open("Ünïcode名"));
    }

    #[test]
    fn list_overview_and_help_are_read_and_take_no_arguments() {
        assert_eq!(parse(["list"]), Ok(Request::List));
        assert_eq!(parse(["overview"]), Ok(Request::Overview));
        for help in ["help", "--help", "-h"] {
            assert_eq!(parse([help]), Ok(Request::Help));
        }
        let extra = parse(["list", "alt"]).unwrap_err();
        assert!(extra.to_string().contains("\"kage list\" takes nothing after it"), "{extra}");
    }

    #[test]
    fn a_kage_link_is_read_as_the_command_it_names_and_comes_alone() {
        assert_eq!(parse(["kage://open/alt"]), open("alt"));
        assert_eq!(parse(["kage://open/group/raid"]), group("raid"));
        assert_eq!(parse(["kage://overview"]), Ok(Request::Overview));
        let extra = parse(["kage://open/alt", "--group"]).unwrap_err().to_string();
        assert!(extra.contains("a kage:// link comes alone"), "{extra}");
    }

    #[test]
    fn unknown_commands_flags_and_missing_names_are_usage_errors_with_a_sentence() {
        let cases: [(&[&str], &str); 8] = [
            (&["--frobnicate"], "unknown option \"--frobnicate\"."),
            (&["launch", "alt"], "unknown command \"launch\"."),
            (&["open"], "name an account to open: kage open <alias or username>."),
            (&["open", "  "], "name an account to open"),
            (&["open", "--group"], "name a launch group to open"),
            (&["open", "--all", "alt"], "unknown option \"--all\" for \"kage open\"."),
            (&["open", "alt", "--group", "raid"], "unknown option \"--group\""),
            (&["open", "line\nbreak"], "on one line"),
        ];
        for (args, sentence) in cases {
            let error = parse(args.iter().copied()).unwrap_err();
            let text = error.to_string();
            assert!(text.starts_with("kage: ") && text.contains(sentence), "{args:?}: {text}");
        }
    }
}
