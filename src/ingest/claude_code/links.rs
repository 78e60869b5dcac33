//! Ids, parents and aliases of one line's steps. A line knows only its own `uuid` and
//! `parentUuid`; what ties lines together beyond that is declared as aliases the index
//! resolves once the whole run is read (see [`Alias`]):
//! - `msg:ID`: the model call of message ID. Claude Code writes one API message over
//!   several lines (one content block each, chained by `parentUuid`); the first line of
//!   the message names its model call (its text or thinking, else what the message
//!   answers), and every tool call of the message hangs under it: the calls of one model
//!   call are siblings.
//! - a line's `uuid`, when its first step is a tool call known by its `tool_use` id.
//! - `agent:ID` and `prompt:KEY`: the tool call that launched a sub-agent, named by the
//!   call's result or progress lines (agent id) and by the prompt it gave.

use std::borrow::Cow;

use super::blocks::Link;
use crate::ingest::Alias;

/// What a line says about where it sits.
pub struct LineLinks<'a> {
    pub uuid: Option<&'a str>,
    pub parent: Option<String>,
    /// The API message id of an assistant line.
    pub message: Option<&'a str>,
}

/// Ids and parents of a line's steps, one per link, and the aliases the line declares.
pub struct Linked {
    pub ids: Vec<Option<String>>,
    pub parents: Vec<Option<String>>,
    pub aliases: Vec<Alias<'static>>,
}

pub fn link_blocks(line: &LineLinks, links: &[Link]) -> Linked {
    let mut ids: Vec<Option<String>> = Vec::with_capacity(links.len());
    for (k, link) in links.iter().enumerate() {
        ids.push(match (line.uuid, k, link) {
            // A tool call is known by its tool_use id: its results name it so.
            (_, _, Link::Call(Some(call))) => Some(call.clone()),
            (None, _, _) => None,
            (Some(u), 0, _) => Some(u.to_string()),
            (Some(u), _, _) => Some(format!("{u}#{k}")),
        });
    }
    let mut aliases = Vec::new();
    if let (Some(u), Some(Some(first))) = (line.uuid, ids.first()) {
        if first != u {
            aliases.push(alias(u.to_string(), first.clone(), false));
        }
    }
    // The model call the message's tool calls hang under, named for all its lines: its
    // text or thinking, else (weakly: a line of the message logged out of order must
    // not win) what the message follows.
    let head = match links.first() {
        Some(Link::ModelCall) => ids[0].clone().map(|id| (id, false)),
        _ => line.parent.clone().map(|p| (p, true)),
    };
    let message_head = match (line.message, head) {
        (Some(m), Some((head, weak))) => {
            let name = message_name(m);
            aliases.push(alias(name.clone(), head, weak));
            Some(name)
        }
        _ => None,
    };
    let mut parents = Vec::with_capacity(links.len());
    let mut model_call: Option<String> = None;
    for (k, link) in links.iter().enumerate() {
        let parent = match link {
            Link::Call(_) => message_head
                .clone()
                .or_else(|| model_call.clone())
                .or_else(|| line.parent.clone()),
            Link::Answers(Some(call)) => Some(call.clone()),
            _ if k == 0 => line.parent.clone(),
            _ => ids[k - 1].clone().or_else(|| line.parent.clone()),
        };
        if matches!(link, Link::ModelCall) && model_call.is_none() {
            model_call = ids[k].clone();
        }
        parents.push(parent);
    }
    Linked {
        ids,
        parents,
        aliases,
    }
}

pub fn alias(name: String, id: String, weak: bool) -> Alias<'static> {
    Alias {
        name: Cow::Owned(name),
        id: Cow::Owned(id),
        weak,
    }
}

fn message_name(message: &str) -> String {
    format!("msg:{message}")
}

/// The name of the call that launched sub-agent `agent`.
pub fn agent_name(agent: &str) -> String {
    format!("agent:{agent}")
}

/// The name of the call that gave a sub-agent this prompt (whitespace at the ends aside).
pub fn prompt_name(prompt: &str) -> String {
    format!("prompt:{:016x}", crate::ingest::text_key(prompt.trim()))
}
