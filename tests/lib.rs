//! The integration tests live in `integration/` (one binary); this library is empty.
