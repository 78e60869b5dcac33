//! Interned strings (step names, error codes): each distinct string is stored once.

use rustc_hash::FxHashMap;

#[derive(Debug, Default)]
pub(crate) struct Interner {
    strings: Vec<Box<str>>,
    ids: FxHashMap<Box<str>, u32>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    /// The strings given, numbered in their order (read back from the index cache).
    pub fn from_strings(strings: Vec<Box<str>>) -> Interner {
        let mut ids = FxHashMap::default();
        for (i, s) in strings.iter().enumerate() {
            ids.entry(s.clone()).or_insert(i as u32);
        }
        Interner { strings, ids }
    }

    pub fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    /// All strings, by id.
    pub fn strings(&self) -> &[Box<str>] {
        &self.strings
    }
}
