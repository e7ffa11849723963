//! Keyword rules as a pure decision: given a tenant's rules and one customer message (with what
//! is known about its conversation and contact), which rules fire, in which order, and why the
//! others that matched did not. No I/O and no clock: the service passes in the cooldowns it
//! keeps and acts on the answer (`service::automation`).
//!
//! Owns: checking a rule before it is saved (each bad field named), compiling a tenant's rules
//! once per change (one Aho-Corasick automaton over every word, contains, exact and starts-with
//! keyword through the shared normaliser; one `RegexSet`; the fuzzy keywords folded), and
//! evaluating a message. Must not: send, store, or read the time.

use std::collections::{BTreeSet, HashMap};

use regex::{RegexBuilder, RegexSet, RegexSetBuilder};
use switchboard_shared::automation::*;
use switchboard_shared::normalize::{normalize, Normalized};
use switchboard_shared::phrase::{Fit, PhraseSet};
use switchboard_shared::{PhoneNumberId, RuleId, ScheduleId};

/// A rule as the core needs it (the stored record's fields).
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    pub id: RuleId,
    pub name: String,
    pub matcher: RuleMatch,
    pub conditions: RuleConditions,
    pub actions: Vec<RuleAction>,
    pub numbers: Vec<PhoneNumberId>,
    pub priority: i32,
    pub stop: bool,
    pub cooldown_secs: u32,
    pub shadow: bool,
    pub enabled: bool,
}

/// Why a rule cannot be saved, with the field to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

fn error(field: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError {
        field: field.into(),
        message: message.into(),
    }
}

/// The default similarity of a fuzzy keyword.
pub const DEFAULT_THRESHOLD: f64 = 0.8;
/// The longest cooldown.
pub const MAX_COOLDOWN_SECS: u32 = 30 * 24 * 3600;
/// The longest automatic reply (WhatsApp's limit on a text).
pub const MAX_REPLY_CHARS: usize = 4096;

/// Checks what can be checked without the workspace's catalogue: names, keywords (each must fold
/// to something, each regex must compile within its size limit), thresholds, actions' shapes.
pub fn check_rule(input: &RuleInput) -> Result<(), RuleError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(error("name", "a name of 1 to 100 characters"));
    }
    let m = &input.matcher;
    if m.keywords.is_empty() || m.keywords.len() > MAX_KEYWORDS_PER_RULE {
        return Err(error(
            "match.keywords",
            format!("1 to {MAX_KEYWORDS_PER_RULE} keywords"),
        ));
    }
    for (i, k) in m.keywords.iter().enumerate() {
        let field = format!("match.keywords[{i}]");
        match m.mode {
            MatchMode::Regex => {
                if k.chars().count() > MAX_REGEX_CHARS {
                    return Err(error(
                        field,
                        format!("a pattern is at most {MAX_REGEX_CHARS} characters"),
                    ));
                }
                RegexBuilder::new(k)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| error(field, format!("not a valid pattern: {e}")))?;
            }
            _ => {
                PhraseSet::build([(0, k.as_str(), Fit::Contains)])
                    .map_err(|e| error(field, e.to_string()))?;
            }
        }
    }
    match (m.mode, m.threshold) {
        (MatchMode::Fuzzy, Some(t)) if !(0.5..=1.0).contains(&t) => {
            return Err(error("match.threshold", "between 0.5 and 1.0"))
        }
        (mode, Some(_)) if mode != MatchMode::Fuzzy => {
            return Err(error("match.threshold", "only for `fuzzy` keywords"))
        }
        _ => {}
    }
    if let Some(lang) = &input.conditions.language {
        if lang != "ru" && lang != "en" {
            return Err(error("conditions.language", "`ru` or `en`"));
        }
    }
    if input.conditions.schedule.is_some() && input.conditions.business_hours.is_none() {
        return Err(error(
            "conditions.schedule",
            "a schedule goes with `business_hours` (`inside` or `outside`)",
        ));
    }
    if input.actions.is_empty() || input.actions.len() > MAX_ACTIONS_PER_RULE {
        return Err(error(
            "actions",
            format!("1 to {MAX_ACTIONS_PER_RULE} actions"),
        ));
    }
    for (i, a) in input.actions.iter().enumerate() {
        let field = format!("actions[{i}]");
        match a {
            RuleAction::Reply { text } => {
                if switchboard_shared::text::is_blank(text) {
                    return Err(error(field, "a reply needs visible text"));
                }
                if text.chars().count() > MAX_REPLY_CHARS {
                    return Err(error(
                        field,
                        format!("a reply is at most {MAX_REPLY_CHARS} characters"),
                    ));
                }
            }
            RuleAction::ReplyInteractive(m) => {
                m.check().map_err(|e| {
                    error(format!("{field}.reply_interactive.{}", e.field), e.message)
                })?;
            }
            RuleAction::AddTags(tags) if tags.is_empty() => {
                return Err(error(field, "name at least one tag"))
            }
            RuleAction::Route { skill } => {
                let ok = !skill.is_empty()
                    && skill.len() <= 40
                    && skill
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    return Err(error(
                        field,
                        "a skill is 1 to 40 letters, digits, `-` or `_`",
                    ));
                }
            }
            _ => {}
        }
    }
    if input.cooldown_secs.is_some_and(|c| c > MAX_COOLDOWN_SECS) {
        return Err(error(
            "cooldown_secs",
            format!("at most {MAX_COOLDOWN_SECS} (30 days)"),
        ));
    }
    Ok(())
}

