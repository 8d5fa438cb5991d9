//! Placeholder until this bench lands (replaced in the same change).
fn main() {}
