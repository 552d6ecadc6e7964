//! The public lists, read by the node's `/v1/credit/lists/{list}`: who is on the
//! serious-dishonesty, watch or red list (since when, by which authority and decision,
//! until when), and the repair decisions that are overdue. Each list is the id list
//! `credit/lists/{name}` filtered at the reading time (a record past its maximum, or a
//! red-list subject that no longer qualifies, is not shown), then paged.

use jialing_core::{Hash, Uscc};
use serde::{Deserialize, Serialize};

use super::CreditParams;
use super::grading;
use super::punishment::{ReadFn, decode};
use super::red_list::{self, RedEntry};
use super::store;
use super::types::{DishonestyRecord, Subject};
use super::views;
use crate::error::ContractError;

/// Most items in one page.
pub const MAX_PAGE: usize = 200;

/// A public list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicList {
    /// The serious-dishonesty list (黑名单, joint punishment).
    Serious,
    /// The watch list (重点关注名单).
    Watch,
    /// The red list (守信激励名单).
    Red,
    /// Accepted repair applications past their decision deadline, undecided.
    Overdue,
}

impl PublicList {
    /// Parses a list name from a URL.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "serious" => Some(PublicList::Serious),
            "watch" => Some(PublicList::Watch),
            "red" => Some(PublicList::Red),
            "overdue" => Some(PublicList::Overdue),
            _ => None,
        }
    }

    fn key_name(self) -> &'static str {
        match self {
            PublicList::Serious => "serious",
            PublicList::Watch => "watch",
            PublicList::Red => red_list::RED,
            PublicList::Overdue => "pending_decisions",
        }
    }
}

/// One entry of a public list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListItem {
    /// The subject (USCC, or a person's salted hash); `None` for an overdue decision
    /// about a person (restricted).
    pub subject: Option<String>,
    /// The record, for the serious and watch lists and overdue decisions.
    pub record_id: Option<String>,
    /// The authority that entered it (for overdue decisions: the deciding authority).
    pub authority: Uscc,
    /// SHA-256 of the decision document.
    pub decision_document: Hash,
    /// On the list since (for overdue decisions: accepted at).
    pub since_ms: u64,
    /// On the list until at the latest (the record's maximum; for overdue decisions the
    /// deadline that passed); `None` for the red list (until it no longer qualifies).
    pub until_ms: Option<u64>,
    /// Reasons given at entry.
    pub reasons: String,
}

/// One page of a public list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    /// Which list.
    pub list: PublicList,
    /// The time the list was read at (block time of the tip).
    pub as_of_ms: u64,
    /// Entries on the list now.
    pub total: usize,
    /// First entry of this page (0-based).
    pub offset: usize,
    /// The entries.
    pub items: Vec<ListItem>,
}

fn read_record(read: &ReadFn<'_>, id: &str) -> Result<Option<DishonestyRecord>, ContractError> {
    let key = store::record_key(id);
    read(&key)?.map(|b| decode(&key, &b)).transpose()
}

fn record_item(r: &DishonestyRecord, list: PublicList, now_ms: u64) -> Option<ListItem> {
    let entry = match list {
        PublicList::Serious if views::joint_punishment(r, now_ms) => r.serious_list.as_ref()?,
        PublicList::Watch if views::is_published(r, now_ms) => r.watch_list.as_ref()?,
        _ => return None,
    };
    Some(ListItem {
        subject: Some(r.subject.id()),
        record_id: Some(r.id.clone()),
        authority: entry.by.clone(),
        decision_document: r.decision_document,
        since_ms: entry.entered_ms,
        until_ms: Some(r.window.max_until_ms),
        reasons: entry.reasons.clone(),
    })
}

fn overdue_item(r: &DishonestyRecord, now_ms: u64) -> Option<ListItem> {
    if !views::is_overdue(r, now_ms) {
        return None;
    }
    let a = r.application.as_ref()?;
    Some(ListItem {
        subject: match &r.subject {
            Subject::Org(u) => Some(u.to_string()),
            Subject::Person(_) => None,
        },
        record_id: Some(r.id.clone()),
        authority: r.authority.clone(),
        decision_document: r.decision_document,
        since_ms: a.accepted_ms.unwrap_or(a.applied_ms),
        until_ms: a.deadline_ms,
        reasons: String::new(),
    })
}

/// Every entry of `list` at `now_ms`, in order of entry.
pub fn entries(
    read: &ReadFn<'_>,
    params: &CreditParams,
    list: PublicList,
    now_ms: u64,
) -> Result<Vec<ListItem>, ContractError> {
    let key = store::list_key(list.key_name());
    let ids: Vec<String> = match read(&key)? {
        Some(b) => decode(&key, &b)?,
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for id in ids {
        let item = match list {
            PublicList::Serious | PublicList::Watch => {
                read_record(read, &id)?.and_then(|r| record_item(&r, list, now_ms))
            }
            PublicList::Overdue => read_record(read, &id)?.and_then(|r| overdue_item(&r, now_ms)),
            PublicList::Red => {
                let Ok(u) = Uscc::parse(&id) else { continue };
                let key = red_list::red_key(&u);
                let Some(b) = read(&key)? else { continue };
                let e: RedEntry = decode(&key, &b)?;
                let g = grading::grade_with(read, params, &id, now_ms)?;
                (e.exited.is_none() && red_list::still_eligible(&g)).then(|| ListItem {
                    subject: Some(id.clone()),
                    record_id: None,
                    authority: e.by.clone(),
                    decision_document: e.decision_document,
                    since_ms: e.entered_ms,
                    until_ms: None,
                    reasons: e.reasons.clone(),
                })
            }
        };
        out.extend(item);
    }
    Ok(out)
}

/// One page of `list` at `now_ms`: `limit` entries (at most [`MAX_PAGE`]) from `offset`.
pub fn page(
    read: &ReadFn<'_>,
    params: &CreditParams,
    list: PublicList,
    now_ms: u64,
    offset: usize,
    limit: usize,
) -> Result<ListPage, ContractError> {
    let all = entries(read, params, list, now_ms)?;
    let total = all.len();
    let items = all.into_iter().skip(offset).take(limit.min(MAX_PAGE)).collect();
    Ok(ListPage { list, as_of_ms: now_ms, total, offset, items })
}