/// One customer message and what is known around it.
pub struct Incoming<'a> {
    pub text: &'a str,
    /// The number it arrived on (`None` in a test without one: number limits are not applied).
    pub number: Option<&'a PhoneNumberId>,
    /// Whether it is the customer's first message in the conversation (`None`: unknown, so
    /// rules with that condition do not fire).
    pub first_message: Option<bool>,
    pub contact_tags: &'a [String],
    /// Whether the business is open when the message arrived, by a schedule (`None`: the
    /// number's): `None` when there is no such schedule.
    pub open: &'a (dyn Fn(Option<&ScheduleId>) -> Option<bool> + Sync),
}

/// A rule that fires, and what matched.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub rule: usize,
    pub keyword: String,
    pub start: usize,
    pub end: usize,
}

/// The outcome for one message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// In the order they act (priority, then id); a stopping rule ends the list.
    pub fired: Vec<Firing>,
    /// Rules whose keyword matched but which did not fire, and why.
    pub skipped: Vec<(usize, String)>,
}

/// A tenant's enabled rules, compiled.
pub struct RuleSet {
    rules: Vec<RuleSpec>,
    /// Owner: an index into `phrase_refs`.
    phrases: Option<PhraseSet>,
    /// `(rule, keyword)` of each phrase.
    phrase_refs: Vec<(usize, usize)>,
    /// Every pattern at once, then the one that matched for its span.
    regexes: Option<RegexSet>,
    regex_each: Vec<regex::Regex>,
    regex_refs: Vec<(usize, usize)>,
    /// `(rule, keyword, the keyword's folded words)`.
    fuzzy: Vec<(usize, usize, Vec<String>)>,
}

