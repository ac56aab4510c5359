//! The note a step carries when its selector matches users an earlier step already claimed.
//!
//! At a large tenant two attribute batches can overlap by tens of thousands of users. The note
//! keeps who they are as positions in the earlier step's own member list (shared, not copied),
//! and each rendering writes the names it shows straight into its output: text folds the list,
//! JSON and Markdown write every name. No rendering builds the whole sentence first unless it
//! shows it whole.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::plan::grammar::Email;

#[derive(Debug, Clone)]
pub(crate) struct OverlapNote {
    /// The earlier step that claimed the users.
    owner: String,
    /// That step's members, shared with its resolution.
    members: Arc<[Email]>,
    /// The users: `members[i]` for each `i`, in email order (shared: a note is kept from one
    /// decision to the next, see `Memo`).
    at: Arc<[u32]>,
}

impl OverlapNote {
    /// `at` indexes `members` in email order; an index beyond it (which the planner never
    /// builds) names nobody.
    pub(crate) fn new(owner: String, members: Arc<[Email]>, mut at: Vec<u32>) -> Self {
        at.retain(|&i| (i as usize) < members.len());
        Self {
            owner,
            members,
            at: at.into(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.at.len()
    }

    /// The sentence before the names. Notes are put in the order of their full sentences, and
    /// this head alone decides it: a step name has no backtick, so no two heads are equal or one
    /// the start of another.
    pub(crate) fn head(&self) -> String {
        let who = if self.len() == 1 {
            "1 user it matches is".to_owned()
        } else {
            format!("{} users it matches are", self.len())
        };
        format!(
            "{who} in `{}`, an earlier step: a user belongs to the first step in file order: ",
            self.owner
        )
    }

    /// The users, in email order.
    pub(crate) fn emails(&self) -> impl Iterator<Item = &Email> {
        self.at.iter().filter_map(|&i| self.members.get(i as usize))
    }

    /// The sentence with at most `shown` names, then how many more there are; every name when
    /// `shown` is `None` or hides none of them.
    pub(crate) fn folded(&self, shown: Option<usize>) -> Folded<'_> {
        Folded { note: self, shown }
    }
}

pub(crate) struct Folded<'a> {
    note: &'a OverlapNote,
    shown: Option<usize>,
}

impl Folded<'_> {
    /// Generic over where it goes, so that the whole sentence JSON carries is pushed straight
    /// into its buffer, not through a formatter per name.
    fn write_to(&self, out: &mut (impl fmt::Write + ?Sized)) -> fmt::Result {
        let note = self.note;
        out.write_str(&note.head())?;
        let shown = self.shown.unwrap_or(usize::MAX);
        for (n, email) in note.emails().take(shown).enumerate() {
            if n > 0 {
                out.write_str(", ")?;
            }
            out.write_str(email.as_str())?;
        }
        let more = note.len().saturating_sub(shown);
        if more > 0 {
            write!(out, ", and {more} more (--full lists them all)")?;
        }
        Ok(())
    }
}

impl fmt::Display for Folded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_to(f)
    }
}

impl fmt::Display for OverlapNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.folded(None).fmt(f)
    }
}

/// The whole sentence, as the JSON has always carried it: tools read every name there. Written
/// whole and then escaped in one pass: escaping it piece by piece, as the names are written,
/// cost several times as much per byte.
impl Serialize for OverlapNote {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names: usize = self.emails().map(|e| e.as_str().len() + 2).sum();
        let mut sentence = String::with_capacity(names + 256);
        // Writing into a `String` cannot fail.
        let _ = self.folded(None).write_to(&mut sentence);
        serializer.serialize_str(&sentence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Arc<[Email]> {
        (0..n)
            .map(|i| {
                Email::parse(&format!("u{i:03}@x.io")).unwrap_or_else(|e| panic!("{}", e.message))
            })
            .collect()
    }

    #[test]
    fn text_folds_the_names_and_the_whole_sentence_names_all() {
        let note = OverlapNote::new("pilot".to_owned(), members(10), vec![1, 3, 4]);
        let whole = "3 users it matches are in `pilot`, an earlier step: a user belongs to the \
            first step in file order: u001@x.io, u003@x.io, u004@x.io";
        for (shown, expected) in [
            (None, whole.to_owned()),
            (Some(3), whole.to_owned()),
            (Some(5), whole.to_owned()),
            (
                Some(2),
                whole.replace(", u004@x.io", ", and 1 more (--full lists them all)"),
            ),
        ] {
            assert_eq!(note.folded(shown).to_string(), expected, "{shown:?}");
        }
        assert_eq!(note.to_string(), whole);
        assert_eq!(
            serde_json::to_value(&note).ok(),
            Some(serde_json::Value::String(whole.to_owned()))
        );
    }

    #[test]
    fn one_user_is_named_in_the_singular() {
        let note = OverlapNote::new("east".to_owned(), members(3), vec![2, 7]);
        assert_eq!(
            note.to_string(),
            "1 user it matches is in `east`, an earlier step: a user belongs to the first step \
                in file order: u002@x.io"
        );
    }
}
