//! Turns lines of run files into model events. One adapter per format; each is a pure
//! function from bytes to typed fields, and unusable lines become reasons, never panics.

pub mod native;
pub mod scan;