impl RuleSet {
    /// Compiles the enabled rules, highest priority first. Rules are checked when saved, so an
    /// error here names a stored rule that no longer compiles.
    pub fn compile(mut rules: Vec<RuleSpec>) -> Result<Self, RuleError> {
        rules.retain(|r| r.enabled);
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        let mut phrase_refs = Vec::new();
        let mut phrases = Vec::new();
        let mut patterns = Vec::new();
        let mut regex_refs = Vec::new();
        let mut fuzzy = Vec::new();
        for (ri, rule) in rules.iter().enumerate() {
            for (ki, k) in rule.matcher.keywords.iter().enumerate() {
                match rule.matcher.mode {
                    MatchMode::Regex => {
                        patterns.push(k.clone());
                        regex_refs.push((ri, ki));
                    }
                    MatchMode::Fuzzy => {
                        let words: Vec<String> = folded_words(&normalize(k));
                        fuzzy.push((ri, ki, words));
                    }
                    mode => {
                        let fit = if mode == MatchMode::Contains {
                            Fit::Contains
                        } else {
                            Fit::Word
                        };
                        phrases.push((phrase_refs.len(), k.as_str(), fit));
                        phrase_refs.push((ri, ki));
                    }
                }
            }
        }
        let phrases = if phrases.is_empty() {
            None
        } else {
            Some(PhraseSet::build(phrases).map_err(|e| error("match.keywords", e.to_string()))?)
        };
        let regex_each = patterns
            .iter()
            .map(|p| {
                RegexBuilder::new(p)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| error("match.keywords", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let regexes = if patterns.is_empty() {
            None
        } else {
            Some(
                RegexSetBuilder::new(&patterns)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT * patterns.len().max(1))
                    .build()
                    .map_err(|e| error("match.keywords", e.to_string()))?,
            )
        };
        Ok(Self {
            rules,
            phrases,
            phrase_refs,
            regexes,
            regex_each,
            regex_refs,
            fuzzy,
        })
    }

    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }

    /// Which rules fire for `message`. `cooling(rule)` says whether a rule fired for this
    /// contact within its cooldown (the service keeps that state).
    pub fn evaluate(
        &self,
        message: &Incoming<'_>,
        cooling: impl Fn(&RuleSpec) -> bool,
    ) -> Evaluation {
        let mut matched: Vec<Firing> = self.matches(message.text).into_values().collect();
        // Rules are kept in the order they act, so their indices are that order.
        matched.sort_unstable_by_key(|f| f.rule);
        let mut out = Evaluation::default();
        let language = language_of(message.text);
        for hit in &matched {
            let (ri, rule) = (hit.rule, &self.rules[hit.rule]);
            if let Some(reason) = self.unmet(rule, message, language) {
                out.skipped.push((ri, reason));
                continue;
            }
            if !rule.shadow && cooling(rule) {
                out.skipped.push((
                    ri,
                    format!(
                        "fired for this contact within its cooldown ({} s)",
                        rule.cooldown_secs
                    ),
                ));
                continue;
            }
            out.fired.push(hit.clone());
            if rule.stop && !rule.shadow {
                break;
            }
        }
        out
    }

    /// A reason a matched rule does not apply, if any.
    fn unmet(&self, rule: &RuleSpec, m: &Incoming<'_>, language: Option<&str>) -> Option<String> {
        if m.number
            .is_some_and(|n| !rule.numbers.is_empty() && !rule.numbers.contains(n))
        {
            return Some("limited to other numbers".into());
        }
        let c = &rule.conditions;
        if let Some(first) = c.first_message {
            if m.first_message != Some(first) {
                return Some(if first {
                    "only for a customer's first message".into()
                } else {
                    "not for a customer's first message".into()
                });
            }
        }
        if !c.has_tags.is_empty() {
            let tags: BTreeSet<String> = m.contact_tags.iter().map(|t| t.to_lowercase()).collect();
            if !c.has_tags.iter().any(|t| tags.contains(&t.to_lowercase())) {
                return Some(format!("the contact has none of {:?}", c.has_tags));
            }
        }
        if let Some(wanted) = &c.language {
            if language != Some(wanted.as_str()) {
                return Some(format!("the message is not in `{wanted}`"));
            }
        }
        if let Some(wanted) = c.business_hours {
            match ((m.open)(c.schedule.as_ref()), &c.schedule) {
                (None, Some(id)) => return Some(format!("no schedule `{id}`")),
                (None, None) => {
                    return Some("no schedule covers the number, and there is no default".into())
                }
                (Some(open), _) if open != (wanted == BusinessHours::Inside) => {
                    return Some(if open {
                        "only outside business hours, and the business is open".into()
                    } else {
                        "only inside business hours, and the business is closed".into()
                    })
                }
                _ => {}
            }
        }
        None
    }

    /// The first keyword match of each rule, by rule.
    fn matches(&self, text: &str) -> HashMap<usize, Firing> {
        let mut found: HashMap<usize, Firing> = HashMap::new();
        let mut keep = |ri: usize, rules: &[RuleSpec], ki: usize, start: usize, end: usize| {
            found.entry(ri).or_insert_with(|| Firing {
                rule: ri,
                keyword: rules[ri].matcher.keywords[ki].clone(),
                start,
                end,
            });
        };
        let folded = normalize(text);
        if let Some(set) = &self.phrases {
            let all = folded.units().len();
            set.find(&folded, |f| {
                let (ri, ki) = self.phrase_refs[f.owner];
                let fits = match self.rules[ri].matcher.mode {
                    MatchMode::Exact => f.from == 0 && f.to == all,
                    MatchMode::StartsWith => f.from == 0,
                    _ => true,
                };
                if fits {
                    let (start, end) = folded.span(f.from, f.to);
                    keep(ri, &self.rules, ki, start, end);
                }
            });
        }
        if let Some(set) = &self.regexes {
            for i in set.matches(text).iter() {
                let (ri, ki) = self.regex_refs[i];
                let (start, end) = self.regex_each[i]
                    .find(text)
                    .map_or((0, 0), |m| (m.start(), m.end()));
                keep(ri, &self.rules, ki, start, end);
            }
        }
        if !self.fuzzy.is_empty() {
            let words = folded_word_spans(&folded);
            for (ri, ki, wanted) in &self.fuzzy {
                let threshold = self.rules[*ri]
                    .matcher
                    .threshold
                    .unwrap_or(DEFAULT_THRESHOLD);
                let n = wanted.len();
                if n == 0 || words.len() < n {
                    continue;
                }
                let target = wanted.join(" ");
                let target_len = target.chars().count();
                let (first, last) = (target.chars().next(), target.chars().last());
                for window in words.windows(n) {
                    // Normalised Levenshtein is at most 1 - |length difference| / longer length:
                    // most windows are ruled out by their length alone, without the distance.
                    let len = window.iter().map(|w| w.3).sum::<usize>() + n - 1;
                    let longer = len.max(target_len).max(1);
                    if 1.0 - (len.abs_diff(target_len) as f64) / (longer as f64) < threshold {
                        continue;
                    }
                    // A typo keeps the word's first or last letter: a window changed at both
                    // ends is not tried (it saves the distance on nearly every window).
                    let starts = window[0].0.chars().next() == first;
                    let ends = window[n - 1].0.chars().last() == last;
                    if !starts && !ends {
                        continue;
                    }
                    let similar = if n == 1 {
                        strsim::normalized_levenshtein(&window[0].0, &target)
                    } else {
                        let candidate: Vec<&str> = window.iter().map(|w| w.0.as_str()).collect();
                        strsim::normalized_levenshtein(&candidate.join(" "), &target)
                    };
                    if similar >= threshold {
                        keep(*ri, &self.rules, *ki, window[0].1, window[n - 1].2);
                        break;
                    }
                }
            }
        }
        found
    }
}

/// The words of a folded text (separated by hard boundaries), with their original byte spans
/// and their length in characters.
fn folded_word_spans(n: &Normalized) -> Vec<(String, usize, usize, usize)> {
    use switchboard_shared::normalize::Boundary;
    let mut words: Vec<(String, usize, usize, usize)> = Vec::new();
    for u in n.units() {
        match words.last_mut() {
            Some(w) if u.before != Boundary::Hard => {
                w.0.push(u.ch);
                w.2 = u.end as usize;
                w.3 += 1;
            }
            _ => words.push((u.ch.to_string(), u.start as usize, u.end as usize, 1)),
        }
    }
    words
}

fn folded_words(n: &Normalized) -> Vec<String> {
    folded_word_spans(n).into_iter().map(|w| w.0).collect()
}

/// `ru` when most letters are Cyrillic, `en` when most are Latin, else unknown.
pub fn language_of(text: &str) -> Option<&'static str> {
    let (mut cyr, mut lat) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        match switchboard_shared::normalize::script_of(c) {
            switchboard_shared::normalize::CYRILLIC => cyr += 1,
            switchboard_shared::normalize::LATIN => lat += 1,
            _ => {}
        }
    }
    if cyr == 0 && lat == 0 {
        None
    } else if cyr >= lat {
        Some("ru")
    } else {
        Some("en")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, mode: MatchMode, keywords: &[&str], priority: i32) -> RuleSpec {
        RuleSpec {
            id: RuleId::new(id),
            name: id.into(),
            matcher: RuleMatch {
                mode,
                keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
                threshold: None,
            },
            conditions: RuleConditions::default(),
            actions: vec![RuleAction::Reply { text: "ok".into() }],
            numbers: vec![],
            priority,
            stop: true,
            cooldown_secs: 3600,
            shadow: false,
            enabled: true,
        }
    }

    fn fired(set: &RuleSet, text: &str) -> Vec<String> {
        let number = PhoneNumberId::new("1");
        let m = Incoming {
            text,
            number: Some(&number),
            first_message: Some(false),
            contact_tags: &[],
            open: &|_| Some(true),
        };
        set.evaluate(&m, |_| false)
            .fired
            .iter()
            .map(|f| set.rules()[f.rule].id.to_string())
            .collect()
    }

    #[test]
    fn each_mode_matches_what_it_says() {
        let set = RuleSet::compile(vec![
            rule("price", MatchMode::Word, &["цена", "price"], 0),
            rule("hello", MatchMode::Exact, &["hello"], 0),
            rule("order", MatchMode::StartsWith, &["order"], 0),
            rule("ship", MatchMode::Contains, &["ship"], 0),
            rule("track", MatchMode::Regex, &[r"\b[A-Z]{2}\d{9}RU\b"], 0),
            rule("deliv", MatchMode::Fuzzy, &["delivery"], 0),
        ])
        .unwrap();
        assert_eq!(fired(&set, "Какая ЦЕНА?"), ["price"]);
        assert_eq!(fired(&set, "what's the pr1ce"), ["price"]);
        assert!(fired(&set, "priceless").is_empty());
        assert_eq!(fired(&set, "Hello!"), ["hello"]);
        assert!(fired(&set, "hello there").is_empty());
        assert_eq!(fired(&set, "Order 15 please"), ["order"]);
        assert!(fired(&set, "my order").is_empty());
        assert_eq!(fired(&set, "shipping?"), ["ship"]);
        assert_eq!(fired(&set, "where is rb123456789ru"), ["track"]);
        assert_eq!(fired(&set, "delivry time?"), ["deliv"]);
    }

    #[test]
    fn priority_stop_shadow_conditions_and_cooldowns_decide_who_fires() {
        let mut high = rule("a_high", MatchMode::Word, &["price"], 10);
        high.stop = false;
        let low = rule("b_low", MatchMode::Word, &["price"], 1);
        let lowest = rule("c_lowest", MatchMode::Word, &["price"], 0);
        let mut shadow = rule("d_shadow", MatchMode::Word, &["price"], 20);
        shadow.shadow = true;
        let mut tagged = rule("e_vip", MatchMode::Word, &["price"], 30);
        tagged.conditions.has_tags = vec!["VIP".into()];
        let mut ru = rule("f_ru", MatchMode::Word, &["price"], 40);
        ru.conditions.language = Some("ru".into());
        let set = RuleSet::compile(vec![low, lowest, high, shadow, tagged, ru]).unwrap();
        // Shadow counts and does not stop; `a_high` goes on; `b_low` stops before `c_lowest`.
        assert_eq!(fired(&set, "price?"), ["d_shadow", "a_high", "b_low"]);
        let number = PhoneNumberId::new("1");
        let tags = ["vip".to_owned()];
        let m = Incoming {
            text: "price?",
            number: Some(&number),
            first_message: None,
            contact_tags: &tags,
            open: &|_| Some(true),
        };
        let e = set.evaluate(&m, |r| r.id.as_str() == "a_high");
        let ids: Vec<&str> = e
            .fired
            .iter()
            .map(|f| set.rules()[f.rule].id.as_str())
            .collect();
        assert_eq!(ids, ["e_vip"]);
        let reasons: Vec<&str> = e.skipped.iter().map(|s| s.1.as_str()).collect();
        assert!(reasons[0].contains("`ru`"), "{reasons:?}");
    }

    #[test]
    fn business_hours_conditions_go_by_the_schedule_asked() {
        let mut night = rule("night", MatchMode::Word, &["price"], 0);
        night.conditions.business_hours = Some(BusinessHours::Outside);
        let mut day = rule("day", MatchMode::Word, &["price"], 0);
        day.conditions.business_hours = Some(BusinessHours::Inside);
        day.conditions.schedule = Some(ScheduleId::new("sc_shop"));
        day.stop = false;
        night.stop = false;
        let set = RuleSet::compile(vec![night, day]).unwrap();
        let fire = |open: &(dyn Fn(Option<&ScheduleId>) -> Option<bool> + Sync)| {
            let m = Incoming {
                text: "price",
                number: None,
                first_message: None,
                contact_tags: &[],
                open,
            };
            let e = set.evaluate(&m, |_| false);
            let fired: Vec<String> = e
                .fired
                .iter()
                .map(|f| set.rules()[f.rule].id.to_string())
                .collect();
            let skipped: Vec<String> = e.skipped.iter().map(|s| s.1.clone()).collect();
            (fired, skipped)
        };
        // The number's schedule is closed, the shop's open: both fire.
        let (fired, _) = fire(&|s| Some(s.is_some()));
        assert_eq!(fired, ["day", "night"]);
        // Everything closed: only the night rule.
        let (fired, skipped) = fire(&|_| Some(false));
        assert_eq!(fired, ["night"]);
        assert!(skipped[0].contains("closed"), "{skipped:?}");
        // No schedule at all: neither, each saying why.
        let (fired, skipped) = fire(&|_| None);
        assert!(fired.is_empty());
        assert!(skipped.iter().any(|s| s.contains("no schedule `sc_shop`")));
        assert!(skipped.iter().any(|s| s.contains("no default")));
    }

    #[test]
    fn bad_rules_name_their_field() {
        let ok = RuleInput {
            name: "Prices".into(),
            matcher: RuleMatch {
                mode: MatchMode::Word,
                keywords: vec!["price".into()],
                threshold: None,
            },
            actions: vec![RuleAction::Reply {
                text: "From 10 €".into(),
            }],
            ..Default::default()
        };
        assert_eq!(check_rule(&ok), Ok(()));
        let field = |input: RuleInput| check_rule(&input).unwrap_err().field;
        let mut bad = ok.clone();
        bad.matcher.mode = MatchMode::Regex;
        bad.matcher.keywords = vec!["(".into()];
        assert_eq!(field(bad.clone()), "match.keywords[0]");
        bad.matcher.keywords = vec!["a{1000}{1000}".into()];
        assert_eq!(field(bad), "match.keywords[0]");
        let mut bad = ok.clone();
        bad.matcher.threshold = Some(0.9);
        assert_eq!(field(bad), "match.threshold");
        let mut bad = ok.clone();
        bad.actions = vec![RuleAction::Reply { text: " ".into() }];
        assert_eq!(field(bad), "actions[0]");
        let mut bad = ok.clone();
        bad.conditions.language = Some("de".into());
        assert_eq!(field(bad), "conditions.language");
        let mut bad = ok;
        bad.conditions.schedule = Some(ScheduleId::new("sc_1"));
        assert_eq!(field(bad), "conditions.schedule");
    }
}
