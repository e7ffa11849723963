//! Reply buttons and lists: the interactive messages an agent, a rule or a bot flow sends, with
//! WhatsApp's limits checked before anything is queued (docs/reference: up to 3 buttons with
//! unique titles of at most 20 characters; a list of at most 10 rows in at most 10 sections).

use serde::{Deserialize, Serialize};

/// The longest body of a message with buttons.
pub const MAX_BUTTONS_BODY: usize = 1024;
/// The longest body of a list message.
pub const MAX_LIST_BODY: usize = 4096;
pub const MAX_BUTTONS: usize = 3;
pub const MAX_BUTTON_TITLE: usize = 20;
pub const MAX_BUTTON_ID: usize = 256;
pub const MAX_ROWS: usize = 10;
pub const MAX_SECTIONS: usize = 10;
pub const MAX_ROW_TITLE: usize = 24;
pub const MAX_ROW_DESCRIPTION: usize = 72;
pub const MAX_ROW_ID: usize = 200;
pub const MAX_FOOTER: usize = 60;

/// One reply button.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Button {
    /// What comes back when the customer taps it.
    pub id: String,
    pub title: String,
}

/// One row of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A titled group of rows (a title is needed when there are several sections).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

/// A list: a button that opens the rows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct List {
    /// The label of the button that opens the list.
    pub button: String,
    pub sections: Vec<Section>,
}

/// A message with reply buttons or a list (one of the two).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct InteractiveInput {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<List>,
}

/// What is wrong, and where (relative to the message: `buttons[1].title`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InteractiveError {
    pub field: String,
    pub message: String,
}

