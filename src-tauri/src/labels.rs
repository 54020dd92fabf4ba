//! What a window's label says about it, without anything else of the shell: a leaf that `windows` (which makes
//! account windows) and the modules that only need to tell them apart (hibernation) both read.

/// The prefix of every Kage-protocol account window's label (`acct-1`, `acct-2`, ...).
pub const LABEL_PREFIX: &str = "acct-";
