use trawl_model::Level;

/// Records per level, indexed by [`Level`] in its order (TRACE … FATAL).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelCounts(pub [u64; 6]);

impl LevelCounts {
    pub fn add(&mut self, level: Level) {
        let slot = &mut self.0[level as usize];
        *slot = slot.saturating_add(1);
    }

    pub fn merge(&mut self, other: &LevelCounts) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine = mine.saturating_add(theirs);
        }
    }

    pub fn get(&self, level: Level) -> u64 {
        self.0[level as usize]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |sum, n| sum.saturating_add(*n))
    }

    /// ERROR and FATAL records.
    pub fn errors(&self) -> u64 {
        self.get(Level::Error).saturating_add(self.get(Level::Fatal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_level() {
        let mut c = LevelCounts::default();
        for l in [Level::Info, Level::Info, Level::Error, Level::Fatal, Level::Trace] {
            c.add(l);
        }
        let mut d = c;
        d.merge(&c);
        assert_eq!((d.get(Level::Info), d.errors(), d.total()), (4, 4, 10));
        assert_eq!(Level::ALL.iter().map(|l| c.get(*l)).collect::<Vec<_>>(), vec![1, 0, 2, 0, 1, 1]);
    }
}