fn fail(field: impl Into<String>, message: impl Into<String>) -> InteractiveError {
    InteractiveError {
        field: field.into(),
        message: message.into(),
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<(), InteractiveError> {
    if crate::text::is_blank(value) {
        return Err(fail(field, "needs visible text"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(fail(
            field,
            format!("at most {max} characters (WhatsApp's limit); this is {n}"),
        ));
    }
    Ok(())
}

impl InteractiveInput {
    /// Checks WhatsApp's limits; the error names the field.
    pub fn check(&self) -> Result<(), InteractiveError> {
        if let Some(footer) = &self.footer {
            text("footer", footer, MAX_FOOTER)?;
        }
        match (&self.buttons[..], &self.list) {
            ([], None) => Err(fail("buttons", "give `buttons` (1 to 3) or a `list`")),
            ([_, ..], Some(_)) => Err(fail("list", "either `buttons` or a `list`, not both")),
            (buttons, None) => {
                text("body", &self.body, MAX_BUTTONS_BODY)?;
                if buttons.len() > MAX_BUTTONS {
                    return Err(fail(
                        "buttons",
                        format!("at most {MAX_BUTTONS} reply buttons; use a list for more"),
                    ));
                }
                for (i, b) in buttons.iter().enumerate() {
                    text(&format!("buttons[{i}].id"), &b.id, MAX_BUTTON_ID)?;
                    text(&format!("buttons[{i}].title"), &b.title, MAX_BUTTON_TITLE)?;
                    if let Some(j) = buttons[..i]
                        .iter()
                        .position(|o| o.title.trim().eq_ignore_ascii_case(b.title.trim()))
                    {
                        return Err(fail(
                            format!("buttons[{i}].title"),
                            format!("the same title as buttons[{j}]; titles are unique"),
                        ));
                    }
                    if let Some(j) = buttons[..i].iter().position(|o| o.id == b.id) {
                        return Err(fail(
                            format!("buttons[{i}].id"),
                            format!("the same id as buttons[{j}]"),
                        ));
                    }
                }
                Ok(())
            }
            ([], Some(list)) => {
                text("body", &self.body, MAX_LIST_BODY)?;
                text("list.button", &list.button, MAX_BUTTON_TITLE)?;
                if list.sections.is_empty() || list.sections.len() > MAX_SECTIONS {
                    return Err(fail(
                        "list.sections",
                        format!("1 to {MAX_SECTIONS} sections"),
                    ));
                }
                let rows: usize = list.sections.iter().map(|s| s.rows.len()).sum();
                if rows == 0 || rows > MAX_ROWS {
                    return Err(fail(
                        "list.sections",
                        format!("1 to {MAX_ROWS} rows in all; this has {rows}"),
                    ));
                }
                let mut ids: Vec<&str> = Vec::new();
                for (s, section) in list.sections.iter().enumerate() {
                    let field = format!("list.sections[{s}]");
                    match &section.title {
                        Some(t) => text(&format!("{field}.title"), t, MAX_ROW_TITLE)?,
                        None if list.sections.len() > 1 => {
                            return Err(fail(
                                format!("{field}.title"),
                                "sections need titles when there are several",
                            ))
                        }
                        None => {}
                    }
                    for (r, row) in section.rows.iter().enumerate() {
                        let field = format!("{field}.rows[{r}]");
                        text(&format!("{field}.id"), &row.id, MAX_ROW_ID)?;
                        text(&format!("{field}.title"), &row.title, MAX_ROW_TITLE)?;
                        if let Some(d) = &row.description {
                            text(&format!("{field}.description"), d, MAX_ROW_DESCRIPTION)?;
                        }
                        if ids.contains(&row.id.as_str()) {
                            return Err(fail(format!("{field}.id"), "row ids are unique"));
                        }
                        ids.push(&row.id);
                    }
                }
                Ok(())
            }
        }
    }

    /// Every choice as `(id, title)`, buttons or rows, in order.
    pub fn choices(&self) -> Vec<(&str, &str)> {
        match &self.list {
            Some(list) => list
                .sections
                .iter()
                .flat_map(|s| s.rows.iter().map(|r| (r.id.as_str(), r.title.as_str())))
                .collect(),
            None => self
                .buttons
                .iter()
                .map(|b| (b.id.as_str(), b.title.as_str()))
                .collect(),
        }
    }

    /// The texts a person reads, for the word filter: `(field, text)`.
    pub fn texts(&self) -> Vec<(String, &str)> {
        let mut out = vec![("body".to_owned(), self.body.as_str())];
        if let Some(f) = &self.footer {
            out.push(("footer".to_owned(), f.as_str()));
        }
        for (i, b) in self.buttons.iter().enumerate() {
            out.push((format!("buttons[{i}].title"), b.title.as_str()));
        }
        if let Some(list) = &self.list {
            out.push(("list.button".to_owned(), list.button.as_str()));
            for (s, section) in list.sections.iter().enumerate() {
                if let Some(t) = &section.title {
                    out.push((format!("list.sections[{s}].title"), t.as_str()));
                }
                for (r, row) in section.rows.iter().enumerate() {
                    out.push((
                        format!("list.sections[{s}].rows[{r}].title"),
                        row.title.as_str(),
                    ));
                    if let Some(d) = &row.description {
                        out.push((
                            format!("list.sections[{s}].rows[{r}].description"),
                            d.as_str(),
                        ));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buttons(titles: &[&str]) -> InteractiveInput {
        InteractiveInput {
            body: "Choose".into(),
            buttons: titles
                .iter()
                .enumerate()
                .map(|(i, t)| Button {
                    id: format!("b{i}"),
                    title: (*t).into(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn whatsapps_limits_are_checked_with_the_field_named() {
        assert_eq!(buttons(&["Track", "Price"]).check(), Ok(()));
        let field = |m: InteractiveInput| m.check().unwrap_err().field;
        assert_eq!(field(buttons(&["a", "b", "c", "d"])), "buttons");
        assert_eq!(
            field(buttons(&["a title far too long!!"])),
            "buttons[0].title"
        );
        assert_eq!(field(buttons(&["Yes", "yes"])), "buttons[1].title");
        assert_eq!(field(buttons(&[])), "buttons");
        let rows = |n: usize| Section {
            title: Some("S".into()),
            rows: (0..n)
                .map(|i| Row {
                    id: format!("r{i}"),
                    title: format!("Row {i}"),
                    description: None,
                })
                .collect(),
        };
        let list = |sections: Vec<Section>| InteractiveInput {
            body: "Pick".into(),
            list: Some(List {
                button: "Options".into(),
                sections,
            }),
            ..Default::default()
        };
        assert_eq!(list(vec![rows(10)]).check(), Ok(()));
        assert_eq!(field(list(vec![rows(6), rows(5)])), "list.sections");
        let mut long = rows(1);
        long.rows[0].description = Some("d".repeat(73));
        assert_eq!(
            field(list(vec![long])),
            "list.sections[0].rows[0].description"
        );
    }
}
