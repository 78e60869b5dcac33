//! Interned strings (step names, error codes): each distinct string is stored once.

use rustc_hash::FxHashMap;

#[derive(Debug, Default)]
pub(crate) struct Interner {
    strings: Vec<Box<str>>,
    /// The number of each string, made when first needed: strings read back from the
    /// index cache are mostly only read (a batch's are numbered in the history's).
    ids: Option<FxHashMap<Box<str>, u32>>,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        let strings = &self.strings;
        let ids = self.ids.get_or_insert_with(|| {
            let mut ids = FxHashMap::default();
            for (i, s) in strings.iter().enumerate() {
                ids.entry(s.clone()).or_insert(i as u32);
            }
            ids
        });
        if let Some(&id) = ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s.into());
        ids.insert(s.into(), id);
        id
    }

    /// The strings given, numbered in their order (read back from the index cache).
    pub fn from_strings(strings: Vec<Box<str>>) -> Interner {
        Interner { strings, ids: None }
    }

    pub fn get(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }

    /// All strings, by id.
    pub fn strings(&self) -> &[Box<str>] {
        &self.strings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_read_back_keep_their_numbers_and_new_ones_follow() {
        let mut read = Interner::from_strings(vec!["a".into(), "b".into(), "a".into()]);
        assert_eq!(read.intern("b"), 1);
        assert_eq!(read.intern("a"), 0, "the first of equal strings");
        assert_eq!(read.intern("c"), 3);
        assert_eq!((read.get(3), read.strings().len()), ("c", 4));
    }
}
