//! Finding contacts by any word of their name: the terms a name is indexed under and the rule
//! that reads one search out of that index on both backends.
//!
//! Owns: the index terms of a name and which index row stands for a contact in a search. Must
//! not: read or write a store (the backends walk their own index in term order and ask
//! [`NameQuery::keeps`] about each row).
//!
//! A name is indexed under its whole folded text ("ivan ivanov", so a search may run past the
//! first word: "ivan iv") and under each later word ("ivanov"). A query is split into words;
//! the longest one walks the index as a prefix, and a row is kept when every word of the query
//! begins a different word of the name, and the row's term is the smallest of the contact's
//! terms the walking prefix begins: a contact two of whose terms the prefix begins ("ivan
//! ivanov" and "ivanov" for `ivan`) is listed once, always under the same term, so a cursor of
//! (term, id) pages through the walk without repeating or skipping anyone.

use super::contact::fold;

/// The most words of a name that are indexed (a pasted paragraph is not a name).
pub const MAX_INDEXED_WORDS: usize = 8;

/// The words of folded text: its runs of letters and digits ("anna-maria o'neil" reads `anna`,
/// `maria`, `o`, `neil`).
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// The index terms of a name already [`fold`]ed: the whole name, then each later word once
/// (the first word is the start of the whole name already). Empty for an empty name.
pub fn name_terms(folded: &str) -> Vec<String> {
    if folded.is_empty() {
        return Vec::new();
    }
    let mut terms = vec![folded.to_owned()];
    for w in words(folded).skip(1).take(MAX_INDEXED_WORDS - 1) {
        if !terms.iter().any(|t| t == w) {
            terms.push(w.to_owned());
        }
    }
    terms
}

/// A name search: what the user typed, folded and split into words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameQuery {
    /// The query's words, longest first.
    words: Vec<String>,
}

impl NameQuery {
    /// `None` when the text holds no letter or digit.
    pub fn new(text: &str) -> Option<Self> {
        let folded = fold(text);
        let mut words: Vec<String> = words(&folded).map(str::to_owned).collect();
        if words.is_empty() {
            return None;
        }
        // Longest first (the most selective walks the index); ties in text order.
        words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
        Some(Self { words })
    }

    /// The prefix the index is walked by.
    pub fn walk(&self) -> &str {
        &self.words[0]
    }

    /// Whether the index row `term` of a contact whose folded name is `name` is the row that
    /// lists it for this query.
    pub fn keeps(&self, term: &str, name: &str) -> bool {
        let walk = self.walk();
        let listed_under = name_terms(name)
            .into_iter()
            .filter(|t| t.starts_with(walk))
            .min();
        listed_under.as_deref() == Some(term) && self.matches(name)
    }

    /// Whether every word of the query begins a different word of the folded `name` (longest
    /// query words take their name word first).
    pub fn matches(&self, name: &str) -> bool {
        let mut free: Vec<&str> = words(name).collect();
        self.words.iter().all(
            |q| match free.iter().position(|w| w.starts_with(q.as_str())) {
                Some(i) => {
                    free.swap_remove(i);
                    true
                }
                None => false,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_indexed_whole_and_by_each_later_word() {
        assert_eq!(name_terms("ivan ivanov"), ["ivan ivanov", "ivanov"]);
        assert_eq!(
            name_terms("anna-maria smith"),
            ["anna-maria smith", "maria", "smith"]
        );
        assert_eq!(name_terms("anna anna"), ["anna anna", "anna"]);
        assert_eq!(name_terms("антон"), ["антон"]);
        assert!(name_terms("").is_empty());
        let long = "a b c d e f g h i j k";
        assert_eq!(name_terms(long).len(), MAX_INDEXED_WORDS);
    }

    #[test]
    fn any_word_finds_the_contact_once() {
        let q = NameQuery::new("Ivanov").unwrap();
        assert!(q.keeps("ivanov", "ivan ivanov"));
        let q = NameQuery::new("ivan").unwrap();
        // Both terms begin with `ivan`; only the smaller lists the contact.
        assert!(q.keeps("ivan ivanov", "ivan ivanov"));
        assert!(!q.keeps("ivanov", "ivan ivanov"));
        // Every word must begin a different word of the name, in any order.
        let q = NameQuery::new("petrova ан").unwrap();
        assert_eq!(q.walk(), "petrova");
        assert!(!q.matches("анна петрова"));
        let q = NameQuery::new("Петрова ан").unwrap();
        assert!(q.keeps("петрова", "анна петрова"));
        let q = NameQuery::new("ivan iv").unwrap();
        assert!(q.matches("ivan ivanov"));
        assert!(
            !q.matches("ivanka petrova"),
            "two query words need two name words"
        );
        assert!(NameQuery::new(" -- ").is_none());
    }
}
