//! Which layout template each launch group opens in (see `templates.rs`), kept with the window layout
//! (`windows.json`): it says where windows go, like the rest of that file, and nothing about an account.

use crate::templates::Template;

use super::{Roster, RosterError};

impl Roster {
    /// The template `group` opens in ([`Template::Remembered`] unless the player chose one).
    pub fn group_template(&self, group: &str) -> Template {
        self.files().layout.doc.group_templates.get(group).copied().unwrap_or_default()
    }

    /// Every group's chosen template, by group name.
    pub fn group_templates(&self) -> Vec<(String, Template)> {
        self.files().layout.doc.group_templates.iter().map(|(group, template)| (group.clone(), *template)).collect()
    }

    pub fn set_group_template(&self, group: &str, template: Template) -> Result<(), RosterError> {
        self.files().layout.change(|doc| {
            if template == Template::Remembered {
                doc.group_templates.remove(group);
            } else {
                doc.group_templates.insert(group.to_owned(), template);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_template_is_kept_across_restarts_and_remembered_places_are_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Roster::open(dir.path());
        assert_eq!(roster.group_template("raid"), Template::Remembered);
        roster.set_group_template("raid", Template::MainAndStack).unwrap();
        roster.set_group_template("farm", Template::OnePerMonitor).unwrap();
        let reopened = Roster::open(dir.path());
        assert_eq!(reopened.group_template("raid"), Template::MainAndStack);
        assert_eq!(reopened.group_templates().len(), 2);
        reopened.set_group_template("farm", Template::Remembered).unwrap();
        assert_eq!(Roster::open(dir.path()).group_templates(), vec![("raid".to_owned(), Template::MainAndStack)]);
    }
}
