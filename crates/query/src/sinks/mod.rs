//! The sinks a query's first pipe picks (see `pipeline.rs`), one per file; the top-N sink of a
//! plain search is `search::TopN`, the stats sink `stats::StatsSink`.

pub(crate) mod patterns;
pub(crate) mod sort;
pub(crate) mod top;
pub(crate) mod traces;
